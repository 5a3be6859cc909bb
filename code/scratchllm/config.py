"""Model hyperparameters, shared by every module of the GPT."""

from dataclasses import dataclass

# The four GPT-2 checkpoints OpenAI released (Radford et al., 2019), as
# (n_layer, n_head, n_embd).  All share the vocabulary and the context length.
GPT2_SIZES = {
    "gpt2": (12, 12, 768),  # 124M parameters
    "gpt2-medium": (24, 16, 1024),  # 355M
    "gpt2-large": (36, 20, 1280),  # 774M
    "gpt2-xl": (48, 25, 1600),  # 1558M, published as "1.5B"
}

# The choices each architectural field accepts; the first is GPT-2's.
CHOICES = {
    "attention": ("fast", "teaching"),
    "norm": ("layernorm", "rmsnorm"),
    "mlp": ("gelu", "swiglu"),
    "position": ("learned", "rope"),
}


@dataclass
class GPTConfig:
    """Hyperparameters of a GPT; the defaults are GPT-2 small (124M).

    The fields after ``bias`` choose between GPT-2's building blocks (the
    defaults) and those of later models such as Llama: RMSNorm instead of
    LayerNorm, a SwiGLU MLP instead of GELU, rotary positions (RoPE) instead
    of a learned position table, and an output layer of its own instead of
    the token embedding reused.
    """

    block_size: int = 1024  # longest context the model can attend over
    vocab_size: int = 50257  # GPT-2 BPE: 256 bytes, 50,000 merges, 1 end token
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in Linears and LayerNorms, as in GPT-2
    # "fast": F.scaled_dot_product_attention; "teaching": attention.py
    attention: str = "fast"
    norm: str = "layernorm"  # or "rmsnorm"
    norm_eps: float = 1e-5  # added to the variance before its square root
    mlp: str = "gelu"  # or "swiglu"
    # The MLP's width; None: 4 * n_embd (gelu), about 8/3 * n_embd (swiglu)
    n_hidden: int | None = None
    position: str = "learned"  # or "rope"
    rope_base: float = 10000.0  # RoPE's base (Llama's rope_theta)
    tie_embeddings: bool = True  # lm_head reuses the token embedding matrix

    def __post_init__(self):
        for field, choices in CHOICES.items():
            if getattr(self, field) not in choices:
                raise ValueError(
                    f"GPTConfig.{field} must be one of {choices}, "
                    f"not {getattr(self, field)!r}"
                )

    @classmethod
    def gpt2(cls, size="gpt2", **overrides):
        """The configuration of a released GPT-2: "gpt2" (small), "gpt2-medium",
        "gpt2-large" or "gpt2-xl"; keyword arguments override fields."""
        if size not in GPT2_SIZES:
            raise ValueError(
                f"unknown GPT-2 size {size!r}; one of {list(GPT2_SIZES)}"
            )
        n_layer, n_head, n_embd = GPT2_SIZES[size]
        fields = dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd)
        fields.update(vocab_size=50257, block_size=1024)
        fields.update(overrides)
        return cls(**fields)
