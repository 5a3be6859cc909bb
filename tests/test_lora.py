"""LoRA of scratchllm.lora: a LoRALinear is its base layer at the start and
base(x) + scaling * B A x after, with dropout on the low-rank path alone;
merging (in place, or for export) changes no output and unmerging undoes it;
add_lora freezes the rest and wraps exactly the GPT's linear layers; an
adapter file gives back the same model and a bad one is refused by name; and
on our whole GPT, add_lora and Hugging Face's peft give the same outputs,
gradients, trained weights and merged weights."""

import copy

import pytest
import torch
import torch.nn as nn

from scratchllm import lora
from scratchllm.config import GPTConfig
from scratchllm.lora import (
    LoRALinear,
    add_lora,
    load_adapter,
    lora_state_dict,
    merge_lora,
    read_adapter,
    save_adapter,
    trainable_parameters,
)
from scratchllm.model import GPT

TINY = dict(block_size=16, vocab_size=64, n_layer=2, n_head=2, n_embd=16)
MODERN = dict(norm="rmsnorm", mlp="swiglu", position="rope", bias=False, tie_embeddings=False)

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_gpt(seed=0, **fields):
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **fields})).eval()


def randomise(layer, seed=1):
    """Random A and B: with B = 0 the correction would vanish."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_A.copy_(torch.randn(layer.lora_A.shape, generator=g))
        layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g))


def randomise_all(model, seed=1):
    for i, module in enumerate(m for m in model.modules() if isinstance(m, LoRALinear)):
        randomise(module, seed + i)


def ids(B=3, T=16, seed=2):
    return torch.randint(
        0, TINY["vocab_size"], (B, T), generator=torch.Generator().manual_seed(seed)
    )


# --- one layer ----------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_lora_linear_starts_as_its_base_layer(bias):
    torch.manual_seed(0)
    base = nn.Linear(12, 7, bias=bias)
    layer = LoRALinear(base, rank=3, alpha=6)
    assert layer.lora_A.shape == (3, 12) and layer.lora_B.shape == (7, 3)
    assert torch.count_nonzero(layer.lora_B) == 0 and torch.count_nonzero(layer.lora_A) > 0
    x = torch.randn(5, 4, 12)
    torch.testing.assert_close(layer(x), base(x), rtol=0, atol=0)


def test_a_starts_as_nn_linear_would_start_its_weight():
    """Kaiming-uniform with a = sqrt(5), as nn.Linear and peft: U(-1/sqrt(in), 1/sqrt(in))."""
    torch.manual_seed(0)
    A = LoRALinear(nn.Linear(400, 7), rank=50).lora_A.detach()
    bound = 1 / 400**0.5
    assert A.abs().max() <= bound and A.abs().max() > 0.99 * bound
    torch.testing.assert_close(A.std(), torch.tensor(bound / 3**0.5), rtol=0.05, atol=0)


def test_lora_linear_freezes_its_base_and_trains_a_and_b():
    base = nn.Linear(12, 7)
    layer = LoRALinear(base, rank=3)
    trainable = {name for name, p in layer.named_parameters() if p.requires_grad}
    assert trainable == {"lora_A", "lora_B"}
    assert not base.weight.requires_grad and not base.bias.requires_grad


def test_lora_linear_adds_the_scaled_low_rank_product():
    torch.manual_seed(0)
    base = nn.Linear(12, 7)
    layer = LoRALinear(base, rank=3, alpha=12)
    assert layer.scaling == 4.0  # alpha / rank
    randomise(layer)
    x = torch.randn(5, 12)
    A, B = layer.lora_A.detach(), layer.lora_B.detach()
    expected = base(x) + 4.0 * x @ A.T @ B.T
    torch.testing.assert_close(layer(x), expected)
    assert not torch.allclose(layer(x), base(x))  # the correction is there


def test_lora_linear_trains_only_b_on_the_first_backward():
    """B = 0: the gradient reaches B, and through B = 0 nothing reaches A."""
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(6, 4), rank=2)
    layer(torch.randn(3, 6)).square().sum().backward()
    assert torch.count_nonzero(layer.lora_A.grad) == 0
    assert torch.count_nonzero(layer.lora_B.grad) > 0
    assert layer.base.weight.grad is None


@pytest.mark.parametrize("bias", [True, False])
def test_merge_lora_leaves_one_linear_computing_the_same_function(bias):
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(12, 7, bias=bias), rank=4, alpha=8)
    randomise(layer)
    x = torch.randn(5, 12)
    with torch.no_grad():
        expected = layer(x)
        W = layer.base.weight + 2.0 * layer.lora_B @ layer.lora_A
    merged = merge_lora(nn.Sequential(layer))[0]
    assert type(merged) is nn.Linear and (merged.bias is None) == (not bias)
    with torch.no_grad():
        torch.testing.assert_close(merged(x), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(merged.weight.detach(), W)


def test_dropout_acts_on_the_low_rank_path_alone():
    torch.manual_seed(0)
    base = nn.Linear(12, 7)
    layer = LoRALinear(base, rank=3, alpha=6, dropout=0.5).train()
    x = torch.randn(5, 12)
    with torch.no_grad():
        # B = 0: the low-rank path adds 0 whatever dropout does to its input, and the
        # frozen path sees x itself (dropout on x would change base(x)).
        torch.testing.assert_close(layer(x), base(x), rtol=0, atol=0)
        randomise(layer)
        A, B = layer.lora_A, layer.lora_B
        exact = base(x) + 2.0 * x @ A.T @ B.T
        torch.testing.assert_close(layer.eval()(x), exact)  # eval: no dropout
        layer.train()
        torch.manual_seed(4)
        dropped = layer(x)
        torch.manual_seed(4)  # the same mask, applied by hand to the low-rank input
        expected = base(x) + 2.0 * nn.functional.dropout(x, 0.5) @ A.T @ B.T
    torch.testing.assert_close(dropped, expected)
    assert not torch.allclose(dropped, exact)


def test_merge_and_unmerge_in_place_round_trip():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(12, 7), rank=4, alpha=8, dropout=0.5).eval()
    randomise(layer)
    x = torch.randn(5, 12)
    W = layer.base.weight.clone()
    with torch.no_grad():
        before, delta = layer(x), layer.delta()
    torch.testing.assert_close(delta, 2.0 * layer.lora_B.detach() @ layer.lora_A.detach())
    layer.merge()
    assert layer.merged
    torch.testing.assert_close(layer.base.weight, W + delta, rtol=0, atol=0)
    with torch.no_grad():
        # Merged, the forward is the base layer alone: no low-rank path, no dropout.
        assert torch.equal(layer.train()(x), layer.base(x))
        torch.testing.assert_close(layer.eval()(x), before, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="merged already"):
        layer.merge()
    torch.testing.assert_close(layer.base.weight, W + delta, rtol=0, atol=0)  # added once
    layer.unmerge()
    assert not layer.merged
    # W + d - d is W up to the float32 rounding of W + d (|W + d| < 30 here).
    torch.testing.assert_close(layer.base.weight, W, rtol=0, atol=1e-5)
    assert not torch.equal(layer.base.weight, W + delta)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), before, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="not merged"):
        layer.unmerge()
    assert not layer.base.weight.requires_grad  # still frozen


def test_merge_lora_merges_a_layer_merged_in_place_once():
    torch.manual_seed(0)
    model = nn.Sequential(LoRALinear(nn.Linear(6, 4), rank=2))
    randomise(model[0])
    x = torch.randn(3, 6)
    with torch.no_grad():
        before = model(x)
    model[0].merge()
    merge_lora(model)
    assert type(model[0]) is nn.Linear
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)


def test_lora_rank_below_one_is_refused():
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 4), rank=0)


# --- a whole GPT --------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, layers",
    [
        ({}, ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")),
        (MODERN, ("attn.c_attn", "attn.c_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")),
    ],
    ids=["gpt2", "swiglu"],
)
def test_add_lora_wraps_every_linear_layer_of_each_block(fields, layers):
    model = tiny_gpt(**fields)
    replaced = add_lora(model, rank=2, alpha=4)
    expected = [f"transformer.h.{i}.{name}" for i in range(TINY["n_layer"]) for name in layers]
    assert sorted(replaced) == sorted(expected)
    wrapped = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    assert sorted(wrapped) == sorted(expected)
    # lm_head is no target, and neither is any layer inside a LoRALinear.
    assert type(model.lm_head) is nn.Linear
    assert all(type(m.base) is nn.Linear for m in model.modules() if isinstance(m, LoRALinear))


def test_add_lora_freezes_all_but_a_and_b_and_counts_rank_times_in_plus_out():
    model = tiny_gpt()
    rank = 3
    replaced = add_lora(model, rank=rank)
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.endswith((".lora_A", ".lora_B")) for name in trainable)
    assert len(trainable) == 2 * len(replaced)
    expected = 0
    for name in replaced:
        base = model.get_submodule(name).base
        expected += rank * (base.in_features + base.out_features)
    assert sum(p.numel() for p in trainable.values()) == expected
    assert trainable_parameters(model) == expected
    C = TINY["n_embd"]
    # Per block: c_attn C -> 3C, attention's c_proj C -> C, c_fc C -> 4C, c_proj 4C -> C.
    per_block = rank * ((C + 3 * C) + (C + C) + (C + 4 * C) + (4 * C + C))
    assert expected == TINY["n_layer"] * per_block


def test_trainable_parameters_counts_a_tied_matrix_once():
    model = tiny_gpt()  # wte and lm_head share one matrix
    total = sum(t.numel() for t in model.state_dict().values())
    assert trainable_parameters(model) == total - TINY["vocab_size"] * TINY["n_embd"]
    model.transformer.requires_grad_(False)
    assert trainable_parameters(model) == 0  # lm_head's weight is wte's


@pytest.mark.parametrize("training", [True, False])
def test_add_lora_passes_dropout_and_keeps_the_mode(training):
    model = tiny_gpt().train(training)
    add_lora(model, rank=2, dropout=0.1)
    layers = [m for m in model.modules() if isinstance(m, LoRALinear)]
    assert layers and all(m.dropout.p == 0.1 for m in layers)
    # A new module would be in training mode: in an eval model, its dropout would act.
    assert all(m.training == training for m in model.modules())


def test_add_lora_leaves_the_model_output_unchanged_at_the_start():
    model = tiny_gpt()
    before = model(ids())[0]
    add_lora(model, rank=2)
    torch.testing.assert_close(model(ids())[0], before, rtol=0, atol=0)


def test_add_lora_takes_other_targets():
    model = tiny_gpt()
    replaced = add_lora(model, rank=2, targets=("c_fc",))
    assert replaced == [f"transformer.h.{i}.mlp.c_fc" for i in range(TINY["n_layer"])]


@pytest.mark.parametrize("fields", [{}, MODERN], ids=["gpt2", "modern"])
def test_merge_lora_leaves_plain_linears_and_the_same_outputs(fields):
    model = tiny_gpt(**fields)
    add_lora(model, rank=2, alpha=4)
    randomise_all(model)
    x = ids()
    with torch.no_grad():
        adapted = model(x)[0]
    assert not torch.allclose(adapted, tiny_gpt(**fields)(x)[0])  # the corrections count
    merged = merge_lora(model)
    assert merged is model
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], adapted, rtol=1e-4, atol=1e-4)
    # The merged model's state dict loads into a plain GPT of the same config.
    plain = GPT(model.config)
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(x)[0], adapted, rtol=1e-4, atol=1e-4)


def test_targets_name_the_linear_layers_of_both_mlps():
    assert set(lora.TARGETS) == {"c_attn", "c_proj", "c_fc", "gate_proj", "up_proj", "down_proj"}


# --- Hugging Face's peft --------------------------------------------------------


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(10, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        return self.out(self.c_attn(x))


def test_lora_linear_agrees_with_peft():
    import peft

    torch.manual_seed(0)
    model = Tiny()
    base = nn.Linear(10, 6)
    base.load_state_dict(model.c_attn.state_dict())
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], lora_dropout=0.0)
    wrapped = peft.get_peft_model(model, config)
    layer = wrapped.base_model.model.c_attn
    A, B = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    assert A.shape == (4, 10) and B.shape == (6, 4)
    assert torch.count_nonzero(B) == 0  # peft too starts at B = 0
    with torch.no_grad():
        B.copy_(torch.randn(B.shape, generator=torch.Generator().manual_seed(3)))
    ours = LoRALinear(base, rank=4, alpha=8)
    assert ours.scaling == layer.scaling["default"]
    with torch.no_grad():
        ours.lora_A.copy_(A)
        ours.lora_B.copy_(B)
    x = torch.randn(7, 10)
    with torch.no_grad():
        theirs = layer(x)
        torch.testing.assert_close(ours(x), theirs, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(theirs, base(x), atol=1e-3)  # not trivially equal
        ours.merge()
        torch.testing.assert_close(ours(x), theirs, rtol=1e-5, atol=1e-5)
    # The same parameters train: A and B of the targeted layer, nothing else.
    theirs_trained = {n for n, p in wrapped.named_parameters() if p.requires_grad}
    assert theirs_trained == {
        "base_model.model.c_attn.lora_A.default.weight",
        "base_model.model.c_attn.lora_B.default.weight",
    }
    ours_model = Tiny()
    assert add_lora(ours_model, rank=4, alpha=8, targets=("c_attn",)) == ["c_attn"]
    assert {n for n, p in ours_model.named_parameters() if p.requires_grad} == {
        "c_attn.lora_A",
        "c_attn.lora_B",
    }


# --- adapter files ----------------------------------------------------------------


def adapted(fields=(), seed=0, **settings):
    """A tiny GPT with LoRA of random A and B (B = 0 would hide a lost B)."""
    model = tiny_gpt(seed, **dict(fields))
    add_lora(model, **{**dict(rank=3, alpha=5, dropout=0.1), **settings})
    randomise_all(model)
    return model


@pytest.mark.parametrize("fields", [{}, MODERN], ids=["gpt2", "modern"])
def test_an_adapter_file_gives_back_the_same_model(tmp_path, fields):
    model = adapted(fields)
    path = tmp_path / "adapter.pt"
    save_adapter(path, model)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    adapter = read_adapter(path)
    assert (adapter["rank"], adapter["alpha"], adapter["dropout"]) == (3, 5, 0.1)
    assert set(adapter["targets"]) <= set(lora.TARGETS)
    # A and B alone, none of the frozen weights.
    assert adapter["state"].keys() == lora_state_dict(model).keys()
    assert all(name.endswith((".lora_A", ".lora_B")) for name in adapter["state"])
    plain = tiny_gpt(**fields)
    x = ids()
    with torch.no_grad():
        before = plain(x)[0]
    again = load_adapter(plain, path)
    assert again is plain
    with torch.no_grad():
        after, expected = again(x)[0], model(x)[0]
    assert not torch.allclose(after, before)  # the adapter changed the model
    torch.testing.assert_close(after, expected, rtol=0, atol=0)
    for name, t in lora_state_dict(model).items():
        assert torch.equal(lora_state_dict(again)[name], t)
    layers = [m for m in again.modules() if isinstance(m, LoRALinear)]
    assert all((m.rank, m.alpha, m.dropout.p) == (3, 5, 0.1) for m in layers)
    trained = {n for n, p in again.named_parameters() if p.requires_grad}
    assert trained == {n for n, p in model.named_parameters() if p.requires_grad}
    # And the loaded adapter merges for inference like any other.
    with torch.no_grad():
        torch.testing.assert_close(merge_lora(again)(x)[0], expected, rtol=1e-4, atol=1e-4)


def test_an_adapter_of_some_targets_loads_onto_those_alone(tmp_path):
    model = adapted(targets=("c_fc",))
    save_adapter(tmp_path / "a.pt", model)
    assert read_adapter(tmp_path / "a.pt")["targets"] == ["c_fc"]
    again = load_adapter(tiny_gpt(), tmp_path / "a.pt")
    wrapped = [n for n, m in again.named_modules() if isinstance(m, LoRALinear)]
    assert wrapped == [f"transformer.h.{i}.mlp.c_fc" for i in range(TINY["n_layer"])]
    with torch.no_grad():
        torch.testing.assert_close(again(ids())[0], model(ids())[0], rtol=0, atol=0)


def unchanged(model):
    return not any(isinstance(m, LoRALinear) for m in model.modules())


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: p.write_text("hello\n"), "is not a LoRA adapter"),
        (lambda p: p.write_bytes(b""), "is not a LoRA adapter"),
        # A checkpoint of a whole model is a torch file, but no adapter.
        (lambda p: torch.save(tiny_gpt().state_dict(), p), r"is not a LoRA adapter \(a dict"),
        (lambda p: torch.save([1, 2], p), r"is not a LoRA adapter \(a dict"),
    ],
    ids=["text", "empty", "checkpoint", "list"],
)
def test_a_file_that_is_no_adapter_is_an_error_naming_it(tmp_path, write, message):
    path = tmp_path / "bad-file.pt"
    write(path)
    model = tiny_gpt()
    with pytest.raises(ValueError, match=f"bad-file.pt {message}"):
        load_adapter(model, path)
    assert unchanged(model)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(n_embd=32), r"c_attn\.lora_A is \(3, 16\) in the adapter and \(3, 32\) in the model"),
        (dict(n_layer=3), r"h\.2\.attn\.c_attn\.lora_A is absent in the adapter"),
        (MODERN, r"mlp\.c_fc\.lora_A is \(3, 16\) in the adapter and absent in the model"),
    ],
    ids=["wider", "deeper", "swiglu"],
)
def test_an_adapter_of_another_model_is_an_error_naming_it(tmp_path, fields, message):
    path = tmp_path / "other.pt"
    save_adapter(path, adapted())  # a GPT of TINY's shape
    model = tiny_gpt(**fields)
    with pytest.raises(ValueError, match=f"other.pt does not fit this model: .*{message}"):
        load_adapter(model, path)
    assert unchanged(model)  # refused before add_lora


def test_an_adapter_does_not_load_onto_a_model_with_lora(tmp_path):
    save_adapter(tmp_path / "a.pt", adapted())
    with pytest.raises(ValueError, match="a.pt: the model has LoRA already"):
        load_adapter(adapted(), tmp_path / "a.pt")
    with pytest.raises(FileNotFoundError):
        load_adapter(tiny_gpt(), tmp_path / "missing.pt")


def test_save_adapter_needs_lora_layers_of_one_setting(tmp_path):
    with pytest.raises(ValueError, match="none"):
        save_adapter(tmp_path / "a.pt", tiny_gpt())
    model = tiny_gpt()
    add_lora(model, rank=2, targets=("c_fc",))
    add_lora(model, rank=4, targets=("c_attn",))
    with pytest.raises(ValueError, match="one rank, alpha and dropout"):
        save_adapter(tmp_path / "a.pt", model)
    assert list(tmp_path.iterdir()) == []


# --- the same as peft, on our whole GPT -------------------------------------------

# GPT-2's linear layers by peft's target_modules; c_proj names two per block.
PEFT_TARGETS = ("c_attn", "c_proj", "c_fc")
PEFT_GPT = dict(block_size=16, vocab_size=64, n_layer=2, n_head=2, n_embd=32)


def peft_name(name):
    """peft's name for one of our parameters: it wraps the model in a PeftModel
    (base_model.model.) and keeps A and B as nn.Linear weights per adapter."""
    path, matrix = name.rsplit(".", 1)  # e.g. transformer.h.0.attn.c_attn, lora_A
    return f"base_model.model.{path}.{matrix}.default.weight"


def twins(dropout=0.0):
    """One small GPT with peft's LoRA, a copy with ours, the same A (peft's
    random one) and the same random B (peft's and ours start at 0, which
    would leave A's gradient 0 and hide a wrong A)."""
    import peft

    torch.manual_seed(0)
    gpt = GPT(GPTConfig(**PEFT_GPT))
    config = peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=list(PEFT_TARGETS), lora_dropout=dropout
    )
    theirs = peft.get_peft_model(copy.deepcopy(gpt), config)
    ours = gpt
    add_lora(ours, rank=4, alpha=8, targets=PEFT_TARGETS, dropout=dropout)
    params = dict(theirs.named_parameters())
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in trained(ours).items():
            q = params[peft_name(name)]
            if name.endswith("lora_B"):
                q.copy_(0.1 * torch.randn(q.shape, generator=g))
            p.copy_(q)
    return theirs, ours


