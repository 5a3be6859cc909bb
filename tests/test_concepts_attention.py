"""The attention chapter's TikZ figures print the numbers they are given, in
the places that make them read right, fit the text block, and compile."""

import re

import matplotlib.pyplot as plt
import pytest
import torch
from tikz_widths import TEXT_WIDTH_PT, natural_widths
from torch.nn import functional as F

from figures.concepts_attention import (
    head_split_figure,
    mask_figure,
    plot_against_uniform,
    query_attention_figure,
)
from scratchllm import CausalSelfAttention, GPTConfig

TOKENS = ["This", " function", " will", " re", "load", " the", " module", " if", " it", "."]


@pytest.fixture(scope="module")
def scores():
    g = torch.Generator().manual_seed(0)
    return torch.randn(len(TOKENS), len(TOKENS), generator=g)


def causal(scores):
    T = scores.size(-1)
    future = torch.ones(T, T).triu(1).bool()
    return F.softmax(scores.masked_fill(future, float("-inf")), dim=-1)


def written(v, digits=2):
    """A score as the figures write it: a true minus sign."""
    return f"{v:.{digits}f}".replace("-", "\N{MINUS SIGN}")


def shown_numbers(latex):
    return re.findall(r"\\node\[num\] at [^{]*\{([\N{MINUS SIGN}\d.]+)\}", latex)


def cells(latex):
    """(x mm, y mm, text) of every number cell, in drawing order."""
    found = re.findall(r"\\node\[cell, [^\]]*\] at \(([-\d.]+)mm, ([-\d.]+)mm\) \{(.*?)\};", latex)
    return [(float(x), float(y), text) for x, y, text in found]


def test_query_figure_prints_each_keys_score_and_weight_and_bands_the_query(scores):
    weights = F.softmax(scores, dim=-1)
    query = TOKENS.index(" it")
    latex = query_attention_figure(
        TOKENS, query, [("raw", scores[query], weights[query])]
    ).environment()
    assert [text for *_, text in cells(latex)] == [f"{w:.2f}" for w in weights[query].tolist()]
    assert shown_numbers(latex) == [written(s) for s in scores[query].tolist()]
    band = re.search(
        r"\\fill\[band\] \([-\d.]+mm, ([-\d.]+)mm\) rectangle \([-\d.]+mm, ([-\d.]+)mm\)", latex
    )
    row_y = cells(latex)[query][1]
    assert float(band[1]) < row_y < float(band[2])  # the band is on the query's row
    bars = re.findall(
        r"\\fill\[houseblue!70\] \(([-\d.]+)mm, [^)]*\) rectangle \(([-\d.]+)mm", latex
    )
    lengths = [float(b) - float(a) for a, b in bars]
    shown = [w for w in weights[query].tolist() if w >= 0.005]
    assert lengths == pytest.approx([20 * w for w in shown], abs=0.01)  # as long as the weight
    assert r"query \texttt{·it}, position 8" in latex


def test_query_figure_uses_one_decimal_for_large_scores(scores):
    big = 30 * scores[0]
    latex = query_attention_figure(TOKENS, 0, [("raw", big, F.softmax(big, -1))]).environment()
    assert shown_numbers(latex) == [written(s, 1) for s in big.tolist()]


def test_a_score_that_rounds_to_zero_has_no_minus_sign():
    scores = torch.tensor([-0.001, -0.5, 0.004])
    figure = query_attention_figure(["a", "b", "c"], 0, [("t", scores, scores.softmax(-1))])
    assert shown_numbers(figure.environment()) == ["0.00", "\N{MINUS SIGN}0.50", "0.00"]


def test_query_figure_refuses_bad_input(scores):
    w = F.softmax(scores, dim=-1)
    with pytest.raises(ValueError, match="position in 0..9"):
        query_attention_figure(TOKENS, 10, [("raw", scores[0], w[0])])
    with pytest.raises(ValueError, match="a score and a weight per token"):
        query_attention_figure(TOKENS, 0, [("raw", scores[0, :5], w[0])])
    with pytest.raises(ValueError, match="fewer variants"):
        query_attention_figure(TOKENS, 0, [("raw", scores[0], w[0])] * 3)


