"""Stage 3a: markdown cells (MyST) to LaTeX through pandoc and myst.lua."""

import textwrap
from pathlib import Path

import pytest

from bookbuild import markdown
from bookbuild.errors import BookError

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "book.tex.j2"


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
    out = convert(
        chapter_path,
        ":::{admonition} My title\n:class: warning\n:name: box-a\nBody with {eq}`eq-a`.\n:::\n",
    )
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
    chapter_path.write_text("# Title\n\nUse {nosuchrole}`x`.\n")
    with pytest.raises(BookError) as info:
        convert(chapter_path, "Use {nosuchrole}`x`.\n")
    assert "nosuchrole" in info.value.message
    assert info.value.where == f"{chapter_path}:3"


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
    text = (
        "# Title\n\nThe listing:\n\n```{literalinclude} ../code/attn.py\n:pyobject: Missing\n```\n"
    )
    chapter_path.write_text(text)
    with pytest.raises(BookError) as info:
        markdown.convert({0: text.split("\n", 2)[2]}, ctx_for(chapter_path))
    assert "Missing" in info.value.message
    assert info.value.where == f"{chapter_path}:6"


def test_literalinclude_missing_pyobject_named_in_prose_before(chapter_path, code_file):
    # the prose introduces the class by name before the directive; the error
    # must point at the directive's :pyobject: line, not at the prose
    text = (
        "# Title\n\nThe `Attention.fwd` method:\n\n"
        "```{literalinclude} ../code/attn.py\n:pyobject: Attention.fwd\n```\n"
    )
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
    bare = (
        got.replace("\\#", "")
        .replace("\\$", "")
        .replace("\\%", "")
        .replace("\\&", "")
        .replace("\\_", "")
        .replace("\\{", "")
        .replace("\\}", "")
        .replace("{\\textasciitilde}", "")
        .replace("{\\textasciicircum}", "")
        .replace("{\\textbackslash}", "")
    )
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

    assert escape_caption("Loss for $k = 5$ at 50% & more") == r"Loss for $k = 5$ at 50\% \& more"
    assert escape_caption("costs $5 and $6") != "costs $5 and $6"  # not math: one $ each side
    assert (
        escape_caption("computed by `cosine_lr` at $k$")
        == r"computed by \texttt{cosine\_lr} at $k$"
    )


# --- CommonMark semantics (MyST is CommonMark): what pandoc's markdown got wrong


def test_backslash_before_a_letter_is_text(chapter_path):
    tex = convert(chapter_path, "A path C:\\Users\\ada\\notes and \\LaTeX here.\n").cells[0]
    assert "C:\\textbackslash Users\\textbackslash ada\\textbackslash notes" in tex
    assert "\\textbackslash LaTeX" in tex


def test_strikethrough_uses_a_defined_macro(chapter_path):
    tex = convert(chapter_path, "Old ~~gone~~ new.\n").cells[0]
    assert "\\st{gone}" in tex
    assert "\\usepackage[soul]{lua-ul}" in TEMPLATE.read_text()  # defines \st for LuaLaTeX


def test_table_without_caption_names_a_declared_counter(chapter_path):
    tex = convert(chapter_path, "| a | b |\n|---|---|\n| 1 | 2 |\n").cells[0]
    assert "\\begin{longtable}" in tex and "\\def\\LTcaptype{none}" in tex
    assert "\\newcounter{none}" in TEMPLATE.read_text()


def test_atx_heading_interrupts_a_paragraph(chapter_path):
    tex = convert(chapter_path, "A paragraph line.\n## 3.1 Next part\nMore.\n").cells[0]
    assert "\\section{3.1 Next part}" in tex
    assert "\\#\\#" not in tex and "##" not in tex


def test_setext_heading_and_target(chapter_path):
    out = convert(chapter_path, "(sec-s)=\nSetext title\n------------\n")
    assert "\\section{Setext title}\\label{sec-s}" in out.cells[0]


