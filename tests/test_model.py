"""The GPT of scratchllm.model: shapes, initialisation, parameter counts, and
parity with Hugging Face's GPT-2 and Llama built from small random configs."""

import math

import pytest
import torch

from scratchllm import model as M
from scratchllm.config import GPT2_SIZES, GPTConfig
from scratchllm.model import GPT

V = 256  # a small vocabulary keeps the tests fast

SMALL = dict(block_size=32, vocab_size=V, n_layer=2, n_head=4, n_embd=64)
MODERN = dict(norm="rmsnorm", mlp="swiglu", position="rope", bias=False, tie_embeddings=False)
VARIANTS = {"gpt2": {}, "modern": MODERN, "modern-tied": {**MODERN, "tie_embeddings": True}}


def make_model(device, seed=0, **fields):
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**SMALL, **fields})).to(device).eval()


def random_ids(device, B=3, T=32, vocab=V, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (B, T), generator=g).to(device)


@pytest.fixture(params=list(VARIANTS))
def variant(request):
    return VARIANTS[request.param]


# --- shapes, loss, causality ----------------------------------------------------


def test_shapes(device, variant):
    model = make_model(device, **variant)
    idx = random_ids(device, B=2, T=17)
    logits, loss = model(idx)
    assert logits.shape == (2, 17, V) and loss is None
    logits, loss = model(idx, targets=idx)
    assert logits.shape == (2, 17, V) and loss.shape == ()


def test_loss_at_init_is_log_vocab(device, variant):
    # At init the logits are nearly equal, so the model guesses uniformly.
    model = make_model(device, **variant)
    idx = random_ids(device)
    _, loss = model(idx, targets=random_ids(device, seed=2))
    assert abs(loss.item() - math.log(V)) < 0.3


def test_ignore_index(device):
    model = make_model(device)
    idx, targets = random_ids(device), random_ids(device, seed=2)
    logits, _ = model(idx)
    masked = targets.clone()
    masked[:, :10] = -1
    _, loss = model(idx, targets=masked)
    expected = torch.nn.functional.cross_entropy(
        logits[:, 10:].reshape(-1, V), targets[:, 10:].reshape(-1)
    )
    torch.testing.assert_close(loss, expected)


def test_future_tokens_do_not_change_earlier_logits(device, variant):
    model = make_model(device, **variant)
    idx = random_ids(device)
    changed = idx.clone()
    changed[:, 20:] = (changed[:, 20:] + 1) % V
    a, b = model(idx)[0], model(changed)[0]
    assert (a[:, :20] - b[:, :20]).abs().max().item() < 1e-5
    assert not torch.allclose(a[:, 20:], b[:, 20:])


def test_too_long_a_sequence_is_an_error(device, variant):
    model = make_model(device, **variant)
    with pytest.raises(ValueError, match="block_size"):
        model(random_ids(device, T=33))


# --- the two forms of attention --------------------------------------------------


def test_teaching_and_fast_attention_agree(device, variant):
    fast = make_model(device, attention="fast", **variant)
    teaching = make_model(device, seed=123, attention="teaching", **variant)
    assert isinstance(fast.transformer.h[0].attn, M.FastCausalSelfAttention)
    assert isinstance(teaching.transformer.h[0].attn, M.CausalSelfAttention)
    # Same parameter names and shapes: the weights move over as they are.
    teaching.load_state_dict(fast.state_dict(), strict=True)
    idx = random_ids(device)
    diff = (fast(idx)[0] - teaching(idx)[0]).abs().max().item()
    assert diff < 1e-5


def test_fast_attention_is_the_default():
    assert GPTConfig().attention == "fast"


# --- the building blocks ----------------------------------------------------------


def test_gelu_is_the_tanh_approximation():
    x = torch.linspace(-6, 6, 101)
    formula = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    torch.testing.assert_close(M.GELU()(x), formula)
    assert (M.GELU()(x) - torch.nn.functional.gelu(x)).abs().max() > 1e-5  # not exact GELU


