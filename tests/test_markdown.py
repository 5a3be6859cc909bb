"""Stage 3a: markdown cells (MyST) to LaTeX through pandoc and myst.lua."""

import textwrap
from pathlib import Path

import pytest

from bookbuild import markdown
from bookbuild.errors import BookError


@pytest.fixture
def chapter_path(tmp_path):
    path = tmp_path / "book" / "ch.md"
    path.parent.mkdir()
    path.write_text("# Title\n")
    return path


def ctx_for(path: Path, url=lambda p: "") -> markdown.Context:
    return markdown.Context(path=path, source_url=url)


def convert(path: Path, source: str, **kw) -> markdown.Converted:
    return markdown.convert({0: textwrap.dedent(source)}, ctx_for(path, **kw))


def test_target_before_heading(chapter_path):
    out = convert(chapter_path, "(sec-x)=\n## A section\n\nText.\n")
    assert "\\section{A section}\\label{sec-x}" in out.cells[0]
    assert "sec-x" in out.labels


def test_target_before_paragraph(chapter_path):
    out = convert(chapter_path, "(fig-para)=\nJust a paragraph.\n")
    assert "\\phantomsection\\label{fig-para}" in out.cells[0]
    assert "fig-para" in out.labels


def test_labelled_display_math(chapter_path):
    out = convert(chapter_path, "$$\na + b = c\n$$ (eq-a)\n")
    tex = out.cells[0]
    assert "\\begin{equation}\\label{eq-a}" in tex
    assert "a + b = c" in tex and "\\end{equation}" in tex
    assert "eq-a" in out.labels


def test_labelled_display_math_one_line_and_aligned(chapter_path):
    out = convert(chapter_path, "$$x = 1$$ (eq-one)\n\n$$\na &= b \\\\\nc &= d\n$$ (eq-two)\n")
    tex = out.cells[0]
    assert "\\begin{equation}\\label{eq-one}\nx = 1\n\\end{equation}" in tex
    assert "\\begin{equation}\\label{eq-two}\n\\begin{aligned}" in tex
    assert {"eq-one", "eq-two"} <= out.labels


def test_unlabelled_display_math_left_to_pandoc(chapter_path):
    out = convert(chapter_path, "$$\nx^2\n$$\n")
    assert "\\[" in out.cells[0] and "x^2" in out.cells[0]
    assert "\\begin{equation}" not in out.cells[0]
    assert out.labels == set()


def test_math_directive(chapter_path):
    out = convert(chapter_path, "```{math}\n:label: eq-m\nE = mc^2\n```\n")
    assert "\\begin{equation}\\label{eq-m}\nE = mc^2\n\\end{equation}" in out.cells[0]
    assert "eq-m" in out.labels


def test_eq_role_gives_eqref(chapter_path):
    out = convert(chapter_path, "By {eq}`eq-a` we see.\n")
    assert "By \\eqref{eq-a} we see." in out.cells[0]
    assert out.refs == ["eq-a"]


def test_numref_ref_and_quarto_refs_give_cref(chapter_path):
    out = convert(chapter_path, "See {numref}`fig-a`, {ref}`sec-b` and @fig-x.\n")
    tex = out.cells[0]
    assert "\\Cref{fig-a}" in tex and "\\Cref{sec-b}" in tex and "\\Cref{fig-x}" in tex
    assert sorted(out.refs) == ["fig-a", "fig-x", "sec-b"]
    assert out.cites == []


def test_quarto_ref_to_equation_gives_eqref(chapter_path):
    out = convert(chapter_path, "As @eq-z shows.\n")
    assert "\\eqref{eq-z}" in out.cells[0]


def test_ref_role_with_text(chapter_path):
    out = convert(chapter_path, "{numref}`Figure %s shows <fig-a>`\n")
    assert "\\hyperref[fig-a]{Figure \\ref*{fig-a} shows}" in out.cells[0]
    assert out.refs == ["fig-a"]


def test_citations_recorded(chapter_path):
    out = convert(chapter_path, "As shown [@vaswani2017] and by @brown2020.\n")
    tex = out.cells[0]
    assert "\\autocite{vaswani2017}" in tex
    assert "\\textcite{brown2020}" in tex
    assert sorted(out.cites) == ["brown2020", "vaswani2017"]
    assert out.refs == []


