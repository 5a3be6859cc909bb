"""Reproducible PDFs, one build at a time per folder, and the page layout.

The fixture book is built in two folders: in the first by two builds started
together (the second must wait for the first), in the second by one build.
The PDFs must be the same bytes.  The layout rules (short boxes and listings
never break, captions stay with their code, broken boxes are reported) are
checked on a chapter made to cross many page breaks.
"""

import fcntl
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_build import ROOT, copy_book, pdf_text

from bookbuild import listings, typeset
from bookbuild.config import Book, Chapter
from bookbuild.files import HashMemo
from bookbuild.layout import Layout
from bookbuild.log import Log
from bookbuild.render import Rendered

WAITING = "waiting for another build in {out} (pid {pid})"


def start(command: str, book: Path, out: Path, stderr, **env) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), command, "--book", str(book), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        env=dict(environ, BOOK_BOOTSTRAPPED="1", **env),
    )


def first_difference(a: bytes, b: bytes) -> str:
    """Where two PDFs part: the byte offset and the PDF text around it."""
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    around = slice(max(0, at - 120), at + 60)
    return (
        f"sizes {len(a)} and {len(b)}, first difference at byte {at}:\n"
        f"  {a[around]!r}\n  {b[around]!r}"
    )


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory):
    """Folder one: two builds started at once; folder two: one build."""
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    book1, out1 = copy_book(one)
    book2, out2 = copy_book(two)
    logs = [one / "first.txt", one / "second.txt", two / "only.txt"]
    handles = [open(log, "w") for log in logs]
    try:
        procs = [
            start("pdf", book1, out1, handles[0]),
            start("pdf", book1, out1, handles[1]),
            start("pdf", book2, out2, handles[2]),
        ]
        codes = [p.wait(timeout=1200) for p in procs]
    finally:
        for handle in handles:
            handle.close()
    return [(code, log.read_text()) for code, log in zip(codes, logs, strict=True)], out1, out2


@pytest.mark.latex
def test_a_second_build_in_the_same_folder_waits_for_the_first(two_folders):
    (code1, err1), (code2, err2), _ = two_folders[0]
    out = two_folders[1]
    assert code1 == 0 and code2 == 0, err1 + err2
    waiter, other = (err2, err1) if "waiting for another build" in err2 else (err1, err2)
    assert re.search(re.escape(f"waiting for another build in {out} (pid ") + r"\d+\)", waiter)
    assert waiter.count("waiting for another build") == 1 and "waiting" not in other
    assert "chapters: 5 executed" in other
    # the waiter starts after the first is done: everything is cached and typeset
    assert "chapters: 0 executed, 5 cached" in waiter and "unchanged)" in waiter
    assert len(PdfReader(out / "book.pdf").pages) > 5
    assert "APPENDIX-OUTPUT 42" in pdf_text(out / "book.pdf")


@pytest.mark.latex
def test_builds_in_two_folders_give_the_same_bytes(two_folders):
    runs, out1, out2 = two_folders
    assert all(code == 0 for code, _ in runs), "\n".join(err for _, err in runs)
    a, b = (out1 / "book.pdf").read_bytes(), (out2 / "book.pdf").read_bytes()
    assert a == b, first_difference(a, b)
    for folder in (out1, out2):
        assert str(folder.parent).encode() not in a, "a build path is in the PDF"


@pytest.mark.latex
def test_the_pdf_is_dated_and_identified_without_the_clock(two_folders):
    pdf = two_folders[1] / "book.pdf"
    reader = PdfReader(pdf)
    # a copy outside any git repository, and no SOURCE_DATE_EPOCH: the fallback
    assert reader.metadata.creation_date.timestamp() == typeset.FALLBACK_EPOCH
    assert reader.metadata.modification_date.timestamp() == typeset.FALLBACK_EPOCH
    data = pdf.read_bytes()
    ids = re.findall(rb"/ID \[<([0-9A-F]{32})> <([0-9A-F]{32})>\]", data)
    assert len(ids) == 1 and ids[0][0] == ids[0][1], ids
    placeholder = data.replace(ids[0][0], typeset.TRAILER_ID_PLACEHOLDER.encode())
    assert typeset.with_content_id(placeholder) == data  # the ID is the file's own hash