def test_entities_are_decoded(chapter_path):
    tex = convert(chapter_path, "a&nbsp;b &amp; &copy; &#9731;\n").cells[0]
    assert "a~b" in tex and "\\&" in tex and "©" in tex and "☃" in tex


def test_html_inline_tags_become_formatting(chapter_path):
    tex = convert(
        chapter_path,
        '<b>bold</b> <i>it</i> H<sub>2</sub>O a<br>b <a href="https://x.org/a">link</a>\n',
    ).cells[0]
    assert "\\textbf{bold}" in tex and "\\emph{it}" in tex
    assert "\\textsubscript{2}" in tex and "\\href{https://x.org/a}{link}" in tex
    assert "a\\\\\nb" in tex or "a\\\\b" in tex or "a\\\\ b" in tex


def test_html_img_is_included(chapter_path):
    make_png(chapter_path.parent / "pic.png")
    out = convert(
        chapter_path, '<img src="pic.png" width="40"> and\n\n<div>\n<img src="pic.png">\n</div>\n'
    )
    tex = out.cells[0]
    assert tex.count("\\includegraphics") == 2
    assert f"width=40px,keepaspectratio]{{{(chapter_path.parent / 'pic.png').as_posix()}}}" in tex
    assert out.warnings == []


def test_html_table_is_a_table(chapter_path):
    tex = convert(
        chapter_path,
        "<table>\n<tr><th>H1</th><th>H2</th></tr>\n"
        "<tr><td>c1</td><td>c &amp; d</td></tr>\n</table>\n",
    ).cells[0]
    assert "\\begin{longtable}" in tex and "H1 & H2" in tex and "c1 & c \\& d" in tex


def test_html_without_print_form_is_dropped_with_a_warning(chapter_path):
    text = '# T\n\nText.\n\n<video src="m.mp4"></video>\n\n<!-- a comment -->\n'
    chapter_path.write_text(text)
    out = convert(chapter_path, text.split("\n", 1)[1])
    assert "video" not in out.cells[0] and "comment" not in out.cells[0]
    assert out.warnings == [f"{chapter_path}:5: HTML <video> has no print form and is left out"]


def test_myst_comment_lines_are_dropped(chapter_path):
    tex = convert(chapter_path, "Kept.\n% a MyST comment\nAlso kept.\n").cells[0]
    assert "comment" not in tex and "Kept." in tex and "Also kept." in tex


def test_bracketed_citation_with_two_keys(chapter_path):
    out = convert(chapter_path, "As shown [@a1; @b2], and @fig-z.\n")
    assert "\\autocite{a1,b2}," in out.cells[0] and "\\Cref{fig-z}." in out.cells[0]
    assert out.cites == ["a1", "b2"] and out.refs == ["fig-z"]


def test_email_is_not_a_citation(chapter_path):
    out = convert(chapter_path, "Write to ada@example.org today.\n")
    assert out.cites == [] and "ada@example.org" in out.cells[0]


def test_code_fence_nested_in_a_list_is_highlighted(chapter_path):
    tex = convert(
        chapter_path, "1. Step:\n\n   ```python\n   def f(): pass\n   ```\n2. Next\n"
    ).cells[0]
    assert "\\begin{enumerate}" in tex and "\\PY{k}{def}" in tex
    assert tex.index("\\PY{k}{def}") < tex.index("Next")


def test_indented_code_is_a_code_block(chapter_path):
    tex = convert(chapter_path, "Text.\n\n    x = {1}\n").cells[0]
    assert "\\begin{bookcode}" in tex and "x = \\PYZob{}1\\PYZcb{}" in tex
    assert "=latex" not in tex


def test_errors_name_the_line_from_the_cell_start(chapter_path):
    ctx = markdown.Context(path=chapter_path, source_url=lambda p: "", lines={4: 20})
    with pytest.raises(BookError) as info:
        markdown.convert({4: "Prose.\n\n```{mystery}\n```\n"}, ctx)
    assert info.value.where == f"{chapter_path}:22"


