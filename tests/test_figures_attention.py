"""Readable attention heatmaps: labels at print size, white space shown."""

import matplotlib.pyplot as plt
import torch

from figures.attention import (
    MIN_LABELLED_CELL_IN,
    TOKEN_FONTSIZE,
    plot_attention,
    plot_attention_heads,
    visible,
)


def causal_weights(n_head, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n_head, T, T, generator=g)
    scores = scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
    return scores.softmax(dim=-1)


def test_a_long_sentence_gets_fewer_panels_per_row_so_its_labels_fit():
    T = 24
    fig = plot_attention_heads(causal_weights(6, T), [f"t{i}" for i in range(T)])
    panels = fig.axes[:-1]
    assert {ax.get_subplotspec().get_geometry()[:2] for ax in panels} == {(3, 2)}
    bbox = panels[0].get_position()  # in figure fractions
    cell_in = bbox.width * fig.get_size_inches()[0] / T
    assert cell_in >= MIN_LABELLED_CELL_IN * 0.8  # constrained layout trims a little
    labels = panels[-1].get_xticklabels()
    assert {t.get_fontsize() for t in labels} == {TOKEN_FONTSIZE}
    plt.close(fig)


def test_white_space_tokens_have_a_visible_label():
    assert visible(" ") == "\u2423"
    assert visible("\n\n") == "\u21b5\u21b5"
    assert visible(" module") == " module"  # a word keeps its plain text
    fig = plot_attention(causal_weights(1, 3)[0], ["a", " ", "\n"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "\u2423", "\u21b5"]
    plt.close(fig)
