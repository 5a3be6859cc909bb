"""scratchllm: the GPT built, one piece at a time, in the book."""

from scratchllm.attention import CausalSelfAttention
from scratchllm.config import GPTConfig

__all__ = ["GPTConfig", "CausalSelfAttention", "__version__"]

__version__ = "0.1.0"
