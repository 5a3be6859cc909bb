"""The typed-number check: results in prose must come from ``{eval}``.

A number typed into a sentence ("trained in 505 s", "recall 88.2%") goes
stale the day the code changes, and nothing notices.  This check reads
each chapter's prose as MyST does (code, math, roles, link targets,
labels and HTML are not prose) and flags what looks like a measured
result: decimals, percentages, numbers with units ("12 ms", "4.9 M
tokens", "3×", "8 minutes"), exponents and digit groups ("1,200").  Plain
integers ("8 layers", "2017"), names ("GPT-2", "bf16", "Python 3.12"),
references ("Figure 3.2", "eq. 1.5") and version strings pass.  A true
constant is marked ``{const}`20 tokens per parameter``` in the text, or
listed once for the whole book in ``book.yml`` under ``prose: allow:``.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import inline
from .files import sha256_bytes, sha256_json, write_if_changed

_UNIT = (
    r"(?:[nµu]?s|ms|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?|"
    r"[kKMGTP]i?B|[kKMBGT]|[kMGTPE]?FLOPs?(?:/s)?|it/s|tok(?:en)?s/s|[kMG]?Hz|W|nats?|bpb|"
    r"percent)(?![\w/])|%|×(?!\s?\d)|x(?=[\s,.;:)]|$)"
)
_NUMBER = re.compile(
    r"(?<![\w.,])(?<![A-Za-z]-)"  # not inside a name (bf16, GPT-2) or a longer number
    r"[-\u2212]?(?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?(?P<exponent>e[-+]?\d+)?"
    r"(?!\.\d|,\d|[\w-]\w)"  # not a version string (3.10.2), not glued to a word
    rf"(?:\s?(?P<unit>{_UNIT}))?"
)
# A number after one of these words names a thing rather than measuring one.
_NAMING = re.compile(
    r"(?:\b(?:figures?|fig|tables?|tab|sections?|sec|chapters?|ch|listings?|lst|equations?|eqs?|"
    r"appendix|part|steps?|exercises?|examples?|theorems?|lemmas?|definitions?|pages?|pp?|lines?|"
    r"versions?|v|python|cuda|pep|rfc)\.?|§)\s?\(?$",
    re.I,
)
# Text that is not prose even where markdown-it reads it as text.
_NOT_PROSE = re.compile(
    r"https?://\S+|www\.\S+|\S+@\S+\.\w+"  # URLs and e-mail
    r"|\[?-?@[\w:.#$%&+?<>~/-]+\]?"  # pandoc citations
    r"|\{[#.][^}]*\}"  # pandoc attributes: {#tbl-sizes}
    r"|^:[\w-]+:.*$",
    re.M,
)  # directive options


@dataclass
class Finding:
    where: str  # file:line
    number: str

    def __str__(self) -> str:
        return f"{self.where}: typed number {self.number!r} in prose (use {{eval}} or {{const}})"


def typed_numbers(text: str, allow: list[str] = ()) -> list[tuple[int, str]]:
    """(line, number) for each typed result in markdown ``text`` (0-based
    lines); a number inside one of the ``allow`` phrases passes."""
    found = []
    for token, line in inline.inline_tokens(text):
        if token.type != "text":
            continue
        for match in _numbers(token.content, allow):
            found.append((line, match))
    return sorted(found, key=lambda item: item[0])  # footnotes are read last


def _numbers(text: str, allow) -> list[str]:
    masked = _mask(_NOT_PROSE.finditer(text), text)
    for phrase in allow:
        masked = _mask(re.finditer(re.escape(phrase), masked), masked)
    out = []
    for m in _NUMBER.finditer(masked):
        measured = m["fraction"] or m["exponent"] or m["unit"] or "," in m["digits"]
        if measured and not _NAMING.search(masked[: m.start()]):
            out.append(m.group().strip())
    return out


def _mask(matches, text: str) -> str:
    """``text`` with the ``matches`` blanked out (the rest keeps its place)."""
    chars = list(text)
    for m in matches:
        chars[m.start() : m.end()] = " " * (m.end() - m.start())
    return "".join(chars)


def check(chapters, allow: list[str] = (), memo_path: Path | None = None) -> list[Finding]:
    """Every typed number in the prose of ``chapters``, as file:line.
    Chapters read before, unchanged, are answered from ``memo_path``."""
    memo = _load(memo_path)
    checker = [sha256_bytes(Path(f).read_bytes()) for f in (__file__, inline.__file__)] + [
        list(allow)
    ]
    findings, kept = [], {}
    for chapter in chapters:
        text = chapter.path.read_text()
        key = sha256_json([text, checker])
        if key not in memo:
            memo[key] = _chapter_findings(chapter.path.suffix, text, allow)
        kept[key] = memo[key]
        findings += [Finding(f"{chapter.path}{suffix}", number) for suffix, number in memo[key]]
    if memo_path is not None:
        write_if_changed(memo_path, json.dumps(kept, indent=0))
    return findings


def _chapter_findings(suffix: str, text: str, allow) -> list[tuple[str, str]]:
    """(where in the file, after its name; number) for one chapter's text."""
    if suffix != ".ipynb":
        return [(f":{line + 1}", n) for line, n in typed_numbers(text, allow)]
    nb = nbformat.reads(text, as_version=4)
    return [
        (f" (cell {index}, line {line + 1})", n)
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for line, n in typed_numbers(cell.source, allow)
    ]


def _load(path: Path | None) -> dict:
    try:
        return json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}
