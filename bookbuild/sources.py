"""Stage 1: read a chapter (MyST markdown or .ipynb) into a notebook.

Each cell gets ``metadata.book.line``: the line of the chapter file where
it starts (for .md) so that errors point at the author's own file and line.
"""

import re
import warnings

import jupytext
import nbformat

from .config import Chapter
from .errors import BookError

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")


def code_cell_lines(text: str) -> list[int]:
    """First line of each code cell's body, in order (1-based).

    jupytext keeps no positions, so we find the ``{code-cell}`` fences
    ourselves, skipping any fenced block that merely shows one; option
    lines (``:key: value``) and a YAML block come before the body.
    """
    lines = text.splitlines()
    starts = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m["fence"]
        close = next((j for j in range(i + 1, len(lines))
                      if lines[j].strip().startswith(fence[0] * len(fence))
                      and set(lines[j].strip()) == {fence[0]}), len(lines))
        if m["info"].startswith("{code-cell}"):
            j = i + 1
            if j < close and lines[j].strip() == "---":
                j = next((k for k in range(j + 1, close) if lines[k].strip() == "---"), close) + 1
            while j < close and re.match(r"^:[\w-]+:", lines[j]):
                j += 1
            starts.append(j + 1)
        i = close + 1
    return starts


def _first_line(text: str, source: str, after: int) -> int | None:
    """Line (1-based, > ``after``) where a markdown cell's text begins."""
    first = next((row.strip() for row in source.splitlines() if row.strip()), None)
    if first is None:
        return None
    for number, line in enumerate(text.splitlines()[after:], after + 1):
        if line.strip() == first:
            return number
    return None


def read(chapter: Chapter) -> nbformat.NotebookNode:
    path = chapter.path
    try:
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # mixed python/ipython3 lexers are fine
                nb = jupytext.read(path, fmt="md:myst")
    except Exception as exc:  # jupytext and nbformat raise many kinds
        raise BookError(f"cannot read chapter: {exc}", where=str(path)) from None

    text = path.read_text() if path.suffix == ".md" else ""
    starts = iter(code_cell_lines(text))
    cursor = 0
    for index, cell in enumerate(nb.cells):
        book = cell.metadata.setdefault("book", {})
        book["index"] = index
        if not text:
            continue
        line = next(starts, None) if cell.cell_type == "code" else _first_line(text, cell.source, cursor)
        if line is not None:
            book["line"] = cursor = line
    return nb


def where(chapter: Chapter, cell, line_in_cell: int | None = None) -> str:
    """``file:line`` of a cell (or a line in it) for messages."""
    book = cell.metadata.get("book", {})
    start = book.get("line")
    if start is None:
        suffix = f" (code cell at index {book.get('index')})"
        return f"{chapter.path}{suffix}"
    return f"{chapter.path}:{start + (line_in_cell or 1) - 1}"
