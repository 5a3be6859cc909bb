"""Stage 4 without LaTeX: key checks, log scanning, errors traced to sources."""

from pathlib import Path

import pytest

from bookbuild import typeset
from bookbuild.config import Book, Chapter
from bookbuild.errors import BookError
from bookbuild.layout import Layout
from bookbuild.render import Rendered

BIB = """\
@comment{jabref-meta: databaseType:biblatex;}
@string{jmlr = "Journal of Machine Learning Research"}
@preamble{"\\newcommand{\\noop}[1]{}"}

@article{vaswani2017attention,
  title = {Attention Is All You Need},
  year = 2017,
}

@InProceedings{ bahdanau2015neural ,
  title = {Neural Machine Translation},
}

@book(goodfellow2016deep,
  title = {Deep Learning},
  journal = jmlr,
)

@comment{ string, with a comma}
"""


@pytest.fixture
def bib(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text(BIB)
    return path


def test_bib_keys(bib):
    assert typeset.bib_keys(bib) == {
        "vaswani2017attention",
        "bahdanau2015neural",
        "goodfellow2016deep",
    }


def test_bib_keys_ignores_entry_commented_out_with_at_comment(tmp_path):
    # biber skips the whole body of @comment{...}, so an entry disabled this
    # way is not in the bibliography
    path = tmp_path / "refs.bib"
    path.write_text(
        "@comment{\n@article{disabled2020,\n  title = {Old},\n}\n}\n\n"
        "@article{kept2021,\n  title = {New},\n}\n"
    )
    assert typeset.bib_keys(path) == {"kept2021"}


def make_chapter(tmp_path: Path, name: str, text: str, number: str = "1") -> Chapter:
    path = tmp_path / f"{name}.md"
    path.write_text(text)
    return Chapter(id=name, path=path, part="P", appendix=False, number=number)


def make_book(tmp_path: Path, chapters, bibliography=None) -> Book:
    return Book(
        root=tmp_path,
        title="T",
        bibliography=bibliography,
        chapters=list(chapters),
        source=tmp_path / "book.yml",
    )


CH1 = """\
# One

(sec-intro)=
## Intro

As shown by [@vaswani2017attention], see {numref}`sec-later`.
Also [@nosuchkey2024].
"""

CH2 = """\
# Two

(sec-later)=
## Later

Back to {ref}`sec-intro` and {ref}`sec-missing`, and {ref}`ch-one`.
"""


@pytest.fixture
def rendered(tmp_path, bib):
    ch1 = make_chapter(tmp_path, "one", CH1, "1")
    ch2 = make_chapter(tmp_path, "two", CH2, "2")
    book = make_book(tmp_path, [ch1, ch2], bib)
    r1 = Rendered(
        ch1,
        tmp_path / "one.tex",
        labels={"sec-intro"},
        refs=["sec-later"],
        cites=["vaswani2017attention"],
    )
    r2 = Rendered(
        ch2, tmp_path / "two.tex", labels={"sec-later"}, refs=["sec-intro", "ch-one"], cites=[]
    )
    return book, r1, r2


def test_check_keys_all_defined(rendered):
    book, r1, r2 = rendered
    typeset.check_keys(book, [r1, r2])  # chapter labels (ch-one) count too


def test_check_keys_unknown_citation(rendered):
    book, r1, r2 = rendered
    r1.cites.append("nosuchkey2024")
    with pytest.raises(BookError) as info:
        typeset.check_keys(book, [r1, r2])
    assert "'nosuchkey2024'" in info.value.message and "refs.bib" in info.value.message
    assert info.value.where == f"{r1.chapter.path}:7"


def test_check_keys_citation_without_bibliography(rendered):
    book, r1, r2 = rendered
    book.bibliography = None
    with pytest.raises(BookError, match="no bibliography"):
        typeset.check_keys(book, [r1, r2])


def test_check_keys_undefined_reference(rendered):
    book, r1, r2 = rendered
    r2.refs.append("sec-missing")
    with pytest.raises(BookError) as info:
        typeset.check_keys(book, [r1, r2])
    assert "'sec-missing'" in info.value.message
    assert info.value.where == f"{r2.chapter.path}:6"


def test_check_keys_reference_line_is_the_keys_own(tmp_path, bib):
    # 'sec-att' is a prefix of the label on line 3; the undefined reference is on line 6
    ch = make_chapter(
        tmp_path, "ch", "# Ch\n\n(sec-attention)=\n## Attention\n\nSee {ref}`sec-att`.\n"
    )
    r = Rendered(ch, tmp_path / "ch.tex", labels={"sec-attention"}, refs=["sec-att"])
    with pytest.raises(BookError) as info:
        typeset.check_keys(make_book(tmp_path, [ch], bib), [r])
    assert info.value.where == f"{ch.path}:6"


def test_check_keys_reports_all_problems(rendered):
    book, r1, r2 = rendered
    r1.cites.append("nosuchkey2024")
    r2.refs.append("sec-missing")
    with pytest.raises(BookError) as info:
        typeset.check_keys(book, [r1, r2])
    assert "nosuchkey2024" in info.value.message
    assert "sec-missing" in info.value.detail
    assert f"{r2.chapter.path}:6" in info.value.detail


def test_check_keys_only_mode_accepts_labels_of_other_chapters(rendered):
    book, r1, r2 = rendered
    # --only renders one chapter; the others' labels come from their last render
    typeset.check_keys(book, [r1], elsewhere=r2.labels | {r2.chapter.label})
    r1.refs.append("sec-nowhere")
    with pytest.raises(BookError, match="sec-nowhere"):
        typeset.check_keys(book, [r1], elsewhere=r2.labels | {r2.chapter.label})


def test_check_keys_only_mode_still_checks_citations(rendered):
    book, r1, r2 = rendered
    r1.cites.append("nosuchkey2024")
    with pytest.raises(BookError, match="nosuchkey2024"):
        typeset.check_keys(book, [r1], elsewhere=r2.labels)


LOG = """\
This is LuaHBTeX, Version 1.18.0 (TeX Live 2024)
Overfull \\hbox (12.3pt too wide) in paragraph at lines 10--12
Underfull \\hbox (badness 10000) in paragraph at lines 20--20
Overfull \\hbox (1.0pt too wide) detected at line 33
Overfull \\vbox (3.0pt too high) has occurred while \\output is active
Underfull \\vbox (badness 10000) has occurred while \\output is active []
Underfull \\vbox (badness 1122) detected at line 77
Missing character: There is no 中 (U+4E2D) in font lmroman10-regular!
Missing character: There is no 文 (U+6587) in font lmroman10-regular!
LaTeX Warning: Reference `sec-x' on page 3 undefined on input line 120.
LaTeX Warning: Reference `sec-x' on page 4 undefined on input line 130.
LaTeX Warning: Citation 'smith2020' on page 5 undefined on input line 140.
Some text mentioning Overfull \\hbox mid-line.
Output written on book.pdf (42 pages, 123456 bytes).
"""


def test_warnings_counts():
    w = typeset._warnings(LOG)
    assert w == {
        "overfull": 2,
        "underfull": 1,
        "underfull_vbox": 2,
        "undefined": ["sec-x", "smith2020"],
        "missing_chars": 2,
    }


def test_warnings_clean_log():
    assert typeset._warnings("All fine.\n") == {
        "overfull": 0,
        "underfull": 0,
        "underfull_vbox": 0,
        "undefined": [],
        "missing_chars": 0,
    }


def test_summary_line_names_every_kind_of_warning():
    result = typeset.Typeset(
        Path("b.pdf"), 3, "typeset", overfull=0, underfull_vbox=3, split=["ch.md:40"]
    )
    assert result.warnings() == "0 overfull boxes, 3 underfull vboxes, 1 split listing (ch.md:40)"
    result = typeset.Typeset(
        Path("b.pdf"),
        3,
        "typeset",
        overfull=1,
        underfull_vbox=1,
        missing_chars=2,
        undefined=["sec-x"],
        split=["a.md:1", "b.md:2"],
    )
    assert result.warnings() == (
        "1 overfull box, 1 underfull vbox, 2 split listings "
        "(a.md:1, b.md:2), 2 missing glyphs, undefined: sec-x"
    )
    many = typeset.Typeset(Path("b.pdf"), 3, "typeset", split=[f"c.md:{n}" for n in range(6)])
    assert many.warnings().endswith("6 split listings (c.md:0, c.md:1, c.md:2, c.md:3 and 2 more)")


def test_a_stamp_from_before_the_new_counts_still_loads():
    old = {"overfull": 1, "underfull": 0, "undefined": [], "missing_chars": 0}
    assert typeset.Typeset(Path("b.pdf"), 3, "unchanged", **old).warnings() == (
        "1 overfull box, 0 underfull vboxes, 0 split listings"
    )


# The marks name /src/book: rendered before the book folder moved (to tmp_path),
# so messages must take the path from the chapter and the line from the mark.
CH_TEX = [
    "% Generated from ch.md",  # 1
    "\\chapter{Ch}",  # 2
    "% BOOK-SOURCE /src/book/ch.md:7",  # 3
    "\\begin{bookcode}",  # 4
    "x",  # 5
    "\\end{bookcode}",  # 6
    "% BOOK-SOURCE /src/book/ch.md:15",  # 7
    "\\begin{bookcode}",  # 8
    "y",  # 9
    "\\end{bookcode}",  # 10
    "\\begin{bookoutput}",  # 11
    "\\badmacro",  # 12
    "\\end{bookoutput}",  # 13
    "% BOOK-SOURCE /src/book/ch.md:30",  # 14
    "z",  # 15
]


@pytest.fixture
def latex_setup(tmp_path):
    tex_dir = tmp_path / "tex"
    tex_dir.mkdir()
    tex = tex_dir / "ch.tex"
    tex.write_text("\n".join(CH_TEX) + "\n")
    ch = make_chapter(tmp_path, "ch", "# Ch\n")
    return tex_dir, [Rendered(ch, tex)]


def test_latex_error_mapped_to_book_source(latex_setup):
    tex_dir, rendered = latex_setup
    log = (
        "(./ch.tex\n"
        "./ch.tex:12: Undefined control sequence.\n"
        "l.12 \\badmacro\n"
        "\n"
        "The control sequence at the end of the top line\n"
    )
    err = typeset._latex_error(log, tex_dir, rendered)
    assert err.message == "LaTeX error: Undefined control sequence."
    assert err.where == f"{rendered[0].chapter.path}:15"
    assert "l.12 \\badmacro" in err.detail
    assert f"(generated LaTeX: {(tex_dir / 'ch.tex').resolve()}:12)" in err.detail


@pytest.mark.parametrize("line,source_line", [(3, 7), (6, 7), (14, 30), (15, 30)])
def test_latex_error_nearest_preceding_marker(latex_setup, line, source_line):
    tex_dir, rendered = latex_setup
    err = typeset._latex_error(f"./ch.tex:{line}: Oops.\n", tex_dir, rendered)
    assert err.where == f"{rendered[0].chapter.path}:{source_line}"


def test_latex_error_before_any_marker_names_the_chapter(latex_setup):
    tex_dir, rendered = latex_setup
    err = typeset._latex_error("./ch.tex:2: Oops.\n", tex_dir, rendered)
    assert err.where == str(rendered[0].chapter.path)


def test_latex_error_in_other_file(latex_setup):
    tex_dir, rendered = latex_setup
    err = typeset._latex_error("./book.tex:40: Missing $ inserted.\n", tex_dir, rendered)
    assert err.where == f"{(tex_dir / 'book.tex').resolve()}:40"
    assert err.message == "LaTeX error: Missing $ inserted."


def test_latex_error_without_file_line(latex_setup):
    tex_dir, rendered = latex_setup
    log = "noise\n! Emergency stop.\n<*> book.tex\n"
    err = typeset._latex_error(log, tex_dir, rendered)
    assert err.message == "LaTeX failed"
    assert err.where == str(tex_dir)
    assert err.detail.startswith("! Emergency stop.")


def test_template_errors_name_the_template_and_line(tmp_path, rendered):
    book, r1, r2 = rendered
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "book.tex.j2").write_text("\\documentclass{book}\n((* if *))\n")
    with pytest.raises(BookError) as info:
        typeset.write_main(book, [r1, r2], Layout(tmp_path), templates, "book", only=False)
    assert info.value.where.endswith("book.tex.j2:2")
    (templates / "book.tex.j2").write_text("line one\n((( no_such_variable )))\n")
    with pytest.raises(BookError) as info:
        typeset.write_main(book, [r1, r2], Layout(tmp_path), templates, "book", only=False)
    assert info.value.where.endswith("book.tex.j2:2") and "no_such_variable" in str(info.value)


