"""Stage 2: read a chapter (MyST markdown or .ipynb) into a notebook.

Each cell gets ``metadata.book.line``: the line of the chapter file where
it starts (for .md) so that errors point at the author's own file and line.
"""

import warnings

import jupytext
import nbformat
from jupytext.myst import myst_to_notebook

from .config import Chapter
from .errors import BookError


def cell_lines(text: str) -> list[int]:
    """Line (1-based) where each cell of a MyST text begins: a markdown
    cell's first text line, a code cell's first body line.

    jupytext's own source map gives where each cell's block starts (a
    markdown chunk's first line, a code fence's first inner line); from
    there we step over blank lines, and over a code cell's options
    (``:key: value`` lines or a YAML block), to the cell's own first line.
    """
    nb = myst_to_notebook(text, add_source_map=True)
    rows = text.splitlines()
    lines = []
    for cell, start in zip(nb.cells, nb.metadata["source_map"], strict=True):
        first = next((row for row in cell.source.split("\n") if row.strip()), None)
        if cell.cell_type == "markdown" or first is None:
            line = next((k for k in range(start, len(rows)) if rows[k].strip()), start)
        else:  # the body is the fence's content after its options
            line = next((k for k in range(start, len(rows)) if rows[k] == first), start)
        lines.append(line + 1)
    return lines


def code_cell_lines(text: str) -> list[int]:
    """First line of each code cell's body, in order (1-based)."""
    nb = myst_to_notebook(text)
    return [line for cell, line in zip(nb.cells, cell_lines(text), strict=True) if cell.cell_type == "code"]


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

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lines = cell_lines(path.read_text()) if path.suffix == ".md" else []
    # a front-matter cell jupytext may add comes first, outside the source map
    offset = len(nb.cells) - len(lines)
    for index, cell in enumerate(nb.cells):
        book = cell.metadata.setdefault("book", {})
        book["index"] = index
        if lines and index >= offset:
            book["line"] = lines[index - offset]
    return nb


def where(chapter: Chapter, cell, line_in_cell: int | None = None) -> str:
    """``file:line`` of a cell (or a line in it) for messages."""
    book = cell.metadata.get("book", {})
    start = book.get("line")
    if start is None:
        suffix = f" (code cell at index {book.get('index')})"
        return f"{chapter.path}{suffix}"
    return f"{chapter.path}:{start + (line_in_cell or 1) - 1}"