def test_mask_figure_writes_minus_infinity_and_exact_zeros_in_the_future(scores):
    n = 5
    latex = mask_figure(TOKENS, scores, causal(scores), n).environment()
    found = cells(latex)
    assert len(found) == 2 * n * n
    left = [text for k, (*_, text) in enumerate(found) if k % 2 == 0]
    right = [text for k, (*_, text) in enumerate(found) if k % 2 == 1]
    for i in range(n):
        for j in range(n):
            if j > i:
                assert left[i * n + j] == r"$-\infty$"
                assert right[i * n + j] == r"{\color{housegray}0}"
            else:
                assert left[i * n + j] == written(scores[i, j].item())
                assert right[i * n + j] == f"{causal(scores)[i, j].item():.2f}"
    assert shown_numbers(latex) == ["1.00"] * n  # every row renormalised


def test_mask_figure_shows_a_future_weight_that_is_not_zero(scores):
    """The figure prints what it is given: unmasked weights do not pass as masked."""
    latex = mask_figure(TOKENS, scores, F.softmax(scores, dim=-1), 3).environment()
    right = [text for k, (*_, text) in enumerate(cells(latex)) if k % 2 == 1]
    assert r"{\color{housegray}0}" not in right
    assert shown_numbers(latex) != ["1.00"] * 3


def test_mask_figure_refuses_an_n_that_does_not_fit(scores):
    with pytest.raises(ValueError, match="smaller n"):
        mask_figure(TOKENS, scores, causal(scores), 10)
    with pytest.raises(ValueError, match="n must be in 1..10"):
        mask_figure(TOKENS, scores, causal(scores), 0)


def attention(n_head, n_embd=32):
    return CausalSelfAttention(GPTConfig(block_size=16, n_layer=1, n_head=n_head, n_embd=n_embd))


def test_head_split_figure_reads_its_sizes_from_the_module():
    latex = head_split_figure(attention(4), seq_len=13).environment()
    assert latex.count(r"$13\times32$") == 3  # the queries, the merged heads, the output
    assert latex.count(r"$4\times13\times8$") == 2  # the heads, split and attended
    assert r"output $y$, $13\times32$" in latex
    assert r"\sqrt{8}" in latex
    fills = re.findall(r"\\fill\[(house\w+!\d+)\]", latex)
    # queries, then per head: its slice split and its output, then the merged tensor, then y
    assert fills[:4] == fills[-5:-1]  # merged in the order they were split
    assert len(set(fills[:4])) == 4
    assert fills[4:12] == [f for f in fills[:4] for _ in range(2)]
    with pytest.raises(ValueError, match="fewer heads"):
        head_split_figure(attention(16), seq_len=13)


def test_the_figures_compile_at_their_natural_width(scores, tmp_path):
    w = F.softmax(scores, dim=-1)
    pictures = [
        query_attention_figure(TOKENS, 8, [("a", 30 * scores[8], w[8]), ("b", scores[8], w[8])]),
        mask_figure(TOKENS, scores, causal(scores), 5),
        head_split_figure(attention(6, 48), seq_len=10),
    ]
    widths = natural_widths(pictures, tmp_path)
    assert max(widths) <= TEXT_WIDTH_PT  # the 5 in text block, so nothing is scaled down


def test_weights_against_uniform_plot_every_allowed_weight_and_the_uniform_curve():
    n_head, T = 3, 5
    fig = plot_against_uniform(
        causal(torch.randn(n_head, T, T, generator=torch.Generator().manual_seed(0)))
    )
    ax = fig.axes[0]
    heads = [c for c in ax.collections if len(c.get_offsets())]
    assert len(heads) == n_head
    assert all(len(c.get_offsets()) == T * (T + 1) // 2 for c in heads)  # the future is left out
    (curve,) = ax.get_lines()
    assert curve.get_ydata() == pytest.approx([1 / (i + 1) for i in range(T)])
    plt.close(fig)
    with pytest.raises(ValueError, match="expected"):
        plot_against_uniform(causal(torch.randn(4, 4)))
