"""Plots for the data chapter: document lengths and the LSH S-curve."""

import numpy as np

from figures.style import PALETTE, figure

PERCENTILES = (10, 25, 50, 75, 90)


def length_percentiles(lengths):
    """The 10th, 25th, 50th, 75th and 90th percentiles of ``lengths``: the
    middle 80%, the middle half and the median that the length figure marks."""
    return dict(
        zip(PERCENTILES, np.percentile(np.asarray(lengths, dtype=float), PERCENTILES), strict=True)
    )


def plot_document_lengths(lengths_by_split, reference="train", bins=30):
    """Document lengths (characters) on a log-x axis, in two panels.

    Below, the histogram of the ``reference`` split, each bar its share of
    the split's documents.  Above, one row per split: the median (dot), the
    middle half (thick bar) and the middle 80% (thin line), over a band that
    marks the reference's middle half.  A histogram of a few dozen documents
    is noise; its median and quartiles can still be compared.

    ``lengths_by_split`` maps a split name to a list of lengths.
    Returns the matplotlib Figure.
    """
    lengths_by_split = {
        name: np.asarray(lengths, dtype=float)
        for name, lengths in lengths_by_split.items()
        if len(lengths)
    }
    if reference not in lengths_by_split:
        raise ValueError(f"no documents in the reference split {reference!r}")
    everything = np.concatenate(list(lengths_by_split.values()))
    if everything.min() <= 0:
        raise ValueError("lengths must be positive for a log axis")

    fig, (rows, hist) = figure(
        height_ratio=0.6,
        nrows=2,
        sharex=True,
        gridspec_kw={"height_ratios": [1, 1.5], "hspace": 0.08},
    )
    base = length_percentiles(lengths_by_split[reference])
    rows.axvspan(base[25], base[75], color=PALETTE["light"], linewidth=0)
    names = list(lengths_by_split)
    for y, name in enumerate(reversed(names)):
        p = length_percentiles(lengths_by_split[name])
        color = PALETTE["blue"] if name == reference else PALETTE["orange"]
        rows.plot([p[10], p[90]], [y, y], color=color, linewidth=0.8)
        rows.plot([p[25], p[75]], [y, y], color=color, linewidth=5, solid_capstyle="butt")
        rows.plot([p[50]], [y], "o", color="white", markeredgecolor=color, markersize=4.5)
    rows.set_yticks(range(len(names)))
    rows.set_yticklabels([f"{name} ({len(lengths_by_split[name]):,})" for name in reversed(names)])
    rows.set_ylim(-0.6, len(names) - 0.4)
    rows.tick_params(axis="y", length=0)
    rows.tick_params(axis="x", which="both", bottom=False)
    rows.spines["bottom"].set_visible(False)
    rows.spines["left"].set_visible(False)

    lengths = lengths_by_split[reference]
    edges = np.geomspace(everything.min(), everything.max() * 1.001, bins + 1)
    hist.hist(
        lengths,
        bins=edges,
        weights=np.full(len(lengths), 1 / len(lengths)),
        color=PALETTE["blue"],
        alpha=0.7,
        linewidth=0,
    )
    hist.set_xscale("log")
    hist.set_xlabel("document length (characters, log scale)")
    hist.set_ylabel(f"share of {reference}\ndocuments")
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
