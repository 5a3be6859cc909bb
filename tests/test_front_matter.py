"""Front matter (book.yml's ``front``): a preface typeset unnumbered in
\\frontmatter, after the contents and before the first part, executed like
any chapter."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from bookbuild import config, typeset
from bookbuild.layout import Layout
from bookbuild.render import Rendered

ROOT = Path(__file__).resolve().parent.parent

BOOK_YML = """\
title: Front Test
front:
  - file: preface.md
    uses: [numbers]
parts:
  - title: Basics
    chapters:
      - file: one.md
        produces: [numbers]
      - two.md
appendices: [app.md]
"""

PREFACE = """\
# Preface

```{code-cell} python
import json, os
from pathlib import Path

n_chapters = len(json.loads((Path(os.environ["BOOK_ARTIFACTS"]) / "numbers" / "n.json").read_text()))
print("PREFACE-OUTPUT", n_chapters)
```

A preface computes too: the book has {eval}`n_chapters` chapters.

## What you need

PREFACE-SECTION-MARK

| a | b |
|---|---|
| 1 | 2 |

: A preface table. {#tbl-front}
"""

ONE = """\
# The first chapter

```{code-cell} python
import json, os
from pathlib import Path

out = Path(os.environ["BOOK_ARTIFACTS"]) / "numbers"
out.mkdir(parents=True, exist_ok=True)
(out / "n.json").write_text(json.dumps([1, 2]))
```

## A section

FIRST-CHAPTER-MARK

| a | b |
|---|---|
| 1 | 2 |

: A chapter table. {#tbl-one}
"""


def write_book(root: Path) -> Path:
    book = root / "book"
    book.mkdir(parents=True)
    (book / "book.yml").write_text(BOOK_YML)
    (book / "preface.md").write_text(PREFACE)
    (book / "one.md").write_text(ONE)
    (book / "two.md").write_text(
        "# The second chapter\n\nSECOND-CHAPTER-MARK, as the {ref}`ch-preface` says.\n"
    )
    (book / "app.md").write_text("# An appendix\n\nAPPENDIX-MARK\n")
    return book


def main_tex(tmp_path: Path, only: str | None = None) -> str:
    book = config.load(write_book(tmp_path))
    chapters = [book.chapter(only)] if only else book.chapters
    rendered = [Rendered(ch, tmp_path / "tex" / f"{ch.id}.tex") for ch in chapters]
    name = f"only-{only}" if only else "book"
    main = typeset.write_main(
        book, rendered, Layout(tmp_path / "build"), ROOT / "templates", name, only=bool(only)
    )
    return main.read_text()


def positions(text: str, *needles: str) -> list[int]:
    found = [text.find(n) for n in needles]
    assert -1 not in found, [n for n, at in zip(needles, found, strict=True) if at < 0]
    return found


def test_front_chapters_come_after_the_contents_and_before_the_first_part(tmp_path):
    text = main_tex(tmp_path)
    at = positions(
        text,
        "\\frontmatter",
        "\\tableofcontents",
        "\\input{preface.tex}",
        "\\mainmatter",
        "\\part{Basics}",
        "\\input{one.tex}",
        "\\appendix",
        "\\input{app.tex}",
    )
    assert at == sorted(at)
    assert text.count("\\input{preface.tex}") == 1


def test_only_a_front_chapter_is_front_matter_and_only_a_chapter_is_not(tmp_path):
    preface = main_tex(tmp_path / "p", only="preface")
    assert "\\frontmatter" in preface and "\\mainmatter" not in preface
    assert "\\tableofcontents" not in preface and "\\setcounter{chapter}" not in preface
    one = main_tex(tmp_path / "o", only="one")
    assert "\\frontmatter" not in one and "\\input{preface.tex}" not in one
    assert "\\setcounter{chapter}{0}" in one


def build(book: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "pdf", "--book", str(book), "--out", str(out)]
        + list(args),
        capture_output=True,
        text=True,
        env=dict(os.environ, BOOK_BOOTSTRAPPED="1"),
        timeout=900,
    )


def page_texts(pdf: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(pdf).pages]


@pytest.mark.latex
def test_a_preface_executes_and_is_typeset_unnumbered_in_roman_pages(tmp_path):
    book, out = write_book(tmp_path), tmp_path / "build"
    proc = build(book, out)
    assert proc.returncode == 0, proc.stderr
    # it ran after the chapter whose artifact it uses, its {eval} filled in
    ran = re.findall(r"^executing (\S+)", proc.stderr, re.M)
    assert ran.index("one.md") < ran.index("preface.md")
    reader = PdfReader(out / "book.pdf")
    pages = page_texts(out / "book.pdf")
    labels = reader.page_labels
    preface = next(n for n, t in enumerate(pages) if "PREFACE-OUTPUT 2" in t)
    assert "the book has 2 chapters" in pages[preface]
    first = next(n for n, t in enumerate(pages) if "FIRST-CHAPTER-MARK" in t)
    assert re.fullmatch(r"[ivx]+", labels[preface]) and labels[first] == "2"  # Part I is 1
    # unnumbered: no "1 Preface" heading, no "0.1"/"1" before its section
    assert not re.search(r"\d\s*Preface", pages[preface])
    assert re.search(r"(?m)^What you need", pages[preface])
    assert re.search(r"(?m)^1\s*The first chapter", pages[first])
    # its tables are numbered P.1, ..., and chapter 1's from 1.1 still
    assert "Table P.1: A preface table" in pages[preface]
    assert "Table 1.1: A chapter table" in "".join(pages[first:])
    # a reference to it shows its title, as it has no number
    assert "SECOND-CHAPTER-MARK, as the Preface says." in "".join(pages)
    # in the contents: Preface (roman page) before Part I and chapter 1
    contents = next(t for t in pages if "Contents" in t)
    at = positions(contents, "Preface", "Basics", "The first chapter", "An appendix")
    assert at == sorted(at)
    assert re.search(r"Preface\s*" + labels[preface], contents)
    assert not re.search(r"\d\s*Preface", contents)
    # and in the bookmarks, before the part, without a number
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert titles.index("Preface") < next(i for i, t in enumerate(titles) if "Basics" in t)

    # --only builds the preface alone, still front matter
    proc = build(book, out, "--only", "preface")
    assert proc.returncode == 0, proc.stderr
    alone = PdfReader(out / "preface.pdf")
    assert "PREFACE-OUTPUT 2" in alone.pages[0].extract_text()
    assert re.fullmatch(r"[ivx]+", alone.page_labels[0])
