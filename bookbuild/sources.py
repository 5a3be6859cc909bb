"""Stage 2: read a chapter (MyST markdown or .ipynb) into a notebook.

Each cell gets ``metadata.book.line``: the line of the chapter file where
it starts (for .md) so that errors point at the author's own file and line.
A chapter read once is kept in the build's cache under the hash of its
text, so a rebuild parses (and imports jupytext) only for changed files.
"""

import json
import warnings
from importlib import metadata
from pathlib import Path

import nbformat

from .config import Chapter
from .errors import BookError
from .files import atomic_write_text, sha256_bytes, sha256_json

_PARSER = sha256_bytes(
    Path(__file__).read_bytes()
)  # a change to how chapters are read invalidates them


def cell_lines(text: str) -> list[int]:
    """Line (1-based) where each cell of a MyST text begins: a markdown
    cell's first text line, a code cell's first body line.

    jupytext's own source map gives where each cell's block starts (a
    markdown chunk's first line, a code fence's first inner line); from
    there we step over blank lines, and over a code cell's options
    (``:key: value`` lines or a YAML block), to the cell's own first line.
    """
    from jupytext.myst import myst_to_notebook

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
    from jupytext.myst import myst_to_notebook

    nb = myst_to_notebook(text)
    return [
        line
        for cell, line in zip(nb.cells, cell_lines(text), strict=True)
        if cell.cell_type == "code"
    ]


def read(chapter: Chapter, cache: Path | None = None) -> nbformat.NotebookNode:
    """The chapter as a notebook; ``cache`` is where a parse is kept."""
    text = chapter.path.read_text()
    key = sha256_json([text, chapter.path.suffix, metadata.version("jupytext"), _PARSER])
    try:
        kept = json.loads(cache.read_text()) if cache else {}
    except (OSError, ValueError):
        kept = {}
    if kept.get("key") == key:
        return nbformat.from_dict(kept["notebook"])
    nb = _parse(chapter, text)
    if cache:
        atomic_write_text(cache, json.dumps({"key": key, "notebook": nb}))
    return nb


def _parse(chapter: Chapter, text: str) -> nbformat.NotebookNode:
    import jupytext

    path = chapter.path
    try:
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # mixed python/ipython3 lexers are fine
                nb = jupytext.reads(text, fmt="md:myst")
    except Exception as exc:  # jupytext and nbformat raise many kinds
        raise BookError(f"cannot read chapter: {exc}", where=str(path)) from None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lines = cell_lines(text) if path.suffix == ".md" else []
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
