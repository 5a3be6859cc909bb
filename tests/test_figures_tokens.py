"""The tokenization and vector chapters' plots draw what they are given."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from figures.style import PALETTE, TEXT_WIDTH_IN, use_house_style
from figures.tokens import (
    cosine_by_offset,
    plot_bytes_per_token,
    plot_positions,
    plot_similarity_by_offset,
)
from scratchllm.embeddings import sinusoidal_positions


@pytest.fixture(autouse=True)
def house_style():
    use_house_style()
    yield
    plt.close("all")


def test_bytes_per_token_plots_the_points_on_a_log2_axis():
    sizes, values = [1024, 512, 4096, 2048], [3.1, 2.6, 3.9, 3.5]
    fig = plot_bytes_per_token(sizes, values)
    ax = fig.axes[0]
    assert isinstance(fig, matplotlib.figure.Figure)
    assert fig.get_size_inches()[0] == pytest.approx(TEXT_WIDTH_IN)
    assert ax.get_xscale() == "log"
    line = ax.lines[0]
    # drawn in order of vocabulary size, whatever order they came in
    assert list(line.get_xdata()) == [512, 1024, 2048, 4096]
    assert list(line.get_ydata()) == [2.6, 3.1, 3.5, 3.9]
    labels = {t.get_text() for t in ax.texts}
    assert labels == {"2.60", "3.10", "3.50", "3.90"}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["512", "1,024", "2,048", "4,096"]
    assert "vocabulary" in ax.get_xlabel() and "bytes" in ax.get_ylabel()
    assert ax.get_legend() is None


def test_bytes_per_token_highlights_the_chosen_size():
    fig = plot_bytes_per_token([512, 4096], [2.5, 3.5], highlight=4096)
    ax = fig.axes[0]
    dot = ax.lines[-1]
    assert list(dot.get_xdata()) == [4096] and list(dot.get_ydata()) == [3.5]
    assert matplotlib.colors.same_color(dot.get_color(), PALETTE["orange"])
    assert "4,096" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError):
        plot_bytes_per_token([512, 4096], [2.5, 3.5], highlight=1000)


def test_bytes_per_token_rejects_bad_input():
    with pytest.raises(ValueError):
        plot_bytes_per_token([512, 1024], [2.5])
    with pytest.raises(ValueError):
        plot_bytes_per_token([], [])
    with pytest.raises(ValueError):
        plot_bytes_per_token([0, 512], [1.0, 2.0])


def test_positions_heatmap_shows_sines_and_cosines_apart_centred_on_zero():
    pe = sinusoidal_positions(32, 16)
    fig = plot_positions(pe)  # a torch tensor is accepted
    sines, cosines = fig.axes[0].images[0], fig.axes[1].images[0]
    assert np.allclose(sines.get_array(), pe.numpy()[:, 0::2])
    assert np.allclose(cosines.get_array(), pe.numpy()[:, 1::2])
    for image in (sines, cosines):
        low, high = image.get_clim()
        assert low == pytest.approx(-high) and high == pytest.approx(1, abs=1e-3)
        assert image.get_interpolation() != "nearest"  # nearest rows band when printed
    assert fig.axes[0].get_ylabel() == "position"
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == ["channel pair"] * 2
    assert len(fig.axes) == 3  # two heatmaps and their shared colour bar
    assert fig.get_figwidth() == pytest.approx(TEXT_WIDTH_IN)


def test_positions_heatmap_can_keep_the_first_channels():
    pe = np.arange(24.0).reshape(4, 6) - 12
    fig = plot_positions(pe, max_channels=4)
    assert [ax.images[0].get_array().shape for ax in fig.axes[:2]] == [(4, 2), (4, 2)]
    with pytest.raises(ValueError):
        plot_positions(np.zeros(5))


def test_cosine_by_offset_averages_over_all_pairs():
    rows = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 2.0]])
    # offset 1: every neighbour pair is orthogonal; offset 2: all parallel
    assert cosine_by_offset(rows, [0, 1, 2]) == pytest.approx([1.0, 0.0, 1.0])
    assert cosine_by_offset(rows, [3]) == pytest.approx([0.0])
    with pytest.raises(ValueError):
        cosine_by_offset(rows, [4])


def test_sinusoids_make_neighbours_more_similar_than_distant_positions():
    pe = sinusoidal_positions(128, 32)
    near, far = cosine_by_offset(pe, [1, 64])
    assert near > far
    random = cosine_by_offset(torch.randn(128, 32), [1, 64])
    assert abs(random).max() < 0.2  # no order in a random table


def test_similarity_by_offset_one_line_per_curve():
    offsets = np.arange(5)
    fig = plot_similarity_by_offset(offsets, {"a": [1.0, 0.9, 0.8, 0.7, 0.6], "b": np.zeros(5)})
    ax = fig.axes[0]
    curves = [line for line in ax.lines if line.get_label() in {"a", "b"}]
    assert [line.get_label() for line in curves] == ["a", "b"]
    assert list(curves[0].get_ydata()) == [1.0, 0.9, 0.8, 0.7, 0.6]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert "offset" in ax.get_xlabel() and "cosine" in ax.get_ylabel()
    with pytest.raises(ValueError):
        plot_similarity_by_offset(offsets, {"a": [1.0, 0.5]})
    with pytest.raises(ValueError):
        plot_similarity_by_offset(offsets, {})
