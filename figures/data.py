"""Plots for the data chapter: document lengths and the LSH S-curve."""

import numpy as np

from figures.style import PALETTE, figure


def plot_document_lengths(lengths_by_split, bins=25):
    """Histograms of document lengths (characters), one outline per split,
    on a log-x axis: lengths span several orders of magnitude.  Each split
    is normalised to its share of documents, so small splits compare with
    large ones.

    ``lengths_by_split`` maps a split name to a list of lengths.
    Returns the matplotlib Figure.
    """
    lengths_by_split = {
        name: np.asarray(lengths, dtype=float)
        for name, lengths in lengths_by_split.items()
        if len(lengths)
    }
    if not lengths_by_split:
        raise ValueError("no documents to plot")
    everything = np.concatenate(list(lengths_by_split.values()))
    if everything.min() <= 0:
        raise ValueError("lengths must be positive for a log axis")
    edges = np.geomspace(everything.min(), everything.max() * 1.001, bins + 1)

    fig, ax = figure(height_ratio=0.5)
    for name, lengths in lengths_by_split.items():
        ax.hist(
            lengths,
            bins=edges,
            weights=np.full(len(lengths), 1 / len(lengths)),
            histtype="step",
            linewidth=1.2,
            label=f"{name} ({len(lengths)})",
        )
    ax.set_xscale("log")
    ax.set_xlabel("document length (characters, log scale)")
    ax.set_ylabel("share of the split's documents")
    ax.legend(title="split (documents)", frameon=False)
    return fig


def lsh_probability(similarity, bands, rows):
    """Probability that two documents of Jaccard similarity s share at least
    one of ``bands`` bands of ``rows`` MinHash values: 1 - (1 - s^r)^b."""
    s = np.asarray(similarity, dtype=float)
    return 1 - (1 - s**rows) ** bands


def plot_lsh_curve(bands, rows, threshold):
    """The S-curve of LSH banding, with the similarity threshold marked.
    Returns the matplotlib Figure."""
    s = np.linspace(0, 1, 501)
    p = lsh_probability(s, bands, rows)
    at_threshold = float(lsh_probability(threshold, bands, rows))

    fig, ax = figure(height_ratio=0.5)
    ax.plot(s, p, color=PALETTE["blue"], label=f"$b = {bands}$ bands of $r = {rows}$ rows")
    # Shaded: the pairs LSH gets wrong, on either side of the threshold.
    ax.fill_between(
        s,
        0,
        p,
        where=s <= threshold,
        color=PALETTE["red"],
        alpha=0.2,
        linewidth=0,
        label="false positives",
    )
    ax.fill_between(
        s,
        p,
        1,
        where=s >= threshold,
        color=PALETTE["orange"],
        alpha=0.2,
        linewidth=0,
        label="false negatives",
    )
    ax.axvline(threshold, color=PALETTE["gray"], linestyle="--", linewidth=0.8)
    ax.plot([threshold], [at_threshold], "o", color=PALETTE["blue"], markersize=4)
    ax.annotate(
        f"threshold {threshold:g}: P = {at_threshold:.2f}",
        xy=(threshold, at_threshold),
        # Below and right of the point: the legend fills the upper left.
        xytext=(8, -14),
        textcoords="offset points",
        ha="left",
        fontsize=7.5,
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Jaccard similarity $s$ of two documents")
    ax.set_ylabel("P(candidate pair)")
    ax.legend(loc="upper left", frameon=False)
    return fig
