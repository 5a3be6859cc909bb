"""Stage 1: chapters (MyST .md or .ipynb) to notebooks with source lines."""

from pathlib import Path

import nbformat
import pytest

from bookbuild import sources
from bookbuild.config import Chapter
from bookbuild.errors import BookError

CHAPTER = """\
---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
---

# The title

Intro prose.

```{code-cell} ipython3
x = 1
```

More prose.

```{code-cell} ipython3
:tags: [remove-input]
:label: fig-y
y = 2
y
```

+++

A markdown cell after a break.

```{code-cell} ipython3
---
tags: [remove-output]
label: tbl-z
---
z = 3
```

~~~{code-cell} ipython3
w = 4
~~~
"""
# 1-based line of each code cell's first body line in CHAPTER
BODY_LINES = [15, 23, 36, 40]
assert [CHAPTER.splitlines()[n - 1] for n in BODY_LINES] == ["x = 1", "y = 2", "z = 3", "w = 4"]


def chapter(path: Path) -> Chapter:
    return Chapter(id=path.stem, path=path, part=None, appendix=False, number="1")


def test_code_cell_lines_skip_options_and_yaml_block():
    assert sources.code_cell_lines(CHAPTER) == BODY_LINES


def test_code_cell_lines_empty_and_prose_only():
    assert sources.code_cell_lines("") == []
    assert sources.code_cell_lines("# Title\n\n```python\nnot a cell\n```\n") == []


def test_code_cell_lines_ignores_code_cell_shown_inside_a_longer_fence():
    # a chapter on how the book is built shows MyST source in a ````markdown
    # fence; the {code-cell} inside it is text, not a cell (jupytext agrees)
    text = (
        "# T\n"  # 1
        "\n"  # 2
        "````markdown\n"  # 3
        "```{code-cell} ipython3\n"  # 4
        "shown = 1\n"  # 5
        "```\n"  # 6
        "````\n"  # 7
        "\n"  # 8
        "```{code-cell} ipython3\n"  # 9
        "real = 2\n"  # 10
        "```\n"  # 11
    )
    assert sources.code_cell_lines(text) == [10]


def test_read_line_after_code_cell_shown_inside_a_longer_fence(tmp_path):
    path = tmp_path / "meta.md"
    path.write_text(
        "# T\n\n````markdown\n```{code-cell} ipython3\nshown = 1\n```\n````\n\n"
        "```{code-cell} ipython3\nreal = 2\n```\n"
    )
    nb = sources.read(chapter(path))
    (code,) = [c for c in nb.cells if c.cell_type == "code"]
    assert code.source == "real = 2"
    assert code.metadata.book["line"] == 10


@pytest.fixture
def md_chapter(tmp_path):
    path = tmp_path / "ch.md"
    path.write_text(CHAPTER)
    return chapter(path)


def test_read_md_sets_index_and_line(md_chapter):
    nb = sources.read(md_chapter)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["markdown", "code", "markdown", "code", "markdown", "code", "code"]
    assert [c.metadata.book["index"] for c in nb.cells] == list(range(len(nb.cells)))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.metadata.book["line"] for c in code] == BODY_LINES
    assert [c.source.splitlines()[0] for c in code] == ["x = 1", "y = 2", "z = 3", "w = 4"]
    # cell options survive next to the book's own metadata
    assert code[1].metadata["tags"] == ["remove-input"]
    assert code[2].metadata["label"] == "tbl-z"


def test_read_md_line_matches_source_for_every_cell(md_chapter):
    # module docstring: "Each cell gets metadata.book.line: the line of the
    # chapter file where it starts"; LaTeX errors in markdown cells are traced
    # back through it (BOOK-SOURCE markers), so markdown cells need it too.
    lines = md_chapter.path.read_text().splitlines()
    nb = sources.read(md_chapter)
    for cell in nb.cells:
        line = cell.metadata.book.get("line")
        assert isinstance(line, int), f"{cell.cell_type} cell {cell.metadata.book} has no line"
        assert lines[line - 1].strip() == cell.source.splitlines()[0].strip()


def test_read_ipynb(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title"),
            nbformat.v4.new_code_cell("print(1)"),
            nbformat.v4.new_code_cell("2"),
        ]
    )
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    ch = chapter(path)
    read = sources.read(ch)
    assert [c.metadata.book["index"] for c in read.cells] == [0, 1, 2]
    assert all("line" not in c.metadata.book for c in read.cells)
    assert read.cells[1].source == "print(1)"
    assert sources.where(ch, read.cells[2]) == f"{path} (code cell at index 2)"


def test_read_unreadable_chapter(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text("{ not json")
    with pytest.raises(BookError) as info:
        sources.read(chapter(path))
    assert info.value.where == str(path)


def test_where_formats(md_chapter):
    nb = sources.read(md_chapter)
    second = [c for c in nb.cells if c.cell_type == "code"][1]  # body starts at line 23
    path = md_chapter.path
    assert sources.where(md_chapter, second) == f"{path}:23"
    assert sources.where(md_chapter, second, 1) == f"{path}:23"
    assert sources.where(md_chapter, second, 2) == f"{path}:24"
    bare = nbformat.v4.new_code_cell("x")
    assert sources.where(md_chapter, bare) == f"{path} (code cell at index None)"


def test_a_kept_parse_is_reused_until_the_text_changes(md_chapter, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "ch.source.json"
    first = sources.read(md_chapter, cache)
    assert cache.exists()
    calls = []
    monkeypatch.setattr(sources, "_parse", lambda ch, text: calls.append(text) or first)
    assert sources.read(md_chapter, cache) == first and calls == []  # from the cache
    md_chapter.path.write_text(md_chapter.path.read_text() + "\nOne more line.\n")
    sources.read(md_chapter, cache)
    assert len(calls) == 1 and calls[0].endswith("One more line.\n")  # parsed again
