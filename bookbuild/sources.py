"""Stage 1: read a chapter (MyST markdown or .ipynb) into a notebook.

Each cell gets ``metadata.book.line``: the line of the chapter file where
it starts (for .md) so that errors point at the author's own file and line.
"""

import re
import warnings
from pathlib import Path

import jupytext
import nbformat

from .config import Chapter
from .errors import BookError

_FENCE = re.compile(r"^(`{3,}|~{3,})\s*\{code-cell\}")


def code_cell_lines(text: str) -> list[int]:
    """First line of each code cell's body, in order (1-based).

    jupytext keeps no positions, so we find the ``{code-cell}`` fences
    ourselves; option lines (``:key: value``) and a YAML block come before
    the body.
    """
    lines = text.splitlines()
    starts = []
    i = 0
    while i < len(lines):
        if _FENCE.match(lines[i]):
            j = i + 1
            if j < len(lines) and lines[j].strip() == "---":
                j += 1
                while j < len(lines) and lines[j].strip() != "---":
                    j += 1
                j += 1
            while j < len(lines) and re.match(r"^:[\w-]+:", lines[j]):
                j += 1
            starts.append(j + 1)
            i = j
        i += 1
    return starts


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

    if path.suffix == ".md":
        starts = iter(code_cell_lines(path.read_text()))
    for index, cell in enumerate(nb.cells):
        book = cell.metadata.setdefault("book", {})
        book["index"] = index
        if cell.cell_type == "code" and path.suffix == ".md":
            book["line"] = next(starts, None)
    return nb


def where(chapter: Chapter, cell, line_in_cell: int | None = None) -> str:
    """``file:line`` of a cell (or a line in it) for messages."""
    book = cell.metadata.get("book", {})
    start = book.get("line")
    if start is None:
        suffix = f" (code cell at index {book.get('index')})"
        return f"{chapter.path}{suffix}"
    return f"{chapter.path}:{start + (line_in_cell or 1) - 1}"
