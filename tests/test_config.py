"""Stage 0: book.yml -> config.Book (no LaTeX, no kernels)."""

import json
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


def test_a_book_yml_that_passed_is_not_checked_again_and_an_edit_is(full_book, tmp_path):
    checked = tmp_path / "cache" / "book-yml.sha256"
    config.load(full_book, checked)
    assert checked.exists()
    config.load(full_book, checked)  # the same text: the schema is not consulted
    yml = full_book / "book.yml"
    yml.write_text(yml.read_text().replace("title:", "titel:", 1))
    with pytest.raises(BookError, match="'titel'|'title'"):
        config.load(full_book, checked)


@pytest.fixture
def full_book(tmp_path):
    return write_book(
        tmp_path,
        BOOK_YML,
        ["one.md", "two.md", "three.ipynb", "appa.md", "appb.md", "refs.bib", "corpus.txt"],
    )


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
    assert [c.label for c in book.chapters] == [
        "ch-one",
        "ch-two",
        "ch-three",
        "ch-appa",
        "ch-appb",
    ]


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


# Each bad book.yml marks the line its error must name with "# <-" (a YAML comment).
BAD_BOOKS = [
    pytest.param(
        "subtitle: no title here  # <-\nparts:\n  - chapters: [a.md]\n",
        ["a.md"],
        "book.yml needs a 'title'",
        id="missing-title",
    ),
    pytest.param(
        "title: ''  # <-\nparts:\n  - chapters: [a.md]\n",
        ["a.md"],
        "'title' must not be empty",
        id="empty-title",
    ),
    pytest.param(
        """\
        title: T
        parts:
          - title: P
            chapters:
              - file: a.md
              - file: missing.md  # <-
        """,
        ["a.md"],
        "chapter file 'missing.md' not found",
        id="missing-chapter-file",
    ),
    # 'tokenizer.md' is a substring of 'bpe-tokenizer.md' on an earlier line
    pytest.param(
        """\
        title: T
        parts:
          - title: P
            chapters:
              - file: bpe-tokenizer.md
              - file: tokenizer.md  # <-
        """,
        ["bpe-tokenizer.md"],
        "chapter file 'tokenizer.md' not found",
        id="missing-chapter-not-a-longer-name",
    ),
    pytest.param(
        "title: T\nparts:\n  - chapters: [a.md]\nappendices:\n  - gone.md  # <-\n",
        ["a.md"],
        "chapter file 'gone.md' not found",
        id="missing-appendix",
    ),
    pytest.param(
        "title: T\nchapters:\n  - a.md\n  - file: b.md  # <-\n",
        ["a.md"],
        "chapter file 'b.md' not found",
        id="missing-top-level-chapter",
    ),
    pytest.param(
        """\
        title: T
        parts:
          - chapters:
              - a.md
              - notes.txt  # <-
        """,
        ["a.md", "notes.txt"],
        "chapter 'notes.txt' must be a .md (MyST) or .ipynb file",
        id="bad-suffix",
    ),
    pytest.param(
        "title: T\nparts:\n  - title: P\n   chapters: x  # <-\n",
        [],
        "book.yml is not valid YAML",
        id="invalid-yaml",
    ),
    pytest.param(
        """\
        title: T
        parts:
          - chapters:
              - file: a.md
                data: [nope.csv]  # <-
        """,
        ["a.md"],
        "nope.csv declared by 'a.md' not found",
        id="missing-data-file",
    ),
    pytest.param(
        "title: T\nparts:  # <-\n  - title: P\n    chapters: []\n",
        [],
        "book.yml lists no chapters",
        id="no-chapters",
    ),
    pytest.param(
        "title: T\nappendices: []\nchapters:  # <-\n",
        [],
        "book.yml lists no chapters",
        id="no-chapters-top-level",
    ),
    pytest.param(
        "title: T\nbibliography: refs.bib  # <-\nparts:\n  - chapters: [a.md]\n",
        ["a.md"],
        "bibliography 'refs.bib' not found",
        id="missing-bibliography",
    ),
    pytest.param(
        """\
        title: T
        parts:
          - chapters:
              - file: a.md
                produces: [x]
              - file: b.md  # <-
                uses: [x, y]
        """,
        ["a.md", "b.md"],
        "b.md uses artifact 'y', which no chapter produces",
        id="artifact-never-produced",
    ),
    pytest.param(
        """\
        title: T
        parts:
          - chapters:
              - file: a.md
                produces: [x]
              - file: b.md  # <-
                produces: [x]
        """,
        ["a.md", "b.md"],
        "artifact 'x' is produced by both a.md and b.md",
        id="duplicate-producers",
    ),
    pytest.param(
        "title: T\nparts:\n  - chapters: [a.md]\nappendices: [a.ipynb]  # <-\n",
        ["a.md", "a.ipynb"],
        "two chapters share the name 'a'",
        id="duplicate-ids",
    ),
    pytest.param(
        """\
        title: T
        chapters:
          - file: a.md  # <-
            produces: [x]
            uses: [y]
          - file: b.md
            produces: [y]
            uses: [x]
        """,
        ["a.md", "b.md"],
        "artifact cycle: a -> b -> a",
        id="cycle",
    ),
    # the schema: unknown keys at every level, with the closest valid key
    pytest.param(
        "title: T\nbibliografy: refs.bib  # <-\nchapters: [a.md]\n",
        ["a.md"],
        "unknown key 'bibliografy' (did you mean 'bibliography'?)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "title: T\nexecute:\n  timeout: 5\n  sed: 3  # <-\nchapters: [a.md]\n",
        ["a.md"],
        "unknown key 'sed' (did you mean 'seed'?)",
        id="unknown-execute-key",
    ),
    pytest.param(
        "title: T\nparts:\n  - titel: P  # <-\n    chapters: [a.md]\n",
        ["a.md"],
        "unknown key 'titel' (did you mean 'title'?)",
        id="unknown-part-key",
    ),
    pytest.param(
        """\
        title: T
        chapters:
          - file: a.md
            produce: [x]  # <-
        """,
        ["a.md"],
        "unknown key 'produce' (did you mean 'produces'?)",
        id="unknown-chapter-key",
    ),
    pytest.param(
        "title: T\nprose:\n  allowed: [GPT-2]  # <-\nchapters: [a.md]\n",
        ["a.md"],
        "unknown key 'allowed' (did you mean 'allow'?)",
        id="unknown-prose-key",
    ),
    pytest.param(
        "title: T\nchapters: [a.md]\nzzz: 1  # <-\n",
        ["a.md"],
        "unknown key 'zzz' (valid keys: title, subtitle,",
        id="unknown-key-no-match",
    ),
    # the first error in file order wins, whatever order the schema reports them in
    pytest.param(
        "title: T\nchapterz: [a.md]  # <-\nexecute: {seed: x}\nchapters: [a.md]\n",
        ["a.md"],
        "unknown key 'chapterz'",
        id="first-error-in-file-order",
    ),
    # wrong types
    pytest.param(
        "title: T\nexecute:\n  seed: seven  # <-\nchapters: [a.md]\n",
        ["a.md"],
        "'seed' must be an integer",
        id="seed-type",
    ),
    pytest.param(
        "title: T\nchapters:\n  - file: a.md\n    timeout: 0  # <-\n",
        ["a.md"],
        "'timeout' must be at least 1",
        id="timeout-minimum",
    ),
    pytest.param(
        "title: T\nauthors: Ada  # <-\nchapters: [a.md]\n",
        ["a.md"],
        "'authors' must be a list",
        id="authors-type",
    ),
    pytest.param(
        "title: T\nchapters:\n  - a.md\n  - [b.md]  # <-\n",
        ["a.md"],
        "each entry of 'chapters' must be a string or a mapping",
        id="entry-type",
    ),
    pytest.param(
        "title: T\nchapters:\n  - video: https://v.example  # <-\n",
        [],
        "a chapter entry needs a 'file'",
        id="entry-without-file",
    ),
    pytest.param("- title: T  # <-\n", [], "book.yml must be a mapping", id="not-a-mapping"),
    # front matter: the same entries, and the same errors, as chapters
    pytest.param(
        "title: T\nfront: preface.md  # <-\nchapters: [a.md]\n",
        ["a.md", "preface.md"],
        "'front' must be a list",
        id="front-type",
    ),
    pytest.param(
        "title: T\nfront:\n  - file: preface.md\n    vidoe: https://v.example  # <-\n"
        "chapters: [a.md]\n",
        ["a.md", "preface.md"],
        "unknown key 'vidoe' (did you mean 'video'?)",
        id="unknown-front-key",
    ),
    pytest.param(
        "title: T\nfront:\n  - [preface.md]  # <-\nchapters: [a.md]\n",
        ["a.md"],
        "each entry of 'front' must be a string or a mapping",
        id="front-entry-type",
    ),
    pytest.param(
        "title: T\nfront:\n  - file: preface.md  # <-\nchapters: [a.md]\n",
        ["a.md"],
        "chapter file 'preface.md' not found",
        id="missing-front-file",
    ),
    pytest.param(
        "title: T\nfront: [a.md]\nchapters:\n  - a.md  # <-\n",
        ["a.md"],
        "two chapters share the name 'a'",
        id="front-and-chapter-share-a-file",
    ),
    pytest.param(
        "title: T\nparts:\n  - chapters: [a.md]\nchapters: [b.md]  # <-\n",
        ["a.md", "b.md"],
        "book.yml lists both 'chapters' and 'parts'",
        id="chapters-and-parts",
    ),
]


