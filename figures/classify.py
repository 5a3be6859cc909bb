"""Figures of the classification chapter: the labelled-data curve and the
confusion matrix."""

import numpy as np

from figures.style import PALETTE, figure

CURVE_COLOURS = ("blue", "orange", "green", "red", "gray")


def plot_curve(curves, all_label="all"):
    """Test accuracy against labelled passages per class.

    curves: {name: [(per_class, accuracy, low, high), ...]}, per_class None
    for the whole training set, drawn at the right end and labelled
    all_label.  Each point has a bar for its 95% interval."""
    fig, ax = figure(height_ratio=0.55)
    sizes = sorted({p[0] for points in curves.values() for p in points if p[0]})
    right = sizes[-1] * 2
    for (name, points), colour in zip(curves.items(), CURVE_COLOURS, strict=False):
        x = np.array([right if p[0] is None else p[0] for p in points], float)
        y = np.array([p[1] for p in points])
        err = np.array([[p[1] - p[2], p[3] - p[1]] for p in points]).T
        # A small shift per curve keeps the interval bars apart.
        shift = 1 + 0.04 * (list(curves).index(name) - (len(curves) - 1) / 2)
        ax.errorbar(
            x * shift,
            y,
            yerr=err,
            fmt="o-",
            markersize=3,
            capsize=2,
            linewidth=0.9,
            color=PALETTE[colour],
            label=name,
        )
    ax.set_xscale("log")
    ticks = [*sizes, right]
    ax.set_xticks(ticks, [str(s) for s in sizes] + [all_label])
    ax.minorticks_off()
    ax.set_xlabel("labelled training passages per class")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, None)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    return fig


def plot_confusion(counts, labels):
    """Rows: the true chapter; columns: the predicted one; each row as
    fractions of its passages, the count printed in each cell."""
    counts = np.asarray(counts)
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = figure(height_ratio=0.8)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j]:
                colour = "white" if rows[i, j] > 0.5 else "black"
                ax.text(j, i, counts[i, j], ha="center", va="center", fontsize=6, color=colour)
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=45, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted chapter")
    ax.set_ylabel("true chapter")
    ax.spines[:].set_visible(False)
    return fig