def test_cite_roles(chapter_path):
    out = convert(chapter_path, "{cite:t}`k1,k2` and {cite:p}`k3`\n")
    assert "\\textcite{k1,k2}" in out.cells[0] and "\\autocite{k3}" in out.cells[0]
    assert out.cites == ["k1", "k2", "k3"]


def test_note_admonition(chapter_path):
    out = convert(chapter_path, ":::{note}\nA note body.\n:::\n")
    tex = out.cells[0]
    assert "\\begin{bookadmonition}{note}{Note}" in tex
    assert "A note body." in tex
    assert tex.rstrip().endswith("\\end{bookadmonition}")


def test_admonition_with_title_class_and_name(chapter_path):
    out = convert(chapter_path, ":::{admonition} My title\n:class: warning\n:name: box-a\n"
                                "Body with {eq}`eq-a`.\n:::\n")
    tex = out.cells[0]
    assert "\\begin{bookadmonition}{warning}{My title}\\label{box-a}" in tex
    assert "\\eqref{eq-a}" in tex
    assert "box-a" in out.labels


def test_python_fence_highlighted(chapter_path):
    out = convert(chapter_path, "```python\ndef f(x):\n    return x\n```\n")
    tex = out.cells[0]
    assert tex.startswith("\\begin{bookcode}")
    assert "\\PY{k}{def}" in tex and "\\PY{k}{return}" in tex
    assert "\\begin{verbatim}" not in tex.lower()


def test_pipe_table_caption_label(chapter_path):
    out = convert(chapter_path, "| a | b |\n|---|---|\n| 1 | 2 |\n\n: My caption {#tbl-t}\n")
    tex = out.cells[0]
    assert "\\caption{My caption}\\label{tbl-t}" in tex
    assert "tbl-t" in out.labels


def test_footnote(chapter_path):
    out = convert(chapter_path, "Text.[^1]\n\n[^1]: The footnote text.\n")
    assert "Text.\\footnote{The footnote text.}" in out.cells[0]


def test_unicode_passes_through(chapter_path):
    out = convert(chapter_path, "Arrows → and ≤ and 中文 here.\n")
    assert "Arrows → and ≤ and 中文 here." in out.cells[0]


def test_unknown_directive_points_at_chapter_line(chapter_path):
    text = "# Title\n\nSome text.\n\n```{mystery} arg\nbody\n```\n"
    chapter_path.write_text(text)
    with pytest.raises(BookError) as info:
        markdown.convert({0: text.split("\n", 2)[2]}, ctx_for(chapter_path))
    assert "mystery" in info.value.message
    assert info.value.where == f"{chapter_path}:5"


def test_unknown_role_is_an_error(chapter_path):
    with pytest.raises(BookError) as info:
        convert(chapter_path, "Use {nosuchrole}`x`.\n")
    assert "nosuchrole" in info.value.message
    assert info.value.where.startswith(str(chapter_path))


CODE = """\
\"\"\"A module.\"\"\"

import math


class Attention:
    \"\"\"Doc.\"\"\"

    def forward(self, x):
        return math.sqrt(x)
"""


@pytest.fixture
def code_file(chapter_path):
    path = chapter_path.parent.parent / "code" / "attn.py"
    path.parent.mkdir()
    path.write_text(CODE)
    return path


def test_literalinclude_pyobject(chapter_path, code_file):
    src = "```{literalinclude} ../code/attn.py\n:pyobject: Attention.forward\n:name: lst-fwd\n```\n"
    out = convert(chapter_path, src, url=lambda p: f"https://gh/blob/main/code/{p.name}")
    tex = out.cells[0]
    assert "\\begin{booklisting}{Attention.forward\\label{lst-fwd}}" in tex
    assert "[firstnumber=9]" in tex
    assert "lines 9--10" in tex
    assert "\\texttt{code/attn.py}" in tex
    assert "https://gh/blob/main/code/attn.py\\#L9-L10" in tex
    assert "\\PY{k}{def}" in tex and "\\end{booklisting}" in tex
    assert out.includes == [code_file.resolve()]
    assert "lst-fwd" in out.labels


