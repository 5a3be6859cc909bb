"""The book's figure helpers draw what the module and the data say."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from figures.attention import plot_attention
from figures.style import PALETTE, TEXT_WIDTH_IN, use_house_style
from figures.tikz import TikZPicture, attention_block_diagram
from scratchllm import CausalSelfAttention, GPTConfig


def diagram(seq_len=9, **fields):
    config = GPTConfig(**{"block_size": 16, "n_head": 4, "n_embd": 32,
                          **fields})
    return attention_block_diagram(CausalSelfAttention(config), seq_len)


def test_diagram_shows_the_module_numbers():
    latex = diagram()._repr_latex_()
    C, T, H, d = 32, 9, 4, 8
    assert rf"Linear ${C} \to {3 * C}$" in latex
    assert rf"Linear ${C} \to {C}$" in latex
    assert f"{(C * 3 * C + 3 * C):,}".replace(",", r"\,") in latex
    assert f"{(C * C + C):,}".replace(",", r"\,") in latex
    assert rf"${H}\times{T}\times{d}$" in latex
    assert rf"${H}\times{T}\times{T}$" in latex
    assert f"= {H}$ heads" in latex


def test_diagram_follows_the_config():
    small = diagram()._repr_latex_()
    big = diagram(seq_len=12, n_embd=48, n_head=6, bias=False)
    big = big._repr_latex_()
    assert small != big
    assert r"Linear $48 \to 144$" in big
    assert r"6\,912 parameters" in big  # 48 * 144, no bias
    assert r"$6\times12\times8$" in big


def test_diagram_rejects_sequences_longer_than_the_mask():
    with pytest.raises(ValueError):
        diagram(seq_len=17)


def test_tikz_picture_is_self_contained():
    latex = diagram()._repr_latex_()
    assert latex.rstrip().endswith(r"\end{tikzpicture}")
    assert latex.count(r"\begin{tikzpicture}") == 1
    for name in ("blue", "orange", "gray", "light"):
        hex_code = PALETTE[name].lstrip("#")
        assert rf"\definecolor{{house{name}}}{{HTML}}{{{hex_code}}}" in latex
    assert str(diagram()) == latex


def test_tikz_picture_defines_only_colours_it_uses():
    latex = TikZPicture(r"\draw[housered] (0,0) -- (1,0);")._repr_latex_()
    assert r"\definecolor{housered}" in latex
    assert r"\definecolor{houseblue}" not in latex


def test_plot_attention_labels_tokens_and_hides_the_future():
    tokens = ["the", "cat", "sat"]
    weights = torch.tensor([[1.0, 0.0, 0.0],
                            [0.4, 0.6, 0.0],
                            [0.2, 0.3, 0.5]])
    fig = plot_attention(weights, tokens, title="head 0")
    ax = fig.axes[0]
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == tokens
    assert ax.get_title() == "head 0"
    assert len(fig.axes) == 2  # the heatmap and its colorbar
    image = ax.get_images()[0].get_array()
    assert image.mask.sum() == 3  # the three future cells
    assert sorted(t.get_text() for t in ax.texts) == sorted(
        ["1.00", "0.40", "0.60", "0.20", "0.30", "0.50"])
    plt.close(fig)


def test_plot_attention_rejects_mismatched_tokens():
    with pytest.raises(ValueError):
        plot_attention(np.eye(3), ["a", "b"])


def test_plot_attention_skips_numbers_for_long_sequences():
    T = 20
    weights = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    fig = plot_attention(weights, [f"t{i}" for i in range(T)])
    assert len(fig.axes[0].texts) == 0
    plt.close(fig)


def test_house_style_sets_text_width():
    use_house_style()
    assert matplotlib.rcParams["figure.figsize"][0] == TEXT_WIDTH_IN
    assert matplotlib.rcParams["pdf.fonttype"] == 42