def test_split_boxes_are_traced_to_their_cells(latex_setup):
    tex_dir, rendered = latex_setup
    log = (
        "BOOK-SPLIT ./ch.tex:10\nnoise\nBOOK-SPLIT ./ch.tex:13\n"
        "BOOK-SPLIT ./ch.tex:10\nBOOK-SPLIT ./book.tex:5\n"
    )
    assert typeset._split_boxes(log, tex_dir, rendered) == [
        f"{rendered[0].chapter.path}:15",
        f"{(tex_dir / 'book.tex').resolve()}:5",
    ]
    assert typeset._split_boxes("no boxes broke\n", tex_dir, rendered) == []


PDF_TAIL = b"xref stream << /Size 9 /ID [<%s> <%s>] /Filter /FlateDecode >>\n%%%%EOF\n"


def test_content_id_replaces_the_placeholder_by_the_files_hash():
    zeros = typeset.TRAILER_ID_PLACEHOLDER.encode()
    pdf = b"%PDF-1.5 body " + PDF_TAIL % (zeros, zeros)
    out = typeset.with_content_id(pdf)
    assert len(out) == len(pdf) and zeros not in out
    other = typeset.with_content_id(pdf.replace(b"body", b"BODY"))
    assert other.replace(b"BODY", b"body") != out, "the ID depends on the content"
    assert typeset.with_content_id(pdf) == out, "and on nothing else"


def test_content_id_needs_the_placeholder():
    with pytest.raises(BookError, match="trailer /ID"):
        typeset.with_content_id(b"%PDF-1.5 " + PDF_TAIL % (b"AB" * 16, b"AB" * 16))