def test_literalinclude_caption_and_whole_file(chapter_path, code_file):
    src = "```{literalinclude} ../code/attn.py\n:caption: All of it\n```\n"
    out = convert(chapter_path, src)
    tex = out.cells[0]
    assert "\\begin{booklisting}{All of it}" in tex
    assert "[firstnumber=1]" in tex and "lines 1--10" in tex
    assert "\\href" not in tex  # no repository URL


def test_literalinclude_missing_pyobject(chapter_path, code_file):
    text = ("# Title\n\nThe listing:\n\n"
            "```{literalinclude} ../code/attn.py\n:pyobject: Missing\n```\n")
    chapter_path.write_text(text)
    with pytest.raises(BookError) as info:
        markdown.convert({0: text.split("\n", 2)[2]}, ctx_for(chapter_path))
    assert "Missing" in info.value.message
    assert info.value.where == f"{chapter_path}:6"


def test_literalinclude_missing_pyobject_named_in_prose_before(chapter_path, code_file):
    # the prose introduces the class by name before the directive; the error
    # must point at the directive's :pyobject: line, not at the prose
    text = ("# Title\n\nThe `Attention.fwd` method:\n\n"
            "```{literalinclude} ../code/attn.py\n:pyobject: Attention.fwd\n```\n")
    chapter_path.write_text(text)
    with pytest.raises(BookError) as info:
        markdown.convert({0: text.split("\n", 2)[2]}, ctx_for(chapter_path))
    assert info.value.where == f"{chapter_path}:6"


def test_literalinclude_missing_file(chapter_path):
    with pytest.raises(BookError, match="not found"):
        convert(chapter_path, "```{literalinclude} ../code/nope.py\n```\n")


def test_cells_come_back_under_their_indices(chapter_path):
    cells = {
        3: "First cell with @fig-a.",
        7: "(sec-s)=\n## Second",
        12: "Third [@key].",
    }
    out = markdown.convert(cells, ctx_for(chapter_path))
    assert set(out.cells) == {3, 7, 12}
    assert out.cells[3] == "First cell with \\Cref{fig-a}.\n"
    assert out.cells[7] == "\\section{Second}\\label{sec-s}\n"
    assert out.cells[12] == "Third \\autocite{key}.\n"
    assert out.labels == {"sec-s"} and out.refs == ["fig-a"] and out.cites == ["key"]


def test_escape_latex_specials():
    got = markdown.escape("# $ % & _ { } ~ ^ \\")
    for special in ("\\#", "\\$", "\\%", "\\&", "\\_", "\\{", "\\}"):
        assert special in got
    assert "\\textasciitilde" in got and "\\textasciicircum" in got
    assert "\\textbackslash" in got
    # every special is escaped: nothing bare is left once macros are removed
    bare = (got.replace("\\#", "").replace("\\$", "").replace("\\%", "").replace("\\&", "")
            .replace("\\_", "").replace("\\{", "").replace("\\}", "")
            .replace("{\\textasciitilde}", "").replace("{\\textasciicircum}", "")
            .replace("{\\textbackslash}", ""))
    assert bare.strip() == ""


def test_escape_keeps_cjk_and_plain_text():
    assert markdown.escape("注意力") == "注意力"
    assert markdown.escape("Plain words") == "Plain words"


def test_escape_url():
    assert markdown.escape_url("https://x.org/a#L1-L2") == "https://x.org/a\\#L1-L2"
    assert markdown.escape_url("https://x.org/a%20b") == "https://x.org/a\\%20b"
    assert markdown.escape_url("C:\\dir\\f.py") == "C:/dir/f.py"
    assert markdown.escape_url("") == ""


def test_captions_keep_inline_math_and_escape_the_rest():
    from bookbuild.markdown import escape_caption

    assert escape_caption("Loss for $k = 5$ at 50% & more") == \
        r"Loss for $k = 5$ at 50\% \& more"
    assert escape_caption("costs $5 and $6") != "costs $5 and $6"  # not math: one $ each side
