"""Stage 0: book.yml -> config.Book (no LaTeX, no kernels)."""

import textwrap
from pathlib import Path

import pytest

from bookbuild import config
from bookbuild.errors import BookError

BOOK_YML = """\
title: A Test Book
subtitle: With a subtitle
authors:
  - Ada
  - Alan
repository: https://example.org/repo/
bibliography: refs.bib
execute:
  timeout: 100
  seed: 7
parts:
  - title: Part One
    chapters:
      - file: one.md
        video: https://video.example/one
        produces: [tokenizer]
      - two.md
  - title: Part Two
    chapters:
      - file: three.ipynb
        uses: [tokenizer]
        produces: [model]
        data: [corpus.txt]
        timeout: 5
appendices:
  - file: appa.md
    uses: [model]
  - appb.md
"""


def write_book(root: Path, yml: str, files=()) -> Path:
    book = root / "book"
    book.mkdir()
    (book / "book.yml").write_text(textwrap.dedent(yml))
    for name in files:
        (book / name).write_text("# Title\n")
    return book


def line_of(book: Path, needle: str) -> int:
    lines = (book / "book.yml").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


def source(book: Path) -> str:
    return str((book / "book.yml").resolve())


def load_error(book: Path) -> BookError:
    with pytest.raises(BookError) as info:
        config.load(book)
    return info.value


@pytest.fixture
def full_book(tmp_path):
    return write_book(tmp_path, BOOK_YML, ["one.md", "two.md", "three.ipynb", "appa.md",
                                           "appb.md", "refs.bib", "corpus.txt"])


def test_chapters_numbered_in_parts_then_appendices(full_book):
    book = config.load(full_book)
    got = [(c.id, c.number, c.part, c.appendix) for c in book.chapters]
    assert got == [
        ("one", "1", "Part One", False),
        ("two", "2", "Part One", False),
        ("three", "3", "Part Two", False),
        ("appa", "A", None, True),
        ("appb", "B", None, True),
    ]
    assert [c.label for c in book.chapters] == ["ch-one", "ch-two", "ch-three", "ch-appa", "ch-appb"]


def test_book_metadata(full_book):
    book = config.load(full_book)
    root = full_book.resolve()
    assert book.title == "A Test Book"
    assert book.subtitle == "With a subtitle"
    assert book.authors == ["Ada", "Alan"]
    assert book.seed == 7
    assert book.root == root
    assert book.source == root / "book.yml"
    assert book.bibliography == root / "refs.bib"


def test_chapter_fields(full_book):
    book = config.load(full_book)
    root = full_book.resolve()
    one, two, three, appa, appb = book.chapters
    assert one.video == "https://video.example/one"
    assert one.produces == ["tokenizer"] and one.uses == []
    assert two.video is None and two.produces == [] and two.uses == []
    assert three.uses == ["tokenizer"] and three.produces == ["model"]
    assert three.data == [root / "corpus.txt"]
    assert three.path == root / "three.ipynb"
    # a chapter's own timeout wins; the others take execute.timeout
    assert three.timeout == 5
    assert [one.timeout, two.timeout, appa.timeout, appb.timeout] == [100, 100, 100, 100]
    assert appa.uses == ["model"]


def test_default_timeout_and_chapter_lookup(tmp_path):
    book_dir = write_book(tmp_path, "title: T\nparts:\n  - chapters: [a.md]\n", ["a.md"])
    book = config.load(book_dir)
    assert book.chapters[0].timeout == 600
    assert book.chapters[0].part is None
    assert book.chapter("a") is book.chapters[0]
    assert book.chapter("a.md") is book.chapters[0]
    with pytest.raises(BookError, match="no chapter 'zzz'"):
        book.chapter("zzz")


def test_source_url(full_book):
    book = config.load(full_book)
    url = book.source_url(book.chapters[0].path)
    assert url == "https://example.org/repo/blob/main/book/one.md"


def test_missing_book_yml(tmp_path):
    with pytest.raises(BookError, match="no book.yml"):
        config.load(tmp_path)


def test_missing_title(tmp_path):
    book = write_book(tmp_path, "subtitle: no title here\nparts:\n  - chapters: [a.md]\n",
                      ["a.md"])
    err = load_error(book)
    assert "title" in err.message
    assert err.where.startswith(source(book) + ":")


def test_missing_chapter_file_points_at_its_line(tmp_path):
    book = write_book(tmp_path, """\
        title: T
        parts:
          - title: P
            chapters:
              - file: a.md
              - file: missing.md
        """, ["a.md"])
    err = load_error(book)
    assert "missing.md" in err.message
    assert err.where == f"{source(book)}:6"