@pytest.mark.latex
def test_empty_lists_are_not_printed(two_folders):
    text = pdf_text(two_folders[1] / "book.pdf")
    assert "List of Figures" in text and "List of Tables" in text
    assert "List of Listings" not in text  # the fixture book has no listing


def test_source_date_epoch_comes_from_the_env_then_git_then_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert typeset.source_date_epoch(tmp_path) == 1700000000
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert typeset.source_date_epoch(tmp_path) == typeset.FALLBACK_EPOCH
    git = ["git", "-C", str(tmp_path), "-c", "user.name=T", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "book.yml").write_text("title: T\n")
    subprocess.run(git + ["add", "book.yml"], check=True)
    subprocess.run(
        git + ["commit", "-q", "-m", "one", "--date", "@1600000000"],
        check=True,
        env=dict(os.environ, GIT_COMMITTER_DATE="@1600000000"),
    )
    assert typeset.source_date_epoch(tmp_path) == 1600000000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(Exception, match="SOURCE_DATE_EPOCH"):
        typeset.source_date_epoch(tmp_path)


def test_clean_waits_for_the_build_holding_the_lock(tmp_path):
    book, out = copy_book(tmp_path)
    out.mkdir()
    log = tmp_path / "clean.txt"
    with open(out / "build.lock", "w") as held, open(log, "w") as stderr:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242")
        held.flush()
        proc = start("clean", book, out, stderr)
        deadline = time.monotonic() + 60
        while "waiting" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        assert proc.poll() is None and out.exists(), log.read_text()
    assert proc.wait(timeout=60) == 0
    assert log.read_text().count(WAITING.format(out=out, pid=4242)) == 1
    assert not out.exists()


# --- Layout -------------------------------------------------------------------

FILLER = "Filler words set to move the next box down the page a little more. "


