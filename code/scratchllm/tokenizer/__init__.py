"""Byte-level BPE, as in GPT-2 and GPT-4, in the style of minbpe: one
algorithm per file.  ``base`` holds what every tokenizer shares, ``naive``
and ``fast`` are two trainers that learn identical merges, and ``bpe``
puts regex pre-tokenization, special tokens and a trainer together."""

from .base import Tokenizer
from .bpe import (
    GPT2_SPLIT_PATTERN,
    GPT4_SPLIT_PATTERN,
    SPECIAL_TOKENS,
    BPETokenizer,
)

__all__ = [
    "BPETokenizer",
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "SPECIAL_TOKENS",
    "Tokenizer",
]