# --- Images ------------------------------------------------------------------


def make_png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (4, 2), (0, 0, 255)).save(path)
    return path


def test_figure_directive(chapter_path):
    make_png(chapter_path.parent / "sq.png")
    out = convert(
        chapter_path,
        ":::{figure} sq.png\n:name: fig-sq\n:width: 50%\n\n"
        "A *square* caption.\n\nThe legend.\n:::\n",
    )
    tex = out.cells[0]
    assert "\\begin{bookfigure}" in tex and "\\end{bookfigure}" in tex
    assert "\\includegraphics[width=0.5\\linewidth,keepaspectratio]" in tex
    assert "\\caption{A \\emph{square} caption.}\\label{fig-sq}" in tex
    assert tex.index("The legend.") > tex.index("\\caption")
    assert "fig-sq" in out.labels and (chapter_path.parent / "sq.png").resolve() in out.includes


def test_markdown_image_is_resolved_next_to_the_chapter(chapter_path):
    make_png(chapter_path.parent / "sq.png")
    tex = convert(chapter_path, "![A caption](sq.png){#fig-md}\n").cells[0]
    assert (
        f"\\pandocbounded{{\\includegraphics[keepaspectratio]{{{chapter_path.parent}/sq.png}}}}"
        in tex
    )
    assert "\\caption{A caption}" in tex and "\\label{fig-md}" in tex


def test_remote_image_is_a_placeholder_and_a_warning(chapter_path):
    text = "# T\n\n```{image} https://example.org/a_b.png\n```\n\n![x](http://e.org/c.png)\n"
    chapter_path.write_text(text)
    out = convert(chapter_path, text.split("\n", 1)[1])
    tex = out.cells[0]
    assert "\\bookplaceholder{Remote image}{https://example.org/a_b.png}" in tex
    assert "\\bookplaceholder{Remote image}{http://e.org/c.png}" in tex
    assert out.warnings == [
        f"{chapter_path}:3: remote image https://example.org/a_b.png is not fetched; "
        "a placeholder is printed",
        f"{chapter_path}:6: remote image http://e.org/c.png is not fetched; a placeholder is printed",
    ]


def test_svg_uses_its_pdf_or_png_twin_else_a_placeholder(chapter_path):
    folder = chapter_path.parent
    (folder / "a.svg").write_text("<svg/>")
    (folder / "b.svg").write_text("<svg/>")
    make_png(folder / "b.png")
    out = convert(chapter_path, "![](a.svg)\n\n![](b.svg)\n")
    assert "\\bookplaceholder{SVG image}{a.svg}" in out.cells[0]
    assert f"{folder.resolve().as_posix()}/b.png" in out.cells[0]
    assert len(out.warnings) == 1 and "a.svg" in out.warnings[0]


def test_missing_image_is_an_error_with_its_line(chapter_path):
    text = "# T\n\nSee:\n\n```{figure} nope.png\nCap.\n```\n"
    chapter_path.write_text(text)
    with pytest.raises(BookError) as info:
        convert(chapter_path, text.split("\n", 1)[1])
    assert "nope.png" in info.value.message and info.value.where == f"{chapter_path}:5"


# --- Directives ----------------------------------------------------------------


def test_table_directive_caption_and_label(chapter_path):
    out = convert(
        chapter_path, ":::{table} Sizes $n$\n:name: tbl-s\n\n| a | b |\n|---|---|\n| 1 | 2 |\n:::\n"
    )
    assert "\\caption{Sizes \\(n\\)}\\label{tbl-s}" in out.cells[0]
    assert "tbl-s" in out.labels


def test_list_table(chapter_path):
    src = (
        "```{list-table} Things\n:header-rows: 1\n:widths: 1 3\n:name: tbl-l\n\n"
        "* - Name\n  - Note\n* - one\n  - a *long* note\n```\n"
    )
    out = convert(chapter_path, src)
    tex = out.cells[0]
    assert "\\caption{Things}\\label{tbl-l}" in tex
    assert "Name" in tex and "\\endhead" in tex and "\\emph{long}" in tex
    assert "0.2500" in tex and "0.7500" in tex  # relative widths
    assert "tbl-l" in out.labels