@pytest.mark.parametrize("yml, files, message", BAD_BOOKS)
def test_bad_book_yml_names_key_and_line(tmp_path, yml, files, message):
    book = write_book(tmp_path, yml, files)
    err = load_error(book)
    assert message in err.message
    assert err.where == f"{source(book)}:{line_of(book, '# <-')}"


def test_every_schema_error_is_reported(tmp_path):
    book = write_book(
        tmp_path, "title: T\nsubtitel: S\nexecute: {seed: x}\nchapters: [a.md]\n", ["a.md"]
    )
    err = load_error(book)
    assert err.where == f"{source(book)}:2" and "'subtitel'" in err.message
    assert err.detail == f"{source(book)}:3: 'seed' must be an integer"


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


def test_schedule_releases_a_chapter_once_its_producers_are_done(tmp_path):
    book = config.load(write_book(tmp_path, CHAIN, [f"c{i}.md" for i in range(1, 6)]))
    sorter = config.schedule(book, [book.chapter("c4")])  # c4 needs c2, c2 needs c1
    assert set(sorter.get_ready()) == {"c1"}
    sorter.done("c1")
    assert set(sorter.get_ready()) == {"c2"}
    sorter.done("c2")
    assert set(sorter.get_ready()) == {"c4"}
    sorter.done("c4")
    assert not sorter.is_active()

    everything = config.schedule(book, book.chapters)
    assert set(everything.get_ready()) == {"c1", "c3"}  # independent: may run in parallel


