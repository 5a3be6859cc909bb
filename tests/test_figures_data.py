"""The data chapter's plots draw what they are given."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from figures.data import (
    length_percentiles,
    lsh_probability,
    plot_document_lengths,
    plot_lsh_curve,
)
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


def test_length_percentiles_are_numpys():
    lengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    p = length_percentiles(lengths)
    assert list(p) == [10, 25, 50, 75, 90]
    assert p[50] == 6.0 and p[25] == 3.5 and p[75] == 8.5


def test_document_lengths_histogram_of_the_reference_and_a_row_per_split():
    rng = np.random.default_rng(0)
    lengths = {
        "train": rng.integers(100, 100_000, 200),
        "val": rng.integers(100, 5_000, 20),
        "test": [],
    }
    fig = plot_document_lengths(lengths)
    rows, hist = fig.axes
    assert isinstance(fig, matplotlib.figure.Figure)
    assert fig.get_size_inches()[0] == pytest.approx(TEXT_WIDTH_IN)
    assert hist.get_xscale() == "log" and rows.get_xscale() == "log"  # shared
    assert "characters" in hist.get_xlabel() and "train" in hist.get_ylabel()
    # one row per non-empty split, the reference on top, with its size
    labels = [t.get_text() for t in rows.get_yticklabels()]
    assert labels == ["val (20)", "train (200)"]
    # the histogram is the reference's alone, bars are shares adding to one
    heights = [patch.get_height() for patch in hist.patches]
    assert sum(heights) == pytest.approx(1.0)
    # each row marks that split's median, middle half and middle 80%
    for y, name in enumerate(["val", "train"]):
        p = length_percentiles(lengths[name])
        line, bar, median = rows.lines[3 * y : 3 * y + 3]
        assert list(line.get_xdata()) == [p[10], p[90]]
        assert list(bar.get_xdata()) == [p[25], p[75]]
        assert list(median.get_xdata()) == [p[50]] and list(median.get_ydata()) == [y]
    # the band behind the rows is the reference's middle half
    (band,) = rows.patches
    train = length_percentiles(lengths["train"])
    assert band.get_x() == pytest.approx(train[25])
    assert band.get_x() + band.get_width() == pytest.approx(train[75])


def test_document_lengths_rejects_bad_input():
    with pytest.raises(ValueError):
        plot_document_lengths({"train": [], "val": [10, 20]})
    with pytest.raises(ValueError):
        plot_document_lengths({"val": [10, 20]}, reference="train")
    with pytest.raises(ValueError):
        plot_document_lengths({"train": [0, 10]})
