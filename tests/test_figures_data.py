"""The data chapter's plots draw what they are given."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from figures.data import lsh_probability, plot_document_lengths, plot_lsh_curve
from figures.style import TEXT_WIDTH_IN, use_house_style


@pytest.fixture(autouse=True)
def house_style():
    use_house_style()
    yield
    plt.close("all")


def test_lsh_probability_is_the_banding_formula():
    s, b, r = 0.7, 14, 9
    assert lsh_probability(s, b, r) == pytest.approx(1 - (1 - s**r) ** b)
    assert lsh_probability(0.0, b, r) == 0.0
    assert lsh_probability(1.0, b, r) == 1.0
    p = lsh_probability(np.linspace(0, 1, 101), b, r)
    assert np.all(np.diff(p) >= 0)  # more similar, more likely a candidate


def test_lsh_curve_passes_through_the_threshold_probability():
    fig = plot_lsh_curve(bands=14, rows=9, threshold=0.7)
    ax = fig.axes[0]
    assert isinstance(fig, matplotlib.figure.Figure)
    assert ax.get_xlabel() and ax.get_ylabel()
    curve, marker = ax.lines[0], ax.lines[-1]
    expected = 1 - (1 - 0.7**9) ** 14
    assert np.interp(0.7, curve.get_xdata(), curve.get_ydata()) == pytest.approx(expected, abs=1e-3)
    assert marker.get_xdata()[0] == 0.7
    assert marker.get_ydata()[0] == pytest.approx(expected)
    assert f"{expected:.2f}" in " ".join(t.get_text() for t in ax.texts)
    # the dashed threshold line
    assert any(list(line.get_xdata()) == [0.7, 0.7] for line in ax.lines)
    assert "b = 14" in curve.get_label() and "r = 9" in curve.get_label()


def test_lsh_curve_follows_its_parameters():
    steep = plot_lsh_curve(bands=20, rows=5, threshold=0.5).axes[0].lines[0]
    flat = plot_lsh_curve(bands=2, rows=2, threshold=0.5).axes[0].lines[0]
    assert not np.allclose(steep.get_ydata(), flat.get_ydata())


def test_document_lengths_one_histogram_per_split_on_a_log_axis():
    rng = np.random.default_rng(0)
    lengths = {"train": rng.integers(100, 100_000, 200), "val": rng.integers(100, 50_000, 20)}
    fig = plot_document_lengths(lengths)
    ax = fig.axes[0]
    assert isinstance(fig, matplotlib.figure.Figure)
    assert fig.get_size_inches()[0] == pytest.approx(TEXT_WIDTH_IN)
    assert ax.get_xscale() == "log"
    assert "characters" in ax.get_xlabel() and "share" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["train (200)", "val (20)"]
    assert len(ax.patches) == 2  # one step outline per split
    # each split is normalised: its bars are shares that add up to one
    for patch in ax.patches:
        xy = patch.get_xy()
        heights = xy[1:-1:2, 1]  # a step outline visits each bar's top twice
        assert heights.sum() == pytest.approx(1.0)


def test_document_lengths_skips_empty_splits_and_rejects_bad_input():
    fig = plot_document_lengths({"train": [10, 100, 1000], "test": []})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["train (3)"]
    with pytest.raises(ValueError):
        plot_document_lengths({"train": []})
    with pytest.raises(ValueError):
        plot_document_lengths({"train": [0, 10]})
