"""The {eval} role: finding roles, the kernel's snapshot, answering new
expressions from it, and (end to end) prose edits that never execute."""

import contextlib
import io
import json
import re
from pathlib import Path

import nbformat
import pytest
from test_build import ROOT, build, copy_book, edit, executed, pdf_text

from bookbuild import inline
from bookbuild.errors import BookError

EVALBOOK = ROOT / "tests" / "fixtures" / "evalbook"


# --- Finding and replacing roles ----------------------------------------------


def test_roles_outside_code_with_their_lines():
    text = (
        "# Title {eval}`a`\n\nText ``{eval}`not` `` and {eval}``b + `c` ``\n"
        "next {const}`1.5 s` and {eval}`d`\n\n```python\n{eval}`e`\n```\n\n"
        "| x |\n|---|\n| {eval}`f` |\n\n:::{note}\n{eval}`g`\n:::\n\n"
        "```{note}\n{eval}`h`\n```\n\n$$ {eval}`i` $$\n"
    )
    found = [(r.name, r.content, r.line) for r in inline.roles(text)]
    assert found == [
        ("eval", "a", 0),
        ("eval", "b + `c` ", 2),
        ("const", "1.5 s", 3),
        ("eval", "d", 3),
        ("eval", "f", 11),
        ("eval", "g", 14),
        ("eval", "h", 18),
    ]


def test_substitute_escapes_values_as_markdown_text():
    text = "Loss {eval}`loss` and {eval}`name`, {const}`3 * 4`;\n{eval}`loss` again"
    values = {"loss": "0.5", "name": "*a* [b](c) #1\n`x`"}
    out = inline.substitute(text, values)
    assert out == ("Loss 0\\.5 and \\*a\\* \\[b\\]\\(c\\) \\#1 \\`x\\`, 3 \\* 4;\n0\\.5 again")
    assert (
        inline.substitute("a {eval}`name` b", values, markdown=False, inline=True)
        == "a *a* [b](c) #1\n`x` b"
    )


def test_substitute_finds_a_role_broken_over_two_lines():
    assert inline.substitute("x {eval}`a +\nb` y", {"a + b": "3"}) == "x 3 y"


def test_escaped_values_read_as_plain_text_in_pandoc():
    from bookbuild import markdown

    value = r"50% of $x_1$ & #2 {a} \d <tag> |pipe| *s* _u_ [l](u) `c` @knuth {eval}`x`"
    converted = markdown.convert(
        {0: "Value: " + inline.escape_markdown(value)},
        markdown.Context(path=Path("x.md"), source_url=lambda p: ""),
    )
    text = converted.cells[0]
    for markup in ("\\emph", "\\texttt", "\\href", "\\(", "cite{"):
        assert markup not in text, (markup, text)  # no emphasis, code, link, math or citation
    for literal in (
        "50\\%",
        "\\$x\\_1\\$",
        "\\#2",
        "\\{a\\}",
        "\\textbackslash",
        "\\textless",
        "*s*",
        "@knuth",
    ):
        assert literal in text, (literal, text)
    assert converted.cites == [] and converted.refs == []


def test_positions_count_the_code_cells_that_ran():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# T {eval}`a`"),
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_markdown_cell("{eval}`x` {eval}`x`"),
            nbformat.v4.new_code_cell("y = 2", metadata={"caption": "{eval}`y`"}),
        ]
    )
    assert inline.positions(nb) == [0, 1, 1, 2]
    assert inline.expressions(nb) == {0: ["a"], 1: ["x"], 2: ["y"]}


# --- The kernel's record and snapshot ----------------------------------------


