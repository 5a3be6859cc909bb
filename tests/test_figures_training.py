"""The pretraining chapter's plots draw what they are given."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from figures.style import PALETTE, TEXT_WIDTH_IN, use_house_style
from figures.training import (
    _tokens_label,
    plot_loss_curves,
    plot_lr_schedule,
    plot_val_loss_by_tokens,
)


@pytest.fixture(autouse=True)
def house_style():
    use_house_style()
    yield
    plt.close("all")


HISTORY = [
    {"step": 10, "train_loss": 8.0, "val_loss": None},
    {"step": 20, "train_loss": 6.0, "val_loss": 6.5},
    {"step": 30, "train_loss": 5.0, "val_loss": None},
    {"step": 40, "train_loss": 4.0, "val_loss": 4.5},
]


def test_lr_schedule_draws_the_rates_and_marks_the_warmup():
    fig = plot_lr_schedule([0, 1, 2, 3], [0.1, 0.2, 0.15, 0.05], warmup_steps=1)
    ax = fig.axes[0]
    assert fig.get_size_inches()[0] == pytest.approx(TEXT_WIDTH_IN)
    assert list(ax.lines[0].get_xdata()) == [0, 1, 2, 3]
    assert list(ax.lines[0].get_ydata()) == [0.1, 0.2, 0.15, 0.05]
    assert list(ax.lines[1].get_xdata()) == [1, 1]  # the warmup line
    assert ax.get_ylim()[0] == 0
    assert "warmup" in ax.texts[0].get_text()


def test_lr_schedule_without_warmup_has_one_line():
    fig = plot_lr_schedule([0, 1], [0.2, 0.1])
    assert len(fig.axes[0].lines) == 1 and not fig.axes[0].texts


def test_lr_schedule_rejects_bad_input():
    with pytest.raises(ValueError):
        plot_lr_schedule([0, 1], [0.1])
    with pytest.raises(ValueError):
        plot_lr_schedule([], [])


def test_loss_curves_plot_train_every_record_and_val_when_evaluated():
    fig = plot_loss_curves(HISTORY)
    ax = fig.axes[0]
    train, val = ax.lines
    assert list(train.get_xdata()) == [10, 20, 30, 40]
    assert list(train.get_ydata()) == [8.0, 6.0, 5.0, 4.0]
    assert list(val.get_xdata()) == [20, 40]
    assert list(val.get_ydata()) == [6.5, 4.5]
    assert matplotlib.colors.same_color(val.get_color(), PALETTE["orange"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
    assert ax.get_xlabel() == "optimizer step"
    assert ax.get_xscale() == "linear"


def test_loss_curves_count_tokens_and_draw_the_reference():
    fig = plot_loss_curves(
        HISTORY, tokens_per_step=100_000, reference=8.3, reference_label="ln V", log_x=True
    )
    ax = fig.axes[0]
    assert list(ax.lines[0].get_xdata()) == pytest.approx([1, 2, 3, 4])
    assert list(ax.lines[2].get_ydata()) == [8.3, 8.3]
    assert "tokens" in ax.get_xlabel()
    assert ax.get_xscale() == "log"
    assert "ln V" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_loss_curves_mark_the_end_of_each_epoch_within_the_run():
    fig = plot_loss_curves(HISTORY, tokens_per_step=100_000, epoch_steps=15)
    ax = fig.axes[0]
    marks = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert [line.get_xdata()[0] for line in marks] == pytest.approx([1.5, 3.0])
    assert [t.get_text() for t in ax.texts] == ["end of epoch 1", "end of epoch 2"]
    plain = plot_loss_curves(HISTORY, epoch_steps=100)  # the run ends first
    assert not plain.axes[0].texts


def test_loss_curves_reject_an_empty_history():
    with pytest.raises(ValueError):
        plot_loss_curves([])


def test_val_loss_by_tokens_draws_each_run_on_a_log_axis():
    fig = plot_val_loss_by_tokens(
        {"CPU": ([1e5, 1e6], [6.0, 4.0]), "GPU": ([1e6, 1e9], [4.5, 2.5])}
    )
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [list(line.get_xdata()) for line in ax.lines] == [[1e5, 1e6], [1e6, 1e9]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CPU", "GPU"]


def test_val_loss_by_tokens_rejects_bad_runs():
    with pytest.raises(ValueError):
        plot_val_loss_by_tokens({})
    with pytest.raises(ValueError):
        plot_val_loss_by_tokens({"CPU": ([1, 2], [3.0])})


@pytest.mark.parametrize(
    "x, text",
    [
        (5e4, "50k"),
        (1e6, "1M"),
        (2.5e6, "2.5M"),
        (3e9, "3B"),
        (10, "10"),
        (0, ""),
    ],
)
def test_tokens_label(x, text):
    assert _tokens_label(x) == text