def test_cycle_names_its_chapters_in_order_from_the_first(tmp_path):
    book = write_book(
        tmp_path,
        """\
        title: T
        chapters:
          - file: a.md
            uses: [z]
            produces: [x]
          - file: b.md
            uses: [x]
            produces: [y]
          - file: c.md
            uses: [y]
            produces: [z]
        """,
        ["a.md", "b.md", "c.md"],
    )
    err = load_error(book)
    # from the earliest chapter; each arrow goes from a producer to a chapter using its artifact
    assert "artifact cycle: a -> b -> c -> a" in err.message
    assert err.where == f"{source(book)}:3"


def test_a_book_without_parts(tmp_path):
    book = config.load(
        write_book(
            tmp_path,
            """\
        title: T
        chapters:
          - one.md
          - file: two.ipynb
            timeout: 9
        appendices: [app.md]
        """,
            ["one.md", "two.ipynb", "app.md"],
        )
    )
    got = [(c.id, c.number, c.part, c.appendix, c.timeout) for c in book.chapters]
    assert got == [
        ("one", "1", None, False, 600),
        ("two", "2", None, False, 9),
        ("app", "A", None, True, 600),
    ]
    assert book.chapters[1].where == f"{book.source}:4"


def test_front_matter_comes_first_unnumbered_and_executes_like_a_chapter(tmp_path):
    book = config.load(
        write_book(
            tmp_path,
            """\
        title: T
        front:
          - file: preface.md
            uses: [model]
          - foreword.md
        parts:
          - title: P
            chapters:
              - file: one.md
                produces: [model]
              - two.md
        appendices: [app.md]
        """,
            ["preface.md", "foreword.md", "one.md", "two.md", "app.md"],
        )
    )
    got = [(c.id, c.number, c.part, c.front, c.appendix) for c in book.chapters]
    assert got == [
        ("preface", "", None, True, False),
        ("foreword", "", None, True, False),
        ("one", "1", "P", False, False),  # numbering starts at the first real chapter
        ("two", "2", "P", False, False),
        ("app", "A", None, False, True),
    ]
    preface = book.chapter("preface")
    assert preface.where == f"{book.source}:3"
    # it may use an artifact: it then runs after the chapter producing it
    assert [c.id for c in config.producers_of(book, preface)] == ["one"]


def test_empty_sections_and_dates_as_text(tmp_path):
    book = config.load(
        write_book(
            tmp_path,
            """\
        title: T
        date: 2026-05-01
        edition: 2
        execute:
        prose:
          allow: [GPT-2, 20 tokens per parameter]
        parts:
          - title: Drafted
            chapters:
          - title: Written
            chapters: [a.md]
        appendices:
        front:
        """,
            ["a.md"],
        )
    )
    assert book.date == "2026-05-01"  # not datetime.date, and printed as written
    assert book.edition == "2"
    assert book.prose_allow == ["GPT-2", "20 tokens per parameter"]
    assert [(c.id, c.number, c.part) for c in book.chapters] == [("a", "1", "Written")]


# --- The schema itself -------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def schema_objects(node):
    """Every subschema that describes a mapping."""
    if isinstance(node, dict):
        if "properties" in node:
            yield node
        for value in node.values():
            yield from schema_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_objects(value)


def test_schema_is_valid_and_closed_at_every_level():
    from jsonschema import Draft202012Validator

    schema = json.loads(config.SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    objects = list(schema_objects(schema))
    assert len(objects) == 5  # book, execute, prose, part, chapter entry
    assert all(o["additionalProperties"] is False for o in objects)


def test_schema_accepts_the_real_book_and_the_fixture():
    assert len(config.load(ROOT / "book").chapters) >= 7
    assert [c.id for c in config.load(ROOT / "tests" / "fixtures" / "mini").chapters] == [
        "intro",
        "second",
        "alpha",
        "beta",
        "extra",
    ]


def test_readme_documents_every_schema_key():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## book.yml\n", 1)[1].split("\n## ", 1)[0]
    schema = json.loads(config.SCHEMA.read_text())
    keys = {key for o in schema_objects(schema) for key in o["properties"]}
    assert {key for key in keys if f"{key}:" not in section} == set()