def trained(model):
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def batch(seed):
    g = torch.Generator().manual_seed(seed)
    x, y = (torch.randint(0, PEFT_GPT["vocab_size"], (4, 16), generator=g) for _ in "xy")
    return x, y


# Tolerances: both compute the same float32 products (peft through nn.Linear, ours
# through matmuls); on this CPU they agree to the last bit, but another BLAS or device
# may round or order the sums differently (about 1e-7 relative).  rtol 1e-5 and atol
# 1e-6 leave room for that, also after 20 AdamW steps, whose division by sqrt(v)
# keeps relative errors at that scale; a wrong scaling, transpose, dropout or missing
# layer is off by 1e-3 or more.
TOL = dict(rtol=1e-5, atol=1e-6)


def test_peft_and_add_lora_train_the_same_parameters():
    theirs, ours = twins()
    names = set(trained(ours))
    assert {peft_name(n) for n in names} == set(trained(theirs))
    # A and B of c_attn, c_proj, c_fc, c_proj in each block; nothing else trains.
    assert len(names) == 2 * 4 * PEFT_GPT["n_layer"]
    assert trainable_parameters(ours) == theirs.get_nb_trainable_parameters()[0]
    assert trainable_parameters(ours) == trainable_parameters(theirs) > 0


def test_peft_and_add_lora_give_the_same_outputs_and_gradients():
    theirs, ours = twins()
    x, y = batch(1)
    logits, loss = ours(x, y)
    peft_logits, peft_loss = theirs(x, y)
    torch.testing.assert_close(logits, peft_logits, **TOL)
    torch.testing.assert_close(loss, peft_loss, **TOL)
    with torch.no_grad():
        base = theirs.get_base_model()
        with theirs.disable_adapter():  # the same GPT without its corrections
            assert not torch.allclose(base(x)[0], logits, atol=1e-3)
    loss.backward()
    peft_loss.backward()
    params = dict(theirs.named_parameters())
    for name, p in trained(ours).items():
        theirs_grad = params[peft_name(name)].grad
        assert p.grad.abs().max() > 1e-6, name  # B != 0: A's gradients are not 0
        torch.testing.assert_close(p.grad, theirs_grad, **TOL, msg=name)


