"""Model hyperparameters, shared by every module of the GPT."""

from dataclasses import dataclass


@dataclass
class GPTConfig:
    """Hyperparameters of a GPT; the defaults are GPT-2 small (124M)."""

    block_size: int = 1024  # longest context the model can attend over
    vocab_size: int = 50257  # GPT-2 BPE: 256 bytes, 50,000 merges, 1 end token
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in Linears and LayerNorms, as in GPT-2