def test_include_reads_myst_from_another_file(chapter_path):
    (chapter_path.parent / "part.md").write_text("Included *text*.\n\n(sec-inc)=\n## Inc\n")
    out = convert(chapter_path, "```{include} part.md\n```\n")
    assert "Included \\emph{text}." in out.cells[0] and "\\label{sec-inc}" in out.cells[0]
    assert (chapter_path.parent / "part.md").resolve() in out.includes


def test_raw_latex_kept_other_formats_dropped_with_a_warning(chapter_path):
    out = convert(
        chapter_path, "```{raw} latex\n\\relax{}RAW\n```\n\n```{raw} html\n<p>x</p>\n```\n"
    )
    assert "\\relax{}RAW" in out.cells[0] and "<p>" not in out.cells[0]
    assert len(out.warnings) == 1 and "{raw} html" in out.warnings[0]


def test_epigraph_with_attribution(chapter_path):
    tex = convert(chapter_path, "```{epigraph}\nBe *simple*.\n\n-- A. Author\n```\n").cells[0]
    assert "\\begin{bookepigraph}" in tex and "Be \\emph{simple}." in tex
    assert "\\bookattribution{A. Author}" in tex


def test_index_directive_and_role(chapter_path):
    tex = convert(
        chapter_path, "```{index} single: attention; softmax\n```\n\nThe {index}`token` word.\n"
    ).cells[0]
    assert "\\index{attention!softmax}" in tex  # Sphinx: "; " makes a subentry
    assert "token\\index{token}" in tex


@pytest.mark.parametrize(
    "entry, keys",
    [
        ("single: attention; softmax", ["attention!softmax"]),
        ("pair: loss; cross-entropy", ["loss!cross-entropy", "cross-entropy!loss"]),
        (
            "triple: byte; pair; encoding",
            ["byte!pair encoding", "pair!encoding, byte", "encoding!byte pair"],
        ),
        ("see: BPE; byte-pair encoding", ["BPE|see{byte-pair encoding}"]),
        ("seealso: GPT; transformer", ["GPT|seealso{transformer}"]),
        ("tokens, vocabulary", ["tokens", "vocabulary"]),
        ("single: a!b and x@y | z", ['a"!b and x"@y "| z']),
        ("single: 50% of #1", ["50\\% of \\#1"]),
    ],
)
def test_index_entries_follow_sphinx(entry, keys):
    assert markdown.index_keys(entry) == keys


def test_glossary_and_term(chapter_path):
    out = convert(
        chapter_path,
        ":::{glossary}\nLarge model\n  A *big* one.\n\ntoken\n"
        "  A piece.\n:::\n\nA {term}`token` and {term}`models <Large model>`.\n",
    )
    tex = out.cells[0]
    assert "\\begin{description}" in tex and "\\emph{big}" in tex
    assert "\\item[{Large model}]\\phantomsection\\label{term-large-model}" in tex
    assert "\\hyperref[term-token]{token}" in tex and "\\hyperref[term-large-model]{models}" in tex
    assert {"term-token", "term-large-model"} <= out.labels
    assert sorted(out.refs) == ["term-large-model", "term-token"]


def test_margin(chapter_path):
    tex = convert(chapter_path, ":::{margin} Aside\nIn the *margin*.\n:::\n").cells[0]
    assert tex.startswith("\\marginpar{\\footnotesize\\raggedright")
    assert "\\textbf{Aside}\\par" in tex and "\\emph{margin}" in tex