def test_peft_and_add_lora_stay_the_same_through_twenty_adamw_steps():
    theirs, ours = twins()
    start = {n: p.detach().clone() for n, p in trained(ours).items()}
    params = dict(theirs.named_parameters())
    names = sorted(start)
    opt = torch.optim.AdamW([trained(ours)[n] for n in names], lr=1e-2)
    peft_opt = torch.optim.AdamW([params[peft_name(n)] for n in names], lr=1e-2)
    ours.train(), theirs.train()
    for step in range(20):
        x, y = batch(100 + step)
        for model, optimizer in ((ours, opt), (theirs, peft_opt)):
            optimizer.zero_grad()
            model(x, y)[1].backward()
            optimizer.step()
    for name, p in trained(ours).items():
        assert (p - start[name]).abs().max() > 1e-2, name  # it trained
        torch.testing.assert_close(p, params[peft_name(name)], **TOL, msg=name)


def test_peft_and_add_lora_merge_into_the_same_weights():
    theirs, ours = twins()
    frozen = {n.replace(".base.", "."): t.clone() for n, t in ours.state_dict().items()}
    x, _ = batch(2)
    with torch.no_grad():
        expected = ours(x)[0]
    merged = merge_lora(ours).state_dict()
    peft_merged = theirs.merge_and_unload().state_dict()
    assert merged.keys() == peft_merged.keys()
    for name, t in merged.items():
        torch.testing.assert_close(t, peft_merged[name], rtol=0, atol=1e-6, msg=name)
    # Plain GPT names again, and the corrections are in the targets' weights alone.
    assert merged.keys() == {n for n in frozen if "lora_" not in n}
    changed = {n for n, t in merged.items() if not torch.equal(t, frozen[n])}
    assert changed == {n for n in merged if n.endswith(tuple(f"{t}.weight" for t in PEFT_TARGETS))}
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], expected, rtol=1e-5, atol=1e-5)


def test_peft_and_add_lora_drop_out_the_same_inputs():
    """Under one seed, each LoRA layer draws its dropout mask in the same order in
    both, on the same input (the low-rank path's): so the outputs agree."""
    theirs, ours = twins(dropout=0.25)
    ours.train(), theirs.train()
    x, _ = batch(3)
    torch.manual_seed(7)
    dropped = ours(x)[0]
    torch.manual_seed(7)
    torch.testing.assert_close(dropped, theirs(x)[0], **TOL)
    ours.eval()
    with torch.no_grad():
        assert not torch.allclose(dropped, ours(x)[0], atol=1e-4)  # dropout dropped some