def test_missing_chapter_file_line_is_not_a_longer_names_line(tmp_path):
    # 'tokenizer.md' is a substring of 'bpe-tokenizer.md' on an earlier line;
    # the error must point at the entry that names the missing file.
    book = write_book(tmp_path, """\
        title: T
        parts:
          - title: P
            chapters:
              - file: bpe-tokenizer.md
              - file: tokenizer.md
        """, ["bpe-tokenizer.md"])
    err = load_error(book)
    assert "'tokenizer.md'" in err.message
    assert err.where == f"{source(book)}:6"


def test_missing_chapter_in_appendices(tmp_path):
    book = write_book(tmp_path, """\
        title: T
        parts:
          - chapters: [a.md]
        appendices:
          - gone.md
        """, ["a.md"])
    err = load_error(book)
    assert err.where == f"{source(book)}:5"


def test_bad_suffix(tmp_path):
    book = write_book(tmp_path, """\
        title: T
        parts:
          - chapters:
              - a.md
              - notes.txt
        """, ["a.md", "notes.txt"])
    err = load_error(book)
    assert ".md" in err.message and "notes.txt" in err.message
    assert err.where == f"{source(book)}:5"


def test_invalid_yaml_reports_line(tmp_path):
    book = write_book(tmp_path, "title: T\nparts:\n  - title: P\n   chapters: x\n")
    err = load_error(book)
    assert "not valid YAML" in err.message
    assert err.where == f"{source(book)}:4"


def test_missing_data_file(tmp_path):
    book = write_book(tmp_path, """\
        title: T
        parts:
          - chapters:
              - file: a.md
                data: [nope.csv]
        """, ["a.md"])
    err = load_error(book)
    assert "nope.csv" in err.message


def test_no_chapters(tmp_path):
    book = write_book(tmp_path, "title: T\nparts:\n  - title: P\n    chapters: []\n")
    err = load_error(book)
    assert "no chapters" in err.message
    assert err.where.startswith(source(book))


def test_missing_bibliography(tmp_path):
    book = write_book(tmp_path, "title: T\nbibliography: refs.bib\nparts:\n"
                      "  - chapters: [a.md]\n", ["a.md"])
    err = load_error(book)
    assert "refs.bib" in err.message
    assert err.where == f"{source(book)}:2"


def test_artifact_used_but_never_produced(tmp_path):
    book = write_book(tmp_path, """\
        title: T
        parts:
          - chapters:
              - file: a.md
                produces: [x]
              - file: b.md
                uses: [x, y]
        """, ["a.md", "b.md"])
    err = load_error(book)
    assert "'y'" in err.message and "b.md" in err.message
    assert err.where == f"{source(book)}:6"


def test_duplicate_producers(tmp_path):
    book = write_book(tmp_path, """\
        title: T
        parts:
          - chapters:
              - file: a.md
                produces: [x]
              - file: b.md
                produces: [x]
        """, ["a.md", "b.md"])
    err = load_error(book)
    assert "'x'" in err.message and "a.md" in err.message and "b.md" in err.message
    assert err.where == f"{source(book)}:6"


def test_duplicate_chapter_ids(tmp_path):
    book = write_book(tmp_path, """\
        title: T
        parts:
          - chapters: [a.md]
        appendices: [a.ipynb]
        """, ["a.md", "a.ipynb"])
    err = load_error(book)
    assert "'a'" in err.message


CHAIN = """\
title: T
parts:
  - chapters:
      - file: c1.md
        produces: [vocab]
      - file: c2.md
        produces: [tok]
        uses: [vocab]
      - file: c3.md
        produces: [data]
      - file: c4.md
        uses: [tok]
      - file: c5.md
        uses: [data, tok]
"""


def test_producers_of_is_transitive(tmp_path):
    book = config.load(write_book(tmp_path, CHAIN, [f"c{i}.md" for i in range(1, 6)]))

    def ids(name):
        return [c.id for c in config.producers_of(book, book.chapter(name))]

    assert ids("c1") == []
    assert ids("c2") == ["c1"]
    assert ids("c4") == ["c1", "c2"]  # c4 -> tok (c2) -> vocab (c1): producers first


def test_producers_of_in_book_order(tmp_path):
    # documented: "transitively, in book order", whatever order 'uses' lists them in
    book = config.load(write_book(tmp_path, CHAIN, [f"c{i}.md" for i in range(1, 6)]))
    got = [c.id for c in config.producers_of(book, book.chapter("c5"))]
    assert got == ["c1", "c2", "c3"]


def test_producers_of_cycle(tmp_path):
    book = config.load(write_book(tmp_path, """\
        title: T
        parts:
          - chapters:
              - file: a.md
                produces: [x]
                uses: [y]
              - file: b.md
                produces: [y]
                uses: [x]
        """, ["a.md", "b.md"]))
    with pytest.raises(BookError, match="cycle"):
        config.producers_of(book, book.chapter("a"))
