"""Loading Hugging Face transformers models into scratchllm's GPT.

    from_hf_gpt2(GPT2LMHeadModel)   -> GPT with GPT-2's blocks
    from_hf_llama(LlamaForCausalLM) -> GPT with norm="rmsnorm", mlp="swiglu",
                                       position="rope"

If the copied model gives the same logits as the original, every piece of
ours computes what the published architecture computes.  Nothing here
downloads anything or imports transformers: the functions take a model
already built by the caller (from a checkpoint on disk, or, in the tests
and the book, from a small configuration with random weights).
"""

import torch

from scratchllm.config import GPTConfig
from scratchllm.model import GPT


def from_hf_gpt2(hf_model, **overrides):
    """Our GPT with the weights of a transformers GPT2LMHeadModel.

    The names already agree, since nanoGPT's (and so ours) were chosen to
    match OpenAI's checkpoint.  One difference: GPT-2's c_attn, c_proj and
    c_fc are Conv1D modules, which store the weight as (in, out), where
    nn.Linear stores (out, in); those matrices are transposed.
    Keyword arguments override GPTConfig fields (attention="teaching", ...).
    """
    hf = hf_model.config
    if hf.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        raise NotImplementedError(
            f"GPT-2 with activation {hf.activation_function!r} is not supported"
        )
    if not hf.scale_attn_weights or hf.scale_attn_by_inverse_layer_idx:
        raise NotImplementedError(
            "GPT-2 with a non-standard attention scale is not supported"
        )
    fields = dict(
        block_size=hf.n_positions,
        vocab_size=hf.vocab_size,
        n_layer=hf.n_layer,
        n_head=hf.n_head,
        n_embd=hf.n_embd,
        n_hidden=hf.n_inner,
        norm_eps=hf.layer_norm_epsilon,
        bias=True,
        tie_embeddings=hf.tie_word_embeddings,
    )
    fields.update(overrides)
    config = GPTConfig(**fields)

    model = GPT(config)
    conv1d = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
    conv1d_weights = tuple(f"{name}.weight" for name in conv1d)
    theirs = hf_model.state_dict()
    if "lm_head.weight" not in theirs:  # a tied lm_head may be saved only once
        theirs["lm_head.weight"] = theirs["transformer.wte.weight"]
    state_dict = {}
    for name in model.state_dict():
        transpose = name.endswith(conv1d_weights)
        state_dict[name] = theirs[name].t() if transpose else theirs[name]
    # strict: every parameter of ours must receive a tensor
    model.load_state_dict(state_dict, strict=True)
    return model


def from_hf_llama(hf_model, **overrides):
    """Our GPT, in its Llama form, with the weights of a LlamaForCausalLM.

    Llama keeps separate q_proj, k_proj, v_proj matrices where we have one
    c_attn; stacking them gives c_attn (the query rows first, as our split
    expects).  The other names map one to one:

        model.embed_tokens                transformer.wte
        layers.i.input_layernorm          transformer.h.i.ln_1
        layers.i.self_attn.o_proj         transformer.h.i.attn.c_proj
        layers.i.post_attention_layernorm transformer.h.i.ln_2
        layers.i.mlp.X_proj               transformer.h.i.mlp.X_proj
        model.norm                        transformer.ln_f

    (X_proj: gate_proj, up_proj, down_proj.)

    Supported: the Llama 2 layout with as many key/value heads as query
    heads, no biases, SiLU and plain RoPE (no rope scaling).
    """
    hf = hf_model.config
    rope = getattr(hf, "rope_parameters", None) or {}  # transformers >= 5
    rope_type = rope.get("rope_type", "default")
    rope_base = rope.get("rope_theta", getattr(hf, "rope_theta", 10000.0))
    scaling = getattr(hf, "rope_scaling", None)  # transformers 4
    if scaling:
        rope_type = scaling.get("rope_type", scaling.get("type"))
    head_dim = hf.hidden_size // hf.num_attention_heads
    problems = {
        "grouped-query attention": (
            hf.num_key_value_heads != hf.num_attention_heads
        ),
        "a head_dim other than hidden_size / num_attention_heads": (
            getattr(hf, "head_dim", None) not in (None, head_dim)
        ),
        "biases": hf.attention_bias or getattr(hf, "mlp_bias", False),
        f"activation {hf.hidden_act!r}": hf.hidden_act != "silu",
        f"rope type {rope_type!r}": rope_type not in (None, "default"),
    }
    for what, problem in problems.items():
        if problem:
            raise NotImplementedError(f"Llama with {what} is not supported")
    fields = dict(
        block_size=hf.max_position_embeddings,
        vocab_size=hf.vocab_size,
        n_layer=hf.num_hidden_layers,
        n_head=hf.num_attention_heads,
        n_embd=hf.hidden_size,
        n_hidden=hf.intermediate_size,
        bias=False,
        norm="rmsnorm",
        norm_eps=hf.rms_norm_eps,
        mlp="swiglu",
        position="rope",
        rope_base=float(rope_base),
        tie_embeddings=hf.tie_word_embeddings,
    )
    fields.update(overrides)
    config = GPTConfig(**fields)

    model = GPT(config)
    theirs = hf_model.state_dict()
    embed = theirs["model.embed_tokens.weight"]
    state_dict = {
        "transformer.wte.weight": embed,
        "transformer.ln_f.weight": theirs["model.norm.weight"],
        "lm_head.weight": theirs.get("lm_head.weight", embed),
    }
    # Ours (transformer.h.i.) from theirs (model.layers.i.), weights only.
    names = {
        "ln_1": "input_layernorm",
        "attn.c_proj": "self_attn.o_proj",
        "ln_2": "post_attention_layernorm",
        "mlp.gate_proj": "mlp.gate_proj",
        "mlp.up_proj": "mlp.up_proj",
        "mlp.down_proj": "mlp.down_proj",
    }
    for i in range(config.n_layer):
        ours, hf_layer = f"transformer.h.{i}.", f"model.layers.{i}."
        qkv = [theirs[f"{hf_layer}self_attn.{p}_proj.weight"] for p in "qkv"]
        state_dict[ours + "attn.c_attn.weight"] = torch.cat(qkv, dim=0)
        for name, hf_name in names.items():
            weight = theirs[f"{hf_layer}{hf_name}.weight"]
            state_dict[f"{ours}{name}.weight"] = weight
    model.load_state_dict(state_dict, strict=True)
    return model