def record_in(namespace: dict, exprs: list[str]) -> dict:
    """Run the kernel's recorder over ``namespace`` as IPython would."""
    shell = type("Shell", (), {"user_ns": namespace})()
    namespace["get_ipython"] = lambda: shell
    exec(inline.KERNEL, namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(inline.kernel_cell(exprs), namespace)
    return json.loads(printed.getvalue())


def test_snapshot_keeps_plain_values_only():
    import math

    import numpy as np
    import torch

    ns = {
        "n": 3,
        "x": np.float64(0.25),
        "t": torch.tensor(2.5),
        "flag": np.bool_(True),
        "name": np.str_("abc"),
        "nothing": None,
        "pair": (1, [2.0, "s"]),
        "d": {"a": 1, 2: (3,)},
        "arr": np.arange(3),
        "f": len,
        "math": math,
        "mod": np,
        "_private": 1,
        "In": [],
        "big": list(range(5000)),
        "long": "x" * 200_000,
        "nan": float("nan"),
        "obj": object(),
    }
    printed = record_in(ns, ["f'{x:.1f}'", "n / 0", "n + t"])
    assert printed["evals"] == {
        "f'{x:.1f}'": {"text": "0.2"},
        "n / 0": {"error": "ZeroDivisionError: division by zero"},
        "n + t": {"text": "tensor(5.5000)"},
    }
    change = printed["snapshot"]
    kept = {name: inline._literal(text) for name, text in change["set"].items()}
    assert math.isnan(kept.pop("nan"))
    assert kept == {
        "n": 3,
        "x": 0.25,
        "t": 2.5,
        "flag": True,
        "name": "abc",
        "nothing": None,
        "pair": (1, [2.0, "s"]),
        "d": {"a": 1, 2: (3,)},
    }
    assert type(kept["name"]) is str and type(kept["flag"]) is bool
    assert change["opaque"] == ["arr", "big", "f", "long", "mod", "obj"]  # math: the builder has it


def test_snapshot_records_changes_between_cells():
    ns = {"a": 1, "b": 2}
    record_in(ns, [])
    ns.update(a=10, c=3)
    del ns["b"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(inline.kernel_cell([]), ns)
    change = json.loads(printed.getvalue())["snapshot"]
    assert change["set"] == {"a": "10", "c": "3"} and change["del"] == ["b"]


# --- Answering expressions from the record ------------------------------------


class Chapter:
    path = Path("ch.md")


def notebook(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    for index, cell in enumerate(nb.cells):
        cell.metadata["book"] = {"index": index, "line": 10 * index + 1}
    return nb


def md(text):
    return nbformat.v4.new_markdown_cell(text)


def code(text="pass"):
    return nbformat.v4.new_code_cell(text)


RECORD = {
    "evals": {"1": {"x": {"text": "kernel-x"}, "1/0": {"error": "ZeroDivisionError: boom"}}},
    "snapshots": [
        {"set": {}, "del": [], "opaque": []},
        {"set": {"x": "2", "lr": "0.5"}, "del": [], "opaque": ["model"]},
        {"set": {"x": "3"}, "del": ["lr"], "opaque": ["model"]},
    ],
}


def test_resolve_takes_the_kernels_text_then_the_snapshot():
    nb = notebook(
        md("{eval}`1 + 1`"),
        code(),
        md("{eval}`x` {eval}`x * lr`"),
        code(),
        md("{eval}`x` {eval}`f'{math.pi:.2f}'`"),
    )
    assert inline.resolve(Chapter, nb, RECORD) == {
        "0": {"1 + 1": "2"},
        "1": {"x": "kernel-x", "x * lr": "1.0"},
        "2": {"x": "3", "f'{math.pi:.2f}'": "3.14"},
    }


@pytest.mark.parametrize(
    "expr, why",
    [
        ("model.n_params()", r"needs more than the snapshot holds \(model\)"),
        ("lr * 2", r"needs more than the snapshot holds \(NameError: name 'lr' is not defined\)"),
        ("undefined", r"needs more than the snapshot holds \(NameError"),
    ],
)
def test_an_expression_the_snapshot_cannot_answer_needs_a_run(expr, why):
    nb = notebook(code(), code(), md(f"text\n\nsee {{eval}}`{expr}`"))
    with pytest.raises(inline.NeedsRun, match=r"\{eval\}`.*` \(ch\.md:23\) " + why):
        inline.resolve(Chapter, nb, RECORD)


def test_a_failed_or_broken_expression_is_an_error_at_its_line():
    nb = notebook(code(), md("\nfirst\n{eval}`1/0`"))
    with pytest.raises(BookError, match="failed: ZeroDivisionError: boom") as info:
        inline.resolve(Chapter, nb, RECORD)
    assert info.value.where == "ch.md:12"
    with pytest.raises(BookError, match="is not a Python expression"):
        inline.resolve(Chapter, notebook(code(), md("{eval}`x +`")), RECORD)


# --- End to end: the fixture book --------------------------------------------


def run_build(command, book, out, *args, ci=False):
    """A build whose CI variable is ours to set (CI=true makes it strict)."""
    return build(command, book, out, *args, CI="true" if ci else "")


def with_repository(book: Path) -> None:
    edit(book / "book.yml", "[REPOSITORY]", f"[{ROOT}]")


@pytest.fixture(scope="module")
def evalbook(tmp_path_factory):
    book, out = copy_book(tmp_path_factory.mktemp("evalbook"), EVALBOOK)
    with_repository(book)
    proc = run_build("pdf", book, out)
    assert proc.returncode == 0, proc.stderr
    return book, out, proc


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.latex
def test_values_tables_and_references_print(evalbook):
    _, out, proc = evalbook
    assert executed(proc) == ["values.md"]
    assert "typed number" not in proc.stderr  # {const} and the book's allow list pass
    text = pdf_text(out / "book.pdf")
    assert "Values from code, 5 of them" in text  # a title, before any code
    assert "Before any code, 7 is known" in text and "0.5 s of warm-up" in text
    assert "Values that are computed" in text  # a heading
    assert "The loss is 0.667 after 120 steps ({eval} in code stays code)" in text
    assert re.search(r"steps\s+120", text)  # a table cell
    assert "Table 1.2: A frame over 120 steps" in text  # a caption, over a DataFrame
    assert re.search(r"alpha\s+1\.5\n\s+beta\s+22\.25", text)  # numbers right-aligned
    assert "Table 1.3: Counts by key" in text and re.search(r"y_z\s+20", text)
    assert "See Table 1.2 and Table 1.3." in text
    latex = (out / "tex" / "values.tex").read_text()
    assert r"\begin{tabular}{lr}" in latex and r"\toprule" in latex


@pytest.mark.latex
def test_a_new_expression_over_the_snapshot_does_not_execute(evalbook, tmp_path):
    book, out = copy_book(tmp_path, evalbook[0], evalbook[1])
    chapter = book / "values.md"
    edit(
        chapter,
        "after {eval}`steps` steps",
        "after {eval}`steps * len(history) + 1` steps; it took 505 s",
    )
    proc = run_build("pdf", book, out)
    assert proc.returncode == 0, proc.stderr
    assert executed(proc) == []
    assert "The loss is 0.667 after 241 steps; it took 505 s" in pdf_text(out / "book.pdf")
    line = line_of(chapter, "it took 505 s")
    assert (
        f"{chapter}:{line}: typed number '505 s' in prose (use {{eval}} or {{const}})"
        in proc.stderr
    )

    for args, ci in (("--strict",), False), ((), True):
        strict = run_build("execute", book, out, *args, ci=ci)
        assert strict.returncode == 1
        assert "error: 1 typed number(s) in prose (--strict)" in strict.stderr
        assert f"{chapter}:{line}: typed number '505 s'" in strict.stderr


@pytest.mark.latex
def test_an_expression_beyond_the_snapshot_executes_and_says_why(evalbook, tmp_path):
    book, out = copy_book(tmp_path, evalbook[0], evalbook[1])
    chapter = book / "values.md"
    edit(chapter, "after {eval}`steps` steps", "after {eval}`double(steps)` steps")
    line = line_of(chapter, "double(steps)")
    proc = run_build("execute", book, out)
    assert proc.returncode == 0, proc.stderr
    assert (
        f"executing values.md ({{eval}}`double(steps)` ({chapter}:{line}) needs more than "
        "the snapshot holds (double))"
    ) in proc.stderr
    again = run_build("execute", book, out)
    assert executed(again) == []  # the kernel's answer is cached now

    edit(chapter, "{eval}`double(steps)`", "{eval}`double(steps) / 0`")
    failed = run_build("execute", book, out)
    assert executed(failed) == ["values.md"]
    assert (
        f"{chapter}:{line}: {{eval}}`double(steps) / 0` failed: ZeroDivisionError" in failed.stderr
    )
    cached = run_build("execute", book, out)  # the run is cached: no second execution
    assert executed(cached) == [] and cached.returncode == 1
