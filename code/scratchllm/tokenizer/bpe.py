"""The book's tokenizer: regex pre-tokenization, byte-level BPE and
special tokens."""

from itertools import pairwise

import regex

from .base import Tokenizer, merge
from .fast import train_fast
from .naive import train_naive

# Split text into words, numbers, punctuation runs and whitespace before BPE,
# so merges never cross those boundaries (GPT-2, Radford et al. 2019; GPT-4's
# pattern also caps digit runs at three and is case-insensitive in
# contractions).  They split text as tiktoken's r50k_base and cl100k_base
# patterns do, written without most of their possessive quantifiers (which
# only make the matching faster); GPT-4's \s++$ keeps whitespace at the end
# of a text in one piece.
GPT2_SPLIT_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"""
    r"""|\s+(?!\S)|\s+"""
)
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s++$|\s*[\r\n]|\s+(?!\S)|\s+"""
)
# Documents end with <|endoftext|>; the instruction-tuning chapter formats
# conversations with the other three.
SPECIAL_TOKENS = ("<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>")
TRAINERS = {"fast": train_fast, "naive": train_naive}


class BPETokenizer(Tokenizer):
    def __init__(self, pattern: str = GPT4_SPLIT_PATTERN):
        super().__init__()
        self.pattern = pattern
        self._compiled = regex.compile(pattern)
        self._cache: dict[str, list[int]] = {}

    def pretokenize(self, text: str) -> list[bytes]:
        return [chunk.encode("utf-8") for chunk in self._compiled.findall(text)]

    def train(
        self,
        text: str,
        vocab_size: int,
        trainer: str = "fast",
        special_tokens=SPECIAL_TOKENS,
    ) -> "BPETokenizer":
        num_merges = vocab_size - 256 - len(special_tokens)
        if num_merges < 0:
            raise ValueError(
                f"vocab_size must be at least {256 + len(special_tokens)}"
            )
        merges = TRAINERS[trainer](self.pretokenize(text), num_merges)
        self.merges = {pair: 256 + i for i, pair in enumerate(merges)}
        first_special = 256 + len(merges)
        self.special_tokens = {
            tok: first_special + i for i, tok in enumerate(special_tokens)
        }
        self.vocab = self._build_vocab()
        self._cache.clear()
        return self

    def load(self, path) -> "BPETokenizer":
        super().load(path)
        self._compiled = regex.compile(self.pattern)
        self._cache.clear()
        return self

    def _encode_chunk(self, chunk: bytes) -> list[int]:
        """Apply the merges in training order: always the earliest-learned
        pair present, until none of the pairs is a merge."""
        ids = list(chunk)
        while len(ids) >= 2:
            pair = min(
                pairwise(ids), key=lambda p: self.merges.get(p, float("inf"))
            )
            if pair not in self.merges:
                break
            ids = merge(ids, pair, self.merges[pair])
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode, treating special-token strings as plain text.  Each distinct
        pre-token is encoded once and cached: text repeats its words."""
        ids: list[int] = []
        cache = self._cache
        for chunk in self._compiled.findall(text):
            if chunk not in cache:
                cache[chunk] = self._encode_chunk(chunk.encode("utf-8"))
            ids.extend(cache[chunk])
        return ids

    def encode(self, text: str, allowed_special="none_raise") -> list[int]:
        """Encode, with the special tokens that allowed_special names read as
        such: never split, and never produced from ordinary text.

        As in minbpe and tiktoken, allowed_special is "all", "none" (special
        tokens are encoded as the text they are), a set of special tokens, or
        "none_raise" (the default): as "none", but a special token in the
        text raises ValueError.  Text from outside (a web page, a user) may
        spell "<|endoftext|>"; it must not end a document by accident.
        """
        special = self._allowed_special(text, allowed_special)
        if not special:
            return self.encode_ordinary(text)
        # Longest first: the regex takes the first alternative that matches,
        # and a special token may begin with another ("<|end|>", "<|end|>x").
        longest_first = sorted(special, key=len, reverse=True)
        splitter = "(" + "|".join(regex.escape(t) for t in longest_first) + ")"
        ids: list[int] = []
        for part in regex.split(splitter, text):
            if part in special:
                ids.append(special[part])
            else:
                ids.extend(self.encode_ordinary(part))
        return ids

    def _allowed_special(self, text: str, allowed_special) -> dict[str, int]:
        """The special tokens encode recognises: {token: id}."""
        if allowed_special == "all":
            return self.special_tokens
        if allowed_special == "none":
            return {}
        if allowed_special == "none_raise":
            for token in self.special_tokens:
                if token in text:
                    raise ValueError(
                        f"the text contains the special token {token!r}; "
                        f'pass allowed_special="all" to encode it as one, '
                        f'or "none" to encode it as text'
                    )
            return {}
        if isinstance(allowed_special, (set, frozenset)):
            tokens = self.special_tokens.items()
            return {t: i for t, i in tokens if t in allowed_special}
        raise ValueError(
            'allowed_special must be "all", "none", "none_raise" or a set, '
            f"not {allowed_special!r}"
        )