def layout_chapter(tmp_path: Path) -> str:
    """Short boxes and listings after paragraphs of growing length, so that
    many of them meet a page break; then one long box that must break."""
    parts = ["\\chapter{Layout}\\label{ch-layout}"]
    for k in range(1, 25):
        parts.append(f"% BOOK-SOURCE layout.md:{k}")
        if k % 4 == 2:
            parts.append(f"\\section{{HEADING{k:02d}}}")
        parts.append(FILLER * (k % 7 * 3 + 1))
        body = "\n".join(f"BOX{k:02d}-LINE{j:02d}" for j in range(1, 13))
        if k % 3:
            parts.append(f"\\begin{{bookoutput}}\n{body}\n\\end{{bookoutput}}")
        else:
            code = tmp_path / f"listing{k}.py"
            code.write_text(body + "\n")
            ex = listings.excerpt(code)
            parts.append(
                listings.listing_block(
                    ex, f"CAPTION{k:02d} of a short listing.", None, "listing.py", ""
                )
            )
    parts.append("% BOOK-SOURCE layout.md:100")
    parts.append(FILLER * 12)
    body = "\n".join(f"LONG-LINE{j:02d}" for j in range(1, 81))
    parts.append(f"\\begin{{bookoutput}}\n{body}\n\\end{{bookoutput}}")
    return "\n\n".join(parts) + "\n"


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layout")
    source = tmp / "layout.md"
    source.write_text("# Layout\n")
    chapter = Chapter(id="layout", path=source, part="", appendix=False, number="1")
    book = Book(root=tmp, title="Layout", chapters=[chapter], source=tmp / "book.yml")
    tex_dir = tmp / "tex"
    tex_dir.mkdir()
    tex = tex_dir / "layout.tex"
    tex.write_text(layout_chapter(tmp))
    rendered = [Rendered(chapter, tex)]
    main = typeset.write_main(book, rendered, Layout(tmp), ROOT / "templates", "book", only=False)
    result = typeset.typeset(
        book, rendered, main, tmp / "book.pdf", Layout(tmp), HashMemo(), False, Log(0)
    )
    pages = []
    for n in range(1, result.pages + 1):
        pages.append(
            subprocess.run(
                ["pdftotext", "-f", str(n), "-l", str(n), str(result.pdf), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    return result, pages


def pages_with(pages: list[str], pattern: str) -> list[int]:
    return [n for n, text in enumerate(pages, 1) if re.search(pattern, text)]


@pytest.mark.latex
def test_short_boxes_and_listings_never_break(layout):
    _, pages = layout
    assert len(pages) > 6
    for k in range(1, 25):
        assert len(pages_with(pages, f"BOX{k:02d}-LINE")) == 1, f"box {k} broke"
        if k % 3 == 0:
            assert pages_with(pages, f"Listing .*CAPTION{k:02d}") == pages_with(
                pages, f"BOX{k:02d}-"
            )


@pytest.mark.latex
def test_a_heading_never_ends_a_page(layout):
    _, pages = layout
    body = [(n, text) for n, text in enumerate(pages, 1) if "Filler" in text]  # not the toc
    assert len(set(re.findall(r"HEADING\d\d", "".join(text for _, text in body)))) == 6
    for n, text in body:
        last = [line for line in text.splitlines() if line.strip()][-1]
        assert "HEADING" not in last, f"page {n} ends with the heading {last!r}"


@pytest.mark.latex
def test_a_long_box_breaks_with_a_few_lines_on_each_page_and_is_reported(layout):
    result, pages = layout
    spread = pages_with(pages, "LONG-LINE")
    assert len(spread) >= 2
    for n in spread:
        assert len(re.findall("LONG-LINE", pages[n - 1])) >= 2  # never a lone line
    where = f"{result.pdf.parent / 'layout.md'}:100"  # the chapter's path, the mark's line
    assert result.split == [where]
    assert f"1 split listing ({where})" in result.warnings()


@pytest.mark.latex
def test_no_list_of_listings_without_listings_and_one_with(layout):
    _, pages = layout
    assert pages_with(pages, "List of Listings") and not pages_with(pages, "List of Figures")


def test_remove_input_keeps_outputs_remove_stdout_drops_prints_remove_cell_drops_all():
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from bookbuild import render

    def cell(tags, text):
        c = new_code_cell("print('code')", metadata={"tags": tags, "book": {"line": 1}})
        c.outputs = [
            new_output("stream", name="stdout", text=text),
            new_output("stream", name="stderr", text=text + "-ERR"),
        ]
        return c

    nb = new_notebook(
        cells=[
            cell(["remove-input"], "KEPT-PRINT"),
            cell(["remove-input", "remove-stdout"], "DROPPED-PRINT"),
            cell(["remove-cell"], "HIDDEN-CELL"),
        ]
    )
    chapter = {
        "title": "T",
        "title_plain": "T",
        "label": "ch-t",
        "appendix": False,
        "source": "t.md",
        "source_url": "",
        "video": "",
        "qr": "",
        "path": "t.md",
    }
    tex, _ = render._exporter(ROOT / "templates").from_notebook_node(
        nb, resources={"book_chapter": chapter, "book_markdown": {}}
    )
    assert "print('code')" not in tex and "bookcode" not in tex  # as in MyST: outputs stay
    assert "\\begin{bookoutput}\nKEPT-PRINT" in tex
    assert "DROPPED-PRINT\n" not in tex and "DROPPED-PRINT-ERR" in tex
    assert "HIDDEN-CELL" not in tex and tex.count("print('code')") == 0  # remove-cell: all of it