def test_layernorm_with_and_without_bias():
    torch.manual_seed(0)
    x = torch.randn(4, 16) * 3 + 1
    ln = M.LayerNorm(16, bias=True, eps=1e-5)
    with torch.no_grad():  # a gain and a shift that a forgetful forward would drop
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-1, 1)
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * ln.weight + ln.bias
    torch.testing.assert_close(ln(x), expected)
    no_bias = M.LayerNorm(16, bias=False)
    with torch.no_grad():
        no_bias.weight.copy_(ln.weight)
    torch.testing.assert_close(no_bias(x), expected - ln.bias)
    assert M.LayerNorm(16, bias=False).bias is None
    assert [n for n, _ in M.LayerNorm(16, bias=False).named_parameters()] == ["weight"]


def test_rmsnorm_formula():
    torch.manual_seed(0)
    x = torch.randn(4, 16) * 3 + 1
    norm = M.RMSNorm(16, eps=1e-5)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    expected = x / torch.sqrt((x**2).mean(-1, keepdim=True) + 1e-5) * norm.weight
    torch.testing.assert_close(norm(x), expected)
    # bfloat16 in, bfloat16 out (the arithmetic is done in float32)
    assert norm.to(torch.bfloat16)(x.bfloat16()).dtype == torch.bfloat16


def test_swiglu_formula_and_width():
    cfg = GPTConfig(**SMALL, mlp="swiglu", bias=False)
    torch.manual_seed(0)
    mlp = M.SwiGLU(cfg)
    x = torch.randn(2, 5, 64)
    # Written out: silu(a) = a * sigmoid(a), and each Linear is x @ W^T.
    gate = x @ mlp.gate_proj.weight.T
    up = x @ mlp.up_proj.weight.T
    expected = (gate * torch.sigmoid(gate) * up) @ mlp.down_proj.weight.T
    torch.testing.assert_close(mlp(x), expected)
    assert mlp.gate_proj.out_features == M.swiglu_hidden(64) == 256
    assert M.swiglu_hidden(768) == 2048
    assert M.swiglu_hidden(4096) == 11008  # Llama 2 7B
    assert M.SwiGLU(GPTConfig(**SMALL, n_hidden=172)).up_proj.out_features == 172


def silence(sublayer):
    """Zero the projection that writes a sublayer's output: it then adds 0."""
    with torch.no_grad():
        sublayer.c_proj.weight.zero_()
        sublayer.c_proj.bias.zero_()


def test_block_is_pre_norm_residual():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 64)
    block = M.Block(GPTConfig(**SMALL)).eval()
    silence(block.attn)
    silence(block.mlp)
    # Nothing is normalised on the residual path: with both sublayers silent
    # the block passes x through untouched (a post-norm block would not).
    assert torch.equal(block(x), x)
    for sublayer in ("attn", "mlp"):
        torch.manual_seed(0)
        block = M.Block(GPTConfig(**SMALL)).eval()
        silence(getattr(block, "mlp" if sublayer == "attn" else "attn"))
        # The sublayer reads a normalised copy of x, so scaling x scales the
        # residual stream but leaves what the sublayer adds as it was.
        added = block(x) - x
        torch.testing.assert_close(block(4 * x) - 4 * x, added, atol=1e-4, rtol=1e-4)
        assert added.abs().max() > 1e-2  # it does add something


def test_modern_variant_has_its_parts(device):
    model = make_model(device, **MODERN)
    names = dict(model.named_parameters())
    assert "transformer.wpe.weight" not in names  # positions come from RoPE
    assert not any(n.endswith("bias") for n in names)
    assert isinstance(model.transformer.ln_f, M.RMSNorm)
    assert isinstance(model.transformer.h[0].mlp, M.SwiGLU)
    rope = model.transformer.h[0].attn.rotary
    assert rope is not None and rope is model.transformer.h[1].attn.rotary  # shared
    assert not any("cos" in k or "sin" in k for k in model.state_dict())


def test_config_rejects_unknown_choices():
    with pytest.raises(ValueError, match="norm"):
        GPTConfig(norm="batchnorm")
    with pytest.raises(ValueError, match="attention"):
        GPTConfig(attention="flash")
    with pytest.raises(ValueError, match="gpt3"):
        GPTConfig.gpt2("gpt3")


# --- initialisation, tying, determinism, dropout ---------------------------------


