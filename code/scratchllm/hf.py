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
    conv1d = (
        "attn.c_attn.weight",
        "attn.c_proj.weight",
        "mlp.c_fc.weight",
        "mlp.c_proj.weight",
    )
    theirs = hf_model.state_dict()
    if "lm_head.weight" not in theirs:  # a tied lm_head may be saved only once
        theirs["lm_head.weight"] = theirs["transformer.wte.weight"]
    state_dict = {}
    for name in model.state_dict():
        state_dict[name] = (
            theirs[name].t() if name.endswith(conv1d) else theirs[name]
        )
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
    if getattr(hf, "rope_scaling", None):  # transformers 4
        rope_type = hf.rope_scaling.get(
            "rope_type", hf.rope_scaling.get("type")
        )
    problems = [
        (
            hf.num_key_value_heads != hf.num_attention_heads,
            "grouped-query attention",
        ),
        (
            getattr(hf, "head_dim", None)
            not in (None, hf.hidden_size // hf.num_attention_heads),
            "a head_dim other than hidden_size / num_attention_heads",
        ),
        (hf.attention_bias or getattr(hf, "mlp_bias", False), "biases"),
        (hf.hidden_act != "silu", f"activation {hf.hidden_act!r}"),
        (rope_type not in (None, "default"), f"rope type {rope_type!r}"),
    ]
    for problem, what in problems:
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
    state_dict = {
        "transformer.wte.weight": theirs["model.embed_tokens.weight"],
        "transformer.ln_f.weight": theirs["model.norm.weight"],
        "lm_head.weight": theirs.get(
            "lm_head.weight", theirs["model.embed_tokens.weight"]
        ),
    }
    for i in range(config.n_layer):
        hf_layer, layer = f"model.layers.{i}.", f"transformer.h.{i}."
        attn = hf_layer + "self_attn."
        state_dict[layer + "attn.c_attn.weight"] = torch.cat(
            [theirs[attn + f"{p}_proj.weight"] for p in "qkv"], dim=0
        )
        state_dict[layer + "attn.c_proj.weight"] = theirs[
            attn + "o_proj.weight"
        ]
        state_dict[layer + "ln_1.weight"] = theirs[
            hf_layer + "input_layernorm.weight"
        ]
        state_dict[layer + "ln_2.weight"] = theirs[
            hf_layer + "post_attention_layernorm.weight"
        ]
        for p in ("gate_proj", "up_proj", "down_proj"):
            state_dict[layer + f"mlp.{p}.weight"] = theirs[
                hf_layer + f"mlp.{p}.weight"
            ]
    model.load_state_dict(state_dict, strict=True)
    return model
