"""End-to-end builds of the fixture book in tests/fixtures/mini, checked in
the PDF itself; the execution cache's invalidation rules; parallel runs,
progress lines and error lines."""

import io
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from bookbuild import config, execute, sources
from bookbuild.files import HashMemo
from bookbuild.log import Log, duration

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini"
EVERY_CHAPTER = ["alpha.md", "beta.md", "extra.ipynb", "intro.md", "second.md"]


def build(command, book, out, *args, **env_vars):
    env = dict(os.environ, BOOK_BOOTSTRAPPED="1", **env_vars)
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "build.py"),
            command,
            "--book",
            str(book),
            "--out",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def executed(proc) -> list[str]:
    """The chapter files a build executed (not taken from the cache)."""
    return sorted(re.findall(r"^executing (\S+)", proc.stderr, re.M))


def pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def copy_book(tmp: Path, source: Path = MINI, out: Path | None = None) -> tuple[Path, Path]:
    book = tmp / "book"
    shutil.copytree(source, book)
    new_out = tmp / "build"
    if out is not None:
        shutil.copytree(out, new_out)
    return book, new_out


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The mini book built once into a PDF; tests copy it before changing it."""
    book, out = copy_book(tmp_path_factory.mktemp("mini"))
    proc = build("pdf", book, out)
    assert proc.returncode == 0, proc.stderr
    return book, out, proc


# --- The PDF itself ---------------------------------------------------------


@pytest.mark.latex
def test_first_build_executes_every_chapter(built):
    _, _, proc = built
    assert executed(proc) == EVERY_CHAPTER
    assert re.search(r"pdf: .*book\.pdf \(\d+ pages, typeset\)", proc.stderr)
    assert "time: execute" in proc.stderr


@pytest.mark.latex
def test_citations_and_cross_references_resolve(built):
    _, out, _ = built
    text = pdf_text(out / "book.pdf")
    assert "??" not in text
    assert "Knuth 1984" in text and "Vaswani et al." in text  # in-text, author-year
    assert "Literate Programming" in text and "Attention Is All You Need" in text  # bibliography
    assert "See Figure 1.1, Section 1.1, (1.1)," in text
    assert "Table 1.1 and Figure 1.2" in text
    assert "artifact of Chapter 1" in text  # {numref} to a chapter label
    assert "(see Section 1.1)" in text  # from the .ipynb appendix


@pytest.mark.latex
def test_figures_tikz_and_outputs_are_printed(built):
    _, out, _ = built
    text = pdf_text(out / "book.pdf")
    assert "FIGURE-TITLE-MARK" in text  # matplotlib's vector PDF, text still text
    assert "Figure 1.1: A straight line, drawn by matplotlib → vector PDF." in text
    assert "TIKZ-NODE-MARK" in text and "Figure 1.2: A TikZ drawing" in text
    assert "APPENDIX-OUTPUT 42" in text  # plain .ipynb chapter, executed
    assert "tripled: [0, 3, 6, 9, 12]" in text  # read the artifact of chapter 1
    outputs = {line.strip() for line in text.splitlines()}
    assert "SHOWN-STDERR" in outputs and "HIDDEN-STDERR" not in outputs  # remove-stderr
    assert "replacement \u2370 char" in text  # LuaTeX cannot take U+FFFD
    reader = PdfReader(out / "book.pdf")
    figure_page = next(p for p in reader.pages if "FIGURE-TITLE-MARK" in p.extract_text())
    assert figure_page["/Resources"]["/XObject"], "the matplotlib PDF is embedded as a form"


@pytest.mark.latex
def test_progress_bars_and_long_outputs_are_tamed(built):
    _, out, _ = built
    text = pdf_text(out / "book.pdf")
    assert "progress 4/4" in text
    assert "progress 0/4" not in text and "progress 3/4" not in text
    assert re.search(r"\[… 64 more lines not shown …\]", text)
    assert "long output line 99" in text and "long output line 50" not in text


@pytest.mark.latex
def test_unicode_survives(built):
    _, out, _ = built
    text = pdf_text(out / "book.pdf")
    assert "Arrows → and ≤ survive, and so does 中文." in text
    log = (out / "book.log").read_text(errors="replace")
    assert "Missing character" not in log


@pytest.mark.latex
def test_links_bookmarks_and_metadata(built):
    _, out, _ = built
    reader = PdfReader(out / "book.pdf")
    uris, internal = set(), 0
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A", {})
            if action.get("/S") == "/URI":
                uris.add(action["/URI"])
            elif action.get("/S") == "/GoTo" or "/Dest" in annot.get_object():
                internal += 1
    assert "https://example.org/videos/intro?t=1#start" in uris  # video link, # kept
    assert any(
        u.startswith("https://example.org/mini-book/blob/main/") and u.endswith("/intro.md")
        for u in uris
    ), uris
    assert internal >= 6  # toc, cross-references, citations
    titles = []

    def walk(items):
        for item in items:
            walk(item) if isinstance(item, list) else titles.append(item.title)

    walk(reader.outline)
    assert any("Introduction to the mini book" in t for t in titles)
    assert any("An appendix from a notebook" in t for t in titles)
    assert "Bibliography" in titles
    assert reader.metadata.title == "Mini Book: a test of the compiler & its 100% features"
    assert "Ada Lovelace" in reader.metadata.author


# --- Incremental rebuilds --------------------------------------------------


@pytest.mark.latex
def test_noop_rebuild_executes_and_typesets_nothing(built):
    book, out, _ = built
    before = (out / "book.pdf").stat().st_mtime_ns
    proc = build("pdf", book, out)
    assert proc.returncode == 0, proc.stderr
    assert executed(proc) == []
    assert "chapters: 0 executed, 5 cached" in proc.stderr
    assert "unchanged)" in proc.stderr
    assert (out / "book.pdf").stat().st_mtime_ns == before


# What a build with nothing to do must not load: each costs tens of milliseconds
# of a no-op build that should take well under a second (bench/bench_build.py).
# (nbformat, which reads the caches, brings jsonschema; markdown-it finds {eval} roles.)
CONVERTING_MODULES = {
    "rich",
    "jinja2",
    "pygments",
    "nbconvert",
    "nbclient",
    "jupytext",
    "pylatexenc",
    "qrcode",
}


@pytest.mark.latex
def test_noop_rebuild_imports_none_of_the_converters(built):
    book, out, _ = built
    script = (
        "import sys; from bookbuild.cli import main; code = main();"
        " print(sorted({m.split('.')[0] for m in sys.modules}), file=sys.stderr);"
        " sys.exit(code)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "pdf", "--book", str(book), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, BOOK_BOOTSTRAPPED="1"),
    )
    assert proc.returncode == 0, proc.stderr
    loaded = set(eval(proc.stderr.strip().splitlines()[-1]))
    assert "unchanged)" in proc.stderr
    assert loaded & CONVERTING_MODULES == set()


@pytest.mark.latex
def test_prose_edit_rerenders_without_executing(built, tmp_path):
    book, out = copy_book(tmp_path, built[0], built[1])
    edit(book / "second.md", "uses the library.", "uses the library. 424242.")
    proc = build("pdf", book, out)
    assert proc.returncode == 0, proc.stderr
    assert executed(proc) == []
    assert "rendered: 1 chapter(s), 4 unchanged" in proc.stderr
    assert "424242" in pdf_text(out / "book.pdf")


@pytest.mark.latex
def test_an_edit_takes_one_pass_unless_a_next_pass_would_differ(built, tmp_path):
    book, out = copy_book(tmp_path, built[0], built[1])
    settle = build("pdf", book, out)  # the copy's new paths: latexmk, once
    assert settle.returncode == 0, settle.stderr
    one_pass, latexmk = "one LuaLaTeX pass was enough", "latexmk: passes"

    edit(book / "second.md", "uses the library.", "uses the library. 424242.")
    proc = build("pdf", book, out)
    assert proc.returncode == 0, proc.stderr
    assert one_pass in proc.stderr and latexmk not in proc.stderr
    assert "424242" in pdf_text(out / "book.pdf")

    # A new citation and a new reference: the first pass changes the .bcf
    # and the .aux, so latexmk runs biber and the passes that settle them.
    edit(book / "second.md", "424242.", "424242 ({numref}`sec-first`, @knuth1984literate).")
    proc = build("pdf", book, out)
    assert proc.returncode == 0, proc.stderr
    assert latexmk in proc.stderr
    text = pdf_text(out / "book.pdf")
    assert re.search(r"424242 \(Section 1\.1,\s+Knuth \(1984\)\)", text) and "??" not in text

    # The same citations from an edited .bib: no pass would see a change,
    # but biber must run.
    edit(book / "references.bib", "{Literate Programming}", "{Literate Programming, Revised}")
    proc = build("pdf", book, out)
    assert proc.returncode == 0, proc.stderr
    assert latexmk in proc.stderr
    assert "Literate Programming, Revised" in pdf_text(out / "book.pdf")


# --- Errors point at the author's file and line ------------------------------


@pytest.mark.latex
def test_failing_cell_names_file_and_line_and_keeps_last_pdf(built, tmp_path):
    book, out = copy_book(tmp_path, built[0], built[1])
    pdf_before = (out / "book.pdf").read_bytes()
    cache_before = (out / "cache" / "second.ipynb").read_bytes()
    edit(book / "second.md", 'print("tripled:"', 'x = 1\ny = undefined_name + x\nprint("tripled:"')
    line = book.joinpath("second.md").read_text().splitlines().index("y = undefined_name + x") + 1
    proc = build("pdf", book, out)
    assert proc.returncode == 1
    assert f"second.md:{line}: code cell failed with NameError" in proc.stderr
    assert "undefined_name" in proc.stderr
    assert (out / "book.pdf").read_bytes() == pdf_before
    assert (out / "cache" / "second.ipynb").read_bytes() == cache_before


def test_error_in_a_function_from_an_earlier_cell_names_both_lines(tmp_path):
    book, out = copy_book(tmp_path)
    chapter = book.resolve() / "beta.md"
    chapter.write_text(
        chapter.read_text() + "\n```{code-cell} python\ndef checked(x):\n    if x > 1:\n"
        "        raise ValueError(f'too big: {x}')\n    return x\n```\n"
        + "\nSome prose between the cells.\n"
        + "\n```{code-cell} python\ny = 1\nchecked(y + 1)\n```\n"
    )
    lines = chapter.read_text().splitlines()
    raised = lines.index("        raise ValueError(f'too big: {x}')") + 1
    called = lines.index("checked(y + 1)") + 1
    proc = build("execute", book, out, "--only", "beta")
    assert proc.returncode == 1
    assert (
        f"beta.md:{raised}: code cell failed with ValueError: too big: 2 "
        f"(in a function called at {chapter}:{called})"
    ) in proc.stderr, proc.stderr


@pytest.mark.latex
def test_latex_error_is_traced_to_the_cell(built, tmp_path):
    book, out = copy_book(tmp_path, built[0], built[1])
    pdf_before = (out / "book.pdf").read_bytes()
    cell = (
        "\n```{code-cell} python\nfrom IPython.display import Latex\nLatex(r'\\notamacro')\n```\n"
    )
    book.joinpath("second.md").write_text(book.joinpath("second.md").read_text() + cell)
    line = (
        book.joinpath("second.md")
        .read_text()
        .splitlines()
        .index("from IPython.display import Latex")
        + 1
    )
    proc = build("pdf", book, out)
    assert proc.returncode == 1
    assert f"second.md:{line}: LaTeX error: Undefined control sequence" in proc.stderr
    assert (out / "book.pdf").read_bytes() == pdf_before


@pytest.mark.latex
@pytest.mark.parametrize(
    "old, new, key",
    [
        ("as in @vaswani2017attention", "as in @nosuchpaper2099", "nosuchpaper2099"),
        ("{numref}`fig-line`", "{numref}`fig-nowhere`", "fig-nowhere"),
    ],
)
def test_undefined_citation_or_reference_fails_before_latex(built, tmp_path, old, new, key):
    book, out = copy_book(tmp_path, built[0], built[1])
    edit(book / "intro.md", old, new)
    text = (book / "intro.md").read_text().splitlines()
    line = next(n for n, row in enumerate(text, 1) if key in row)
    proc = build("pdf", book, out)
    assert proc.returncode == 1
    assert f"intro.md:{line}:" in proc.stderr and repr(key) in proc.stderr
    assert "typesetting" not in proc.stderr


def test_bad_book_yml_names_the_line(tmp_path):
    book, out = copy_book(tmp_path)
    edit(book / "book.yml", "file: second.md", "file: missing.md")
    line = (book / "book.yml").read_text().splitlines().index("      - file: missing.md") + 1
    proc = build("execute", book, out)
    assert proc.returncode == 1
    assert f"book.yml:{line}: chapter file 'missing.md' not found" in proc.stderr


# --- The execution cache -----------------------------------------------------


def test_cache_invalidation_rules(tmp_path):
    book, out = copy_book(tmp_path)
    assert executed(build("execute", book, out)) == EVERY_CHAPTER
    assert executed(build("execute", book, out)) == []

    edit(book / "intro.md", "Next, a figure.", "Next, a figure, drawn below.")
    assert executed(build("execute", book, out)) == [], "prose edits never execute"

    edit(book / "second.md", 'print("tripled:"', 'print("tripled values:"')
    assert executed(build("execute", book, out)) == ["second.md"], "a code edit runs its chapter"

    edit(book / "code" / "minilib.py", "return 3 * x", "return x + x + x")
    proc = build("execute", book, out)
    assert executed(proc) == ["second.md"], "only the chapter that imports the library"
    assert "code/minilib.py changed" in proc.stderr

    edit(
        book / "intro.md",
        "import json, os, pathlib\nimport numpy",
        "import json, os, pathlib  # same artifact\nimport numpy",
    )
    assert executed(build("execute", book, out)) == ["intro.md"], (
        "an unchanged artifact does not invalidate its users"
    )

    edit(book / "intro.md", "np.arange(5)", "np.arange(6)")
    assert executed(build("execute", book, out)) == ["intro.md", "second.md"]

    shutil.rmtree(out / "artifacts" / "numbers")
    assert executed(build("execute", book, out)) == ["intro.md"], (
        "a lost artifact is rebuilt by its producer; identical, so its users stay cached"
    )

    edit(book / "values.csv", "two,2", "two,20")
    proc = build("execute", book, out)
    assert executed(proc) == ["alpha.md"], "a declared data file runs exactly its chapter"
    assert "sum of values: 21" in (out / "cache" / "alpha.ipynb").read_text()

    proc = build("execute", book, out, "--rerun")
    assert executed(proc) == EVERY_CHAPTER


def test_a_package_version_change_changes_the_cache_key(monkeypatch):
    book = config.load(MINI)
    assert "numpy" in book.packages
    chapter = book.chapter("alpha")
    nb = sources.read(chapter)
    key = execute.static_key(book, chapter, nb, HashMemo())
    assert execute.static_key(book, chapter, nb, HashMemo()) == key
    real = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: "0.0.1-upgraded" if name == "numpy" else real(name)
    )
    assert execute.static_key(book, chapter, nb, HashMemo()) != key


def test_only_runs_a_chapter_with_the_chapters_it_needs(tmp_path):
    book, out = copy_book(tmp_path)
    proc = build("execute", book, out, "--only", "second", "-j", "2")
    assert proc.returncode == 0, proc.stderr
    assert executed(proc) == ["intro.md", "second.md"]


def test_independent_chapters_run_at_the_same_time(tmp_path):
    """alpha and beta use nothing from each other: with -j 2 their runs overlap.
    Each waits (30 s at most) for the other to start, so run one after the
    other, the first would end before the second started."""
    book, out = copy_book(tmp_path)
    spans = tmp_path / "spans"
    spans.mkdir()
    proc = build("execute", book, out, "-j", "2", "-v", MINI_SPANS=str(spans))
    assert proc.returncode == 0, proc.stderr
    assert executed(proc) == EVERY_CHAPTER
    (a_start, a_end), (b_start, b_end) = (
        map(float, (spans / f"{name}.span").read_text().split()) for name in ("alpha", "beta")
    )
    assert a_start < b_end and b_start < a_end, "the two sleeps overlap"
    lines = proc.stderr.splitlines()

    def first(prefix: str) -> int:
        return next(i for i, row in enumerate(lines) if row.startswith(prefix))

    first_end = min(first("executed alpha.md"), first("executed beta.md"))
    for started in (
        "executing alpha.md",
        "executing beta.md",
        "alpha.md: cell 2/2",
        "beta.md: cell 1/1",
    ):
        assert first(started) < first_end, f"{started!r} logged after a run ended"


@pytest.mark.latex
def test_only_builds_one_chapter_pdf_with_its_real_number(tmp_path):
    book, out = copy_book(tmp_path)
    proc = build("pdf", book, out, "--only", "extra.ipynb")
    assert proc.returncode == 0, proc.stderr
    text = pdf_text(out / "extra.pdf")
    assert "An appendix from a notebook" in text and "APPENDIX-OUTPUT 42" in text
    assert re.search(r"A\s+An appendix from a notebook", text)
    assert not (out / "book.pdf").exists()


def test_clean_removes_the_build_folder(tmp_path):
    book, out = copy_book(tmp_path)
    out.mkdir()
    (out / "stale").write_text("x")
    proc = build("clean", book, out)
    assert proc.returncode == 0 and not out.exists()


def test_a_killed_build_leaves_a_cache_the_next_build_trusts(tmp_path):
    import signal

    book, out = copy_book(tmp_path)
    original = (book / "second.md").read_text()
    edit(book / "second.md", 'print("tripled:"', 'import time; time.sleep(120)\nprint("tripled:"')
    log = tmp_path / "stderr.txt"
    env = dict(os.environ, BOOK_BOOTSTRAPPED="1")
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "build.py"),
                "execute",
                "--book",
                str(book),
                "--out",
                str(out),
                "-v",
            ],
            stderr=stderr,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while "second.md: cell 1/" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)  # the builder and its kernel, mid-cell
        proc.wait()
    assert "second.md: cell 1/" in log.read_text()
    assert not (out / "cache" / "second.ipynb").exists()
    assert not list((out / "cache").glob(".*.tmp"))

    (book / "second.md").write_text(original)
    proc = build("execute", book, out)
    assert proc.returncode == 0, proc.stderr
    ran = executed(proc)
    assert "second.md" in ran and "intro.md" not in ran, "intro.md finished before the kill"


def test_a_dying_kernel_is_reported_with_the_cell(tmp_path):
    book, out = copy_book(tmp_path)
    edit(book / "second.md", 'print("tripled:"', 'import os; os._exit(3)\nprint("tripled:"')
    lines = (book / "second.md").read_text().splitlines()
    cell_start = lines.index("```{code-cell} python") + 2  # no traceback: the cell is all we know
    proc = build("execute", book, out)
    assert proc.returncode == 1
    assert f"second.md:{cell_start}: the kernel died" in proc.stderr


# --- Progress while chapters run ---------------------------------------------


def test_durations_read_like_a_clock():
    assert [duration(s) for s in (0, 5.9, 65, 185, 3599, 3725)] == [
        "0m00s",
        "0m05s",
        "1m05s",
        "3m05s",
        "59m59s",
        "1h02m05s",
    ]


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_plain_line_comes_at_a_cell_start_once_a_period_has_passed():
    clock, stream = FakeClock(), io.StringIO()
    log = Log(1, stream, period=30, clock=clock)
    assert not log.tty
    with log.running("pretraining.md", estimate=320):
        clock.now += 10
        log.cell("pretraining.md", 13, 40, "book/pretraining.md:300")
        assert stream.getvalue() == "", "10 s after the start, no line is due"
        clock.now += 175
        log.cell("pretraining.md", 14, 40, "book/pretraining.md:312")
        clock.now += 29
        log.cell("pretraining.md", 15, 40, "book/pretraining.md:330")
    assert stream.getvalue().splitlines() == [
        "pretraining.md: cell 14/40 (book/pretraining.md:312), 3m05s elapsed, last run 5m20s"
    ]


@pytest.mark.parametrize(
    "level, expected",
    [
        (0, []),
        (2, ["a.md: cell 1/2 (a.md:10), 0m00s elapsed", "a.md: cell 2/2 (a.md:20), 1m40s elapsed"]),
    ],
)
def test_quiet_shows_no_progress_and_verbose_every_cell(level, expected):
    clock, stream = FakeClock(), io.StringIO()
    log = Log(level, stream, period=30, clock=clock)
    with log.running("a.md", estimate=None):
        for index in (1, 2):
            log.cell("a.md", index, 2, f"a.md:{10 * index}")
            clock.now += 100
    assert stream.getvalue().splitlines() == expected


def test_plain_lines_come_every_period_while_a_long_cell_runs():
    stream = io.StringIO()
    log = Log(1, stream, period=0.05)
    with log.running("slow.md", estimate=None):
        log.cell("slow.md", 1, 1, "slow.md:9")
        time.sleep(0.5)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 3, lines
    assert set(lines) == {"slow.md: cell 1/1 (slow.md:9), 0m00s elapsed"}
    time.sleep(0.2)
    assert stream.getvalue().splitlines() == lines, "no line once the chapter is done"


def test_a_terminal_gets_one_bar_per_running_chapter(monkeypatch):
    for name, value in (("TTY_COMPATIBLE", "1"), ("TERM", "xterm-256color"), ("COLUMNS", "160")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)
    stream = io.StringIO()
    log = Log(1, stream)
    assert log.tty
    with log.running("pretraining.md", estimate=320), log.running("sampling.md", estimate=None):
        log.cell("pretraining.md", 14, 40, "book/pretraining.md:312")
        log.cell("sampling.md", 2, 5, "book/sampling.md:40")
        log.info("a message while the bars are shown")
        shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    bars = [row for row in shown.splitlines() if "13/40" in row]
    assert bars and "pretraining.md" in bars[-1] and "(book/pretraining.md:312)" in bars[-1]
    assert "last run 5m20s" in bars[-1]
    assert any(
        "sampling.md" in row and "1/5" in row and "(book/sampling.md:40)" in row
        for row in shown.splitlines()
    )
    assert "a message while the bars are shown" in shown
    assert log._bars is None, "the bars go once no chapter runs"


def test_progress_lines_of_a_build_name_the_cell_and_the_last_run(tmp_path):
    book, out = copy_book(tmp_path)
    lines = (book / "alpha.md").read_text().splitlines()
    sleeping = (
        f"{book.resolve() / 'alpha.md'}:{lines.index('from overlap import sleep_beside') + 1}"
    )
    progress = re.compile(
        r"^alpha\.md: cell (\d)/2 \((\S+)\), \dm\d\ds elapsed(, last run .*)?$", re.M
    )

    proc = build("execute", book, out, "--only", "alpha", BOOK_PROGRESS_SECONDS="0.2")
    assert proc.returncode == 0, proc.stderr
    seen = progress.findall(proc.stderr)
    assert ("2", sleeping, "") in seen, proc.stderr  # the 1 s sleep outlasts a period
    record = nbformat.read(out / "cache" / "alpha.ipynb", as_version=4).metadata["book_cache"]
    assert 1 <= record["seconds"] < 120

    proc = build(
        "execute", book, out, "--only", "alpha", "--rerun", "-v", BOOK_PROGRESS_SECONDS="1000"
    )  # no periodic line: only the cell starts
    assert proc.returncode == 0, proc.stderr
    estimate = f", last run {duration(record['seconds'])}"
    assert [(cell, last) for cell, _, last in progress.findall(proc.stderr)] == [
        ("1", estimate),
        ("2", estimate),
    ], "-v: a line at each cell start"

    proc = build(
        "execute", book, out, "--only", "alpha", "--rerun", "-q", BOOK_PROGRESS_SECONDS="0.2"
    )
    assert proc.returncode == 0, proc.stderr
    assert "alpha.md:" not in proc.stderr