def test_gpt2_initialisation():
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=64, vocab_size=1000, n_layer=8, n_head=4, n_embd=256))
    h = model.transformer.h
    for w in (
        h[0].attn.c_attn.weight,
        h[3].mlp.c_fc.weight,
        model.transformer.wte.weight,
        model.transformer.wpe.weight,
    ):
        assert abs(w.std().item() - 0.02) < 0.001
    for w in (h[0].attn.c_proj.weight, h[5].mlp.c_proj.weight):  # residual projections
        assert abs(w.std().item() - 0.02 / math.sqrt(2 * 8)) < 0.0003
    assert (h[0].attn.c_attn.bias == 0).all() and (h[0].ln_1.weight == 1).all()


def test_swiglu_down_proj_gets_the_residual_scaling():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**{**SMALL, "n_layer": 8, "n_embd": 256}, **MODERN))
    assert abs(model.transformer.h[2].mlp.down_proj.weight.std().item() - 0.005) < 0.0003
    assert abs(model.transformer.h[2].mlp.up_proj.weight.std().item() - 0.02) < 0.001


def test_weight_tying(device):
    model = make_model(device)
    wte, head = model.transformer.wte.weight, model.lm_head.weight
    assert wte is head and wte.data_ptr() == head.data_ptr()
    assert model.num_params(non_embedding=False) == len(
        torch.nn.utils.parameters_to_vector(model.parameters())
    )
    untied = make_model(device, tie_embeddings=False)
    assert untied.transformer.wte.weight.data_ptr() != untied.lm_head.weight.data_ptr()
    assert untied.num_params(non_embedding=False) == model.num_params(non_embedding=False) + V * 64


def test_determinism(device, variant):
    a, b = make_model(device, **variant), make_model(device, **variant)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    idx = random_ids(device)
    assert torch.equal(a(idx)[0], b(idx)[0])


@pytest.mark.parametrize("attention", ["fast", "teaching"])
def test_dropout_only_in_train_mode(device, attention):
    model = make_model(device, dropout=0.2, attention=attention)
    idx = random_ids(device)
    assert torch.equal(model(idx)[0], model(idx)[0])
    model.train()
    assert not torch.equal(model(idx)[0], model(idx)[0])
    model.eval()
    assert torch.equal(model(idx)[0], make_model(device, attention=attention)(idx)[0])


# --- parameter counts and FLOPs -----------------------------------------------------


def meta_gpt2(size):
    with torch.device("meta"):  # shapes only: no memory, no time
        return GPT(GPTConfig.gpt2(size))


def test_gpt2_small_parameter_count():
    model = meta_gpt2("gpt2")
    assert model.num_params(non_embedding=False) == 124_439_808  # nanoGPT's count
    # less wte (50257 x 768) and wpe (1024 x 768)
    assert model.num_params() == 124_439_808 - 38_597_376 - 786_432 == 85_056_000


@pytest.mark.parametrize(
    "size, published_millions",
    [("gpt2", 124), ("gpt2-medium", 355), ("gpt2-large", 774), ("gpt2-xl", 1558)],
)
def test_gpt2_sizes(size, published_millions):
    n = meta_gpt2(size).num_params(non_embedding=False)
    L, _, C = GPT2_SIZES[size]
    assert n == 50257 * C + 1024 * C + L * (12 * C * C + 13 * C) + 2 * C
    assert round(n / 1e6) == published_millions
    if size == "gpt2-xl":
        assert math.floor(n / 1e8) / 10 == 1.5  # "1.5B" as OpenAI announced it


def test_flops_per_token():
    model = meta_gpt2("gpt2")
    N = 124_439_808 - 786_432  # nanoGPT's N: everything but wpe (wte multiplies as lm_head)
    assert model.flops_per_token() == 6 * N + 12 * 12 * 12 * 64 * 1024 == 855_166_464
    assert model.flops_per_token(T=256) == 6 * N + 12 * 12 * 12 * 64 * 256
    # untied: lm_head is counted once, the input embedding not at all
    with torch.device("meta"):
        untied = GPT(GPTConfig.gpt2("gpt2", tie_embeddings=False))
    assert untied.flops_per_token() == model.flops_per_token()


# --- parity with Hugging Face transformers ---------------------------------------


@pytest.fixture(scope="module")
def transformers():
    import transformers  # a dev dependency: parity is a test, never skipped

    return transformers


