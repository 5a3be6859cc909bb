"""What every byte-level tokenizer shares: merges, the vocabulary they
define, special tokens, decoding, and a readable file format."""

import json
from itertools import pairwise
from pathlib import Path

FORMAT = "scratchllm-bpe 1"


def get_stats(
    ids: list[int], counts: dict | None = None
) -> dict[tuple[int, int], int]:
    """Count each adjacent pair of ids (adding to ``counts`` if given)."""
    counts = {} if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: list[int], pair: tuple[int, int], idx: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by the new token
    ``idx``."""
    out, i = [], 0
    while i < len(ids):
        if i < len(ids) - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(idx)
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
        self.merges: dict[
            tuple[int, int], int
        ] = {}  # (a, b) -> new id, in training order
        self.special_tokens: dict[str, int] = {}
        self.pattern = ""
        self.vocab = self._build_vocab()

    def _build_vocab(self) -> dict[int, bytes]:
        vocab = {i: bytes([i]) for i in range(256)}
        for (a, b), idx in self.merges.items():
            vocab[idx] = vocab[a] + vocab[b]
        for token, idx in self.special_tokens.items():
            vocab[idx] = token.encode("utf-8")
        return vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def decode(self, ids: list[int]) -> str:
        return b"".join(self.vocab[i] for i in ids).decode(
            "utf-8", errors="replace"
        )

    def save(self, path: Path) -> None:
        """One JSON header line, then one merge per line ("a b"), each with
        the token it makes as a comment, so the file reads like a table."""
        header = {
            "format": FORMAT,
            "pattern": self.pattern,
            "special_tokens": self.special_tokens,
        }
        lines = [json.dumps(header, ensure_ascii=False)]
        for (a, b), idx in self.merges.items():
            lines.append(f"{a} {b}  # {idx} {render_token(self.vocab[idx])!r}")
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
        for idx, line in enumerate(line for line in rest if line.strip()):
            a, b = line.split("#", 1)[0].split()
            self.merges[int(a), int(b)] = 256 + idx
        self.vocab = self._build_vocab()
        return self
