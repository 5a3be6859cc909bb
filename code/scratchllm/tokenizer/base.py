"""What every byte-level tokenizer shares: merges, the vocabulary they
define, special tokens, decoding, and a readable file format."""

import json
from itertools import pairwise
from pathlib import Path

FORMAT = "scratchllm-bpe 1"
Pair = tuple[int, int]  # two adjacent token ids


def get_stats(ids: list[int], counts: dict | None = None) -> dict[Pair, int]:
    """Count each adjacent pair of ids (adding to ``counts`` if given).

    >>> get_stats([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by the token
    ``new_id``, left to right.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    """
    out, i = [], 0
    while i < len(ids):
        if i < len(ids) - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def render_token(token: bytes) -> str:
    """A token as printable text: invalid UTF-8 and control characters
    escaped."""
    text = token.decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


class Tokenizer:
    """Merges and special tokens; subclasses decide how text is split
    and trained."""

    def __init__(self):
        # (a, b) -> the id of the token they make, in training order
        self.merges: dict[Pair, int] = {}
        self.special_tokens: dict[str, int] = {}
        self.pattern = ""
        self.vocab = self._build_vocab()

    def _build_vocab(self) -> dict[int, bytes]:
        vocab = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():
            vocab[new_id] = vocab[a] + vocab[b]
        for token, token_id in self.special_tokens.items():
            vocab[token_id] = token.encode("utf-8")
        return vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def decode(self, ids: list[int]) -> str:
        text = b"".join(self.vocab[i] for i in ids)
        return text.decode("utf-8", errors="replace")

    def save(self, path: Path) -> None:
        """One JSON header line, then one merge per line ("a b"), each with
        the token it makes as a comment, so the file reads like a table."""
        header = {
            "format": FORMAT,
            "pattern": self.pattern,
            "special_tokens": self.special_tokens,
        }
        lines = [json.dumps(header, ensure_ascii=False)]
        for (a, b), new_id in self.merges.items():
            token = render_token(self.vocab[new_id])
            lines.append(f"{a} {b}  # {new_id} {token!r}")
        # UTF-8 whatever the locale: the header and comments hold any character.
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def load(self, path: Path) -> "Tokenizer":
        first, *rest = Path(path).read_text(encoding="utf-8").split("\n")
        header = json.loads(first)
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} file")
        self.pattern = header["pattern"]
        self.special_tokens = header["special_tokens"]
        self.merges = {}
        for k, line in enumerate(line for line in rest if line.strip()):
            a, b = line.split("#", 1)[0].split()
            self.merges[int(a), int(b)] = 256 + k
        self.vocab = self._build_vocab()
        return self