def scramble(hf_model, seed=0):
    """Random values for every parameter, norms and biases included (HF
    initialises those to 1 and 0, which would hide a forgotten copy)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in hf_model.parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.1 * noise if p.dim() == 1 else 0.05 * noise)
    return hf_model.eval()


# Values other than GPTConfig's defaults (eps 1e-5, RoPE base 1e4, MLP width
# 4 * n_embd or swiglu_hidden), so that a loader that forgets to copy one of
# them gives other logits.
GPT2_FIELDS = dict(layer_norm_epsilon=1e-6, n_inner=3 * 64)
LLAMA_FIELDS = dict(rms_norm_eps=1e-6, rope_theta=5e5, intermediate_size=172)


def hf_gpt2_config(transformers, **fields):
    small = dict(n_layer=2, n_head=4, n_embd=64, n_positions=64, vocab_size=V)
    no_dropout = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    tokens = dict(bos_token_id=0, eos_token_id=0)
    return transformers.GPT2Config(**{**small, **no_dropout, **tokens, **GPT2_FIELDS, **fields})


def hf_llama_config(transformers, **fields):
    small = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=V)
    layout = dict(num_key_value_heads=4, max_position_embeddings=64, attention_bias=False)
    untied = dict(tie_word_embeddings=False)
    return transformers.LlamaConfig(**{**small, **layout, **untied, **LLAMA_FIELDS, **fields})


def hf_gpt2(transformers, **fields):
    torch.manual_seed(0)
    return scramble(transformers.GPT2LMHeadModel(hf_gpt2_config(transformers, **fields)))


def hf_llama(transformers, **fields):
    torch.manual_seed(0)
    return scramble(transformers.LlamaForCausalLM(hf_llama_config(transformers, **fields)))


def max_logit_diff(hf_model, ours, idx):
    with torch.no_grad():
        return (hf_model(idx).logits - ours(idx)[0]).abs().max().item()


@pytest.mark.parametrize("attention", ["fast", "teaching"])
def test_parity_with_hf_gpt2(transformers, device, attention):
    from scratchllm.hf import from_hf_gpt2

    hf = hf_gpt2(transformers, attn_implementation="eager").to(device)
    ours = from_hf_gpt2(hf, attention=attention).to(device).eval()
    assert ours.config.block_size == 64 and ours.config.tie_embeddings
    assert (ours.config.norm_eps, ours.config.n_hidden) == (1e-6, 192)
    assert ours.num_params(non_embedding=False) == sum(p.numel() for p in hf.parameters())
    idx = random_ids(device, B=2, T=64)
    assert max_logit_diff(hf, ours, idx) < 1e-5


@pytest.mark.parametrize("attention", ["fast", "teaching"])
def test_parity_with_hf_llama(transformers, device, attention):
    from scratchllm.hf import from_hf_llama

    hf = hf_llama(transformers, attn_implementation="eager").to(device)
    ours = from_hf_llama(hf, attention=attention).to(device).eval()
    cfg = ours.config
    assert (cfg.norm, cfg.mlp, cfg.position) == ("rmsnorm", "swiglu", "rope")
    assert (cfg.bias, cfg.tie_embeddings, cfg.n_hidden) == (False, False, 172)
    assert (cfg.norm_eps, cfg.rope_base) == (1e-6, 5e5)
    assert ours.num_params(non_embedding=False) == sum(p.numel() for p in hf.parameters())
    idx = random_ids(device, B=2, T=64)
    assert max_logit_diff(hf, ours, idx) < 1e-5


def test_parity_with_hf_llama_tied(transformers, device):
    from scratchllm.hf import from_hf_llama

    hf = hf_llama(transformers, attn_implementation="eager")
    hf.config.tie_word_embeddings = True
    hf.tie_weights()
    hf.to(device)
    ours = from_hf_llama(hf).to(device).eval()
    assert ours.lm_head.weight is ours.transformer.wte.weight
    assert max_logit_diff(hf, ours, random_ids(device, B=2, T=40)) < 1e-5


@pytest.mark.parametrize(
    "fields, problem",
    [
        (dict(num_key_value_heads=2), "grouped-query"),
        (dict(head_dim=8), "head_dim"),
        (dict(attention_bias=True), "biases"),
        (dict(mlp_bias=True), "biases"),
        (dict(hidden_act="gelu"), "activation 'gelu'"),
        (dict(rope_parameters=dict(rope_type="linear", factor=2.0, rope_theta=1e4)), "rope type"),
    ],
)
def test_llama_that_we_cannot_copy_is_refused(transformers, fields, problem):
    from scratchllm.hf import from_hf_llama

    cfg = hf_llama_config(transformers, **{"num_hidden_layers": 1, **fields})
    with pytest.raises(NotImplementedError, match=problem):
        from_hf_llama(transformers.LlamaForCausalLM(cfg))


@pytest.mark.parametrize(
    "fields, problem",
    [
        (dict(activation_function="relu"), "activation 'relu'"),
        (dict(scale_attn_weights=False), "attention scale"),
        (dict(scale_attn_by_inverse_layer_idx=True), "attention scale"),
    ],
)
def test_gpt2_that_we_cannot_copy_is_refused(transformers, fields, problem):
    from scratchllm.hf import from_hf_gpt2

    cfg = hf_gpt2_config(transformers, **{"n_layer": 1, **fields})
    with pytest.raises(NotImplementedError, match=problem):
        from_hf_gpt2(transformers.GPT2LMHeadModel(cfg))


# === generate: sampling new tokens ===================================================


def greedy(model, idx, n):
    """The argmax continuation, one token at a time, written out by hand."""
    for _ in range(n):
        logits, _ = model(idx[:, -model.config.block_size :])
        idx = torch.cat((idx, logits[:, -1].argmax(dim=-1, keepdim=True)), dim=1)
    return idx


def test_generate_appends_max_new_tokens(device, variant):
    model = make_model(device, **variant)
    idx = random_ids(device, B=2, T=5)
    out = model.generate(idx, max_new_tokens=7)
    assert out.shape == (2, 12) and out.dtype == idx.dtype
    assert torch.equal(out[:, :5], idx)
    assert out.min() >= 0 and out.max() < V
    assert not out.requires_grad
    assert torch.equal(model.generate(idx, max_new_tokens=0), idx)


def test_generate_is_repeatable_with_a_seeded_generator(device):
    model = make_model(device)
    idx = random_ids(device, B=2, T=4)

    def sample(seed):
        g = torch.Generator(device=device).manual_seed(seed)
        return model.generate(idx, max_new_tokens=20, temperature=1.5, generator=g)

    assert torch.equal(sample(0), sample(0))
    assert not torch.equal(sample(0), sample(1))


def test_generate_top_k_1_is_greedy(device, variant):
    model = make_model(device, **variant)
    idx = random_ids(device, B=3, T=6)
    g = torch.Generator(device=device).manual_seed(0)
    out = model.generate(idx, max_new_tokens=10, top_k=1, temperature=2.0, generator=g)
    assert torch.equal(out, greedy(model, idx, 10))


def test_generate_top_k_samples_only_the_k_most_likely(device):
    model = make_model(device)
    idx = random_ids(device, B=1, T=4).expand(200, 4)  # one context, 200 draws
    g = torch.Generator(device=device).manual_seed(0)
    drawn = model.generate(idx, max_new_tokens=1, temperature=5.0, top_k=3, generator=g)[:, -1]
    top3 = model(idx[:1])[0][0, -1].topk(3).indices
    assert set(drawn.tolist()) <= set(top3.tolist())
    assert len(set(drawn.tolist())) > 1  # hot enough that more than one comes up


def test_generate_crops_the_context_to_block_size(device, variant):
    model = make_model(device, **variant)  # block_size 32
    idx = random_ids(device, B=2, T=30)
    out = model.generate(idx, max_new_tokens=12, top_k=1)
    assert out.shape == (2, 42)
    assert torch.equal(out, greedy(model, idx, 12))
    # the last token depends on the last 32 only: a different prefix beyond them is ignored
    changed = out.clone()
    changed[:, :9] = (changed[:, :9] + 1) % V
    next_of = model.generate(changed[:, :-1], max_new_tokens=1, top_k=1)[:, -1]
    assert torch.equal(next_of, out[:, -1])