def test_exercise_and_solution(chapter_path):
    out = convert(
        chapter_path,
        ":::{exercise} Sum\n:label: ex-sum\nAdd.\n:::\n\n"
        ":::{solution} ex-sum\nUse +.\n:::\n\nSee {ref}`ex-sum`.\n",
    )
    tex = out.cells[0]
    assert "\\begin{bookexercise}[label={ex-sum}]{Sum}" in tex and "\\end{bookexercise}" in tex
    assert "\\begin{booksolution}{ex-sum}" in tex and "\\Cref{ex-sum}" in tex
    assert "ex-sum" in out.labels and out.refs == ["ex-sum", "ex-sum"]


def test_gated_exercise_spans_cells(chapter_path):
    out = markdown.convert(
        {1: ":::{exercise-start}\n:label: ex-g\n:::\n\nText.", 3: ":::{exercise-end}\n:::"},
        ctx_for(chapter_path),
    )
    assert out.cells[1].startswith("\\begin{bookexercise}[label={ex-g}]{}")
    assert out.cells[3].strip() == "\\end{bookexercise}"


def test_gate_left_open_is_an_error(chapter_path):
    text = "# T\n\n:::{solution-start} ex-1\n:::\n"
    chapter_path.write_text(text)
    with pytest.raises(BookError) as info:
        convert(chapter_path, text.split("\n", 1)[1])
    assert info.value.where == f"{chapter_path}:3" and "end" in info.value.message


def test_proof_boxes(chapter_path):
    out = convert(
        chapter_path,
        ":::{prf:theorem} Main\n:label: thm-m\nTrue.\n:::\n\n"
        ":::{prf:proof}\nObvious.\n:::\n\n:::{prf:lemma}\n:nonumber:\nL.\n:::\n"
        "\nBy {prf:ref}`thm-m`.\n",
    )
    tex = out.cells[0]
    assert "\\begin{bookprf-theorem}[label={thm-m}]{Main}" in tex
    assert "\\begin{bookproof}{}" in tex and "\\begin{bookprf-lemma*}{}" in tex
    assert "\\Cref{thm-m}" in tex


def test_every_proof_box_is_declared_in_the_template():
    template = TEMPLATE.read_text()
    for kind, (singular, plural) in markdown.PROOF_BOXES.items():
        assert f"\\bookdeclarebox{{prf-{kind}}}{{{singular}}}{{{plural}}}" in template


def test_unknown_proof_kind_is_an_error(chapter_path):
    with pytest.raises(BookError, match="prf:nonsense"):
        convert(chapter_path, ":::{prf:nonsense}\nx\n:::\n")


def test_doc_and_download_roles(chapter_path):
    other = chapter_path.parent / "other.md"
    other.write_text("# Other\n")
    (chapter_path.parent / "data.csv").write_text("a\n")
    ctx = markdown.Context(
        path=chapter_path,
        source_url=lambda p: f"https://gh/{p.name}",
        doc_label={other.resolve().with_suffix(""): "ch-other"}.get,
    )
    out = markdown.convert(
        {0: "See {doc}`other`, {doc}`that one <other.md>` and {download}`data.csv`."}, ctx
    )
    tex = out.cells[0]
    assert "\\Cref{ch-other}" in tex and "\\hyperref[ch-other]{that one}" in tex
    assert "\\href{https://gh/data.csv}{\\texttt{data.csv}}" in tex
    assert out.refs == ["ch-other", "ch-other"]


def test_doc_to_a_file_not_in_the_book_is_an_error(chapter_path):
    with pytest.raises(BookError, match="nowhere"):
        convert(chapter_path, "See {doc}`nowhere`.\n")


def test_sphinx_code_roles_and_small_roles(chapter_path):
    tex = convert(
        chapter_path,
        "{kbd}`Ctrl+C`, {py:func}`np.mean`, H{sub}`2`O, {math}`x^2`, "
        "{abbr}`LLM (large language model)`\n",
    ).cells[0]
    assert "\\texttt{Ctrl+C}" in tex and "\\texttt{np\\allowbreak{}.mean}" in tex
    assert (
        "\\textsubscript{2}" in tex and "\\(x^2\\)" in tex and "LLM (large language model)" in tex
    )


