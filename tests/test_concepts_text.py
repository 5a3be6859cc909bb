"""The tokenization and vector chapters' TikZ figures show what the book's
BPE code and tokenizer compute, fit the text block, and compile."""

import re
import shutil

import pytest
from tikz_widths import TEXT_WIDTH_PT, natural_widths

from figures.concepts_text import (
    TEXT_WIDTH_MM,
    bpe_merge_figure,
    merge_step,
    ranked_pairs,
    tex_escape,
    token_boxes_figure,
    visible,
    window_figure,
)
from scratchllm.tokenizer import BPETokenizer
from scratchllm.tokenizer.naive import most_frequent

TEXT = "form for all major platforms"  # the chapter's string, from the Python tutorial


@pytest.fixture(scope="module")
def tokenizer():
    text = "the cat sat on the mat; the cat_id is $5 & 100% {ok} ~ ^ \\ # " * 20
    return BPETokenizer().train(text, 256 + 40 + 4)


def boxes(latex):
    """(fill, x mm, width mm, text) of every token box, in drawing order."""
    found = re.findall(
        r"\\node\[tok, minimum width=([\d.]+)mm, fill=([^,\]]+)[^\]]*\][^\n]*? at \(([-\d.]+)mm, "
        r"([-\d.]+)mm\) \{(.*)\};",
        latex,
    )
    return [(fill, float(x), float(w), float(y), text) for w, fill, x, y, text in found]


def test_tex_escape_makes_every_special_character_literal():
    assert tex_escape("a_b{c}$d&e#f%g") == r"a\_b\{c\}\$d\&e\#f\%g"
    assert tex_escape("^~\\") == r"\textasciicircum{}\textasciitilde{}\textbackslash{}"
    assert tex_escape("plain·text") == "plain·text"


def test_visible_shows_spaces_newlines_and_partial_characters():
    assert visible(b" print\n") == "·print↵"
    assert visible("注".encode()[:1]) == "\\xe6"
    assert visible(b"\x00") == "\\x00"


def test_merge_step_is_one_step_of_the_books_trainer():
    chunks, stats, pair, merged = merge_step(TEXT, new_id=256)
    assert [bytes(c).decode() for c in chunks] == ["form", " for", " all", " major", " platforms"]
    assert pair == (ord("o"), ord("r")) == most_frequent(stats)
    assert stats[pair] == 4
    assert sum(map(len, merged)) == sum(map(len, chunks)) - stats[pair]
    assert sum(c.count(256) for c in merged) == 4
    # The first merge BPE learns from this text is the same pair.
    assert next(iter(BPETokenizer().train(TEXT, 256 + 1 + 4).merges)) == pair


def test_ranked_pairs_follow_most_frequent_with_ties_to_the_smallest():
    stats = {(5, 1): 2, (1, 2): 3, (0, 9): 2, (3, 3): 1}
    assert ranked_pairs(stats, 3) == [(1, 2), (0, 9), (5, 1)]
    assert ranked_pairs(stats, 10) == [(1, 2), (0, 9), (5, 1), (3, 3)]
    assert stats == {(5, 1): 2, (1, 2): 3, (0, 9): 2, (3, 3): 1}  # left as it was


def test_merge_figure_highlights_the_pair_before_and_the_new_token_after():
    latex = bpe_merge_figure(TEXT)._repr_latex_()
    assert "merge \\texttt{(o, r)} $\\to$ token 256, 4 times" in latex
    assert "28 tokens" in latex and "24 tokens" in latex
    found = boxes(latex)
    before = [b for b in found if b[3] == 0]
    after = [b for b in found if b[3] < -20]
    assert "".join(t for *_, t in before) == TEXT.replace(" ", "·")
    assert [t for fill, *_, t in before if fill.startswith("houseorange")] == ["o", "r"] * 4
    assert [t for fill, *_, t in after if fill.startswith("houseorange")] == ["or"] * 4
    assert "and 12 more pairs, each at most 1$\\times$" in latex


def test_merge_figure_refuses_a_text_too_wide_for_the_page():
    with pytest.raises(ValueError, match="use a shorter text"):
        bpe_merge_figure(TEXT * 2)
    with pytest.raises(ValueError, match="no pair"):
        bpe_merge_figure("a")


def test_token_boxes_show_every_token_and_id_escaped_and_within_the_text_width(tokenizer):
    text = "the cat_id is $5 & 100% {ok} " * 4
    ids = tokenizer.encode(text)
    latex = token_boxes_figure(tokenizer, text)._repr_latex_()
    found = boxes(latex)
    assert [t for *_, t in found] == [tex_escape(visible(tokenizer.vocab[i])) for i in ids]
    assert re.findall(r"\\node\[tokid\] at [^{]*\{(\d+)\}", latex) == [str(i) for i in ids]
    assert f"{len(text)} characters, {len(ids)} tokens" in latex
    assert max(x + w for _, x, w, _, _ in found) <= TEXT_WIDTH_MM
    assert len({y for *_, y, _ in found}) > 1  # wrapped onto several lines
    fills = [fill for fill, *_ in found]
    assert all(a != b for a, b in zip(fills, fills[1:], strict=False))  # neighbours differ


def test_window_figure_puts_each_target_under_its_input(tokenizer):
    window = tokenizer.encode("the cat sat on the mat")
    latex = window_figure(tokenizer, window)._repr_latex_()
    T = len(window) - 1
    nodes = {
        name: fill
        for fill, name in re.findall(r"\\node\[tok, [^\]]*fill=([^,\]]+)[^\]]*\] \((\w+)\)", latex)
    }
    assert sorted(nodes) == sorted([f"x{t}" for t in range(T)] + [f"y{t}" for t in range(T)])
    for t in range(T - 1):
        assert nodes[f"y{t}"] == nodes[f"x{t + 1}"]  # the same token, the same colour
    assert latex.count(r"\draw[flow]") == T
    assert latex.count(r"\draw[sametok]") == T - 1
    assert f"{len(window)} ids gives {T} predictions" in latex
    with pytest.raises(ValueError, match="at least two"):
        window_figure(tokenizer, window[:1])


@pytest.mark.skipif(shutil.which("lualatex") is None, reason="needs LuaLaTeX")
def test_the_figures_compile_at_their_natural_width(tokenizer, tmp_path):
    pictures = [
        bpe_merge_figure(TEXT),
        token_boxes_figure(tokenizer, "the cat_id is $5 & 100% {ok} ~ ^ \\ #" * 3),
        window_figure(tokenizer, tokenizer.encode("the cat sat on the mat")),
    ]
    widths = natural_widths(pictures, tmp_path)
    assert max(widths) <= TEXT_WIDTH_PT  # the 5 in text block, so nothing is scaled down