def test_citation_with_prefix_and_locator(chapter_path):
    out = convert(chapter_path, "As [see @k1, ch. 3] and [@k2, p. 4; @k3], by @k1, then.\n")
    tex = out.cells[0]
    assert "\\autocite[see][ch. 3]{k1}" in tex
    assert "\\autocites[p. 4]{k2}{k3}," in tex
    assert "by \\textcite{k1}, then." in tex
    assert out.cites == ["k1", "k2", "k3", "k1"]


def test_an_escaped_at_sign_is_not_a_citation(chapter_path):
    out = convert(
        chapter_path,
        "Mail \\@k1 or [\\@k2], but `\\@k3` is code, $a\\@b$ math,\nwhile @k4 is a citation.\n",
    )
    tex = out.cells[0]
    assert "Mail @k1 or {[}@k2{]}" in tex.replace("\\", "")
    assert "\\texttt{\\textbackslash{}@k3}" in tex and "a\\@b" in tex
    assert out.cites == ["k4"]


def test_wide_pipe_table_wraps_with_widths_from_its_dashes(chapter_path):
    long = "a cell with enough words to make this line longer than seventy-two columns"
    out = convert(
        chapter_path,
        f"| Name | Note |\n|------|---------------|\n| x | {long} |\n\n: Wide {{#tbl-w}}\n",
    )
    tex = out.cells[0]
    assert "p{(\\linewidth - 2\\tabcolsep) * \\real{0.2857}}" in tex
    assert "\\real{0.7143}" in tex and "\\label{tbl-w}" in tex


def test_narrow_pipe_table_keeps_natural_widths(chapter_path):
    tex = convert(chapter_path, "| a | b |\n|---|---|\n| 1 | 2 |\n").cells[0]
    assert "@{}ll@{}" in tex and "\\real" not in tex


def test_target_on_heading_with_hash_in_text_and_closing_sequence(chapter_path):
    out = convert(chapter_path, "(sec-c)=\n## Why C# ##\n\n(sec-d)=\n## Plain C#\n")
    tex = out.cells[0]
    assert "\\section{Why C\\#}\\label{sec-c}" in tex
    assert "\\section{Plain C\\#}\\label{sec-d}" in tex


def test_admonition_title_is_markdown(chapter_path):
    tex = convert(chapter_path, ":::{admonition} The `f_x` *call* and $n$\nBody.\n:::\n").cells[0]
    assert (
        "\\begin{bookadmonition}{admonition}{The \\texttt{f\\allowbreak{}\\_x} "
        "\\emph{call} and \\(n\\)}"
    ) in tex


def test_box_titles_are_markdown(chapter_path):
    tex = convert(
        chapter_path, ":::{prf:theorem} The `f_x` *bound*\n:label: thm-b\nT.\n:::\n"
    ).cells[0]
    assert (
        "\\begin{bookprf-theorem}[label={thm-b}]{The \\texttt{f\\allowbreak{}\\_x} "
        "\\emph{bound}}" in tex
    )


def test_a_caption_of_several_sentences_lists_its_first_in_the_list_of_figures():
    from bookbuild.markdown import short_caption

    assert short_caption("Loss by step. The dashed line is $x. Y$ at 50%.") == "Loss by step."
    assert short_caption("Weights for $q. K$ and more. Each row sums to one.") == (
        "Weights for $q. K$ and more."
    )
    assert short_caption("One sentence only, 50% of it.") == ""
    assert short_caption("Ends with a period.") == ""
    assert short_caption("Costs & gains. Second one.") == r"Costs \& gains."


def test_inline_code_breaks_before_dots_and_underscores_never_inside_a_run(chapter_path):
    tex = convert(chapter_path, "`a.__init__` and `x/y`\n").cells[0]
    assert "\\texttt{a\\allowbreak{}.\\_\\_init\\allowbreak{}\\_\\_}" in tex
    assert "\\texttt{x/\\allowbreak{}y}" in tex
