"""Plots for the tokenization and vector chapters: bytes per token against
vocabulary size, the sinusoidal position matrix, and how similar the
encodings of two positions are as they move apart."""

import matplotlib.pyplot as plt
import numpy as np

from figures.style import PALETTE, TEXT_WIDTH_IN, figure


def _to_numpy(values):
    """Accept a torch tensor (possibly on GPU, with grad), a list or an array."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float)


def plot_bytes_per_token(vocab_sizes, bytes_per_token, highlight=None):
    """Bytes of text per token against vocabulary size, on a log2 x axis
    (each step doubles the vocabulary), every point labelled with its value.

    ``highlight``, a vocabulary size among ``vocab_sizes``, is drawn as a
    larger orange dot: the size the book uses.  Returns the matplotlib Figure.
    """
    sizes = _to_numpy(vocab_sizes)
    values = _to_numpy(bytes_per_token)
    if sizes.shape != values.shape or sizes.ndim != 1 or not len(sizes):
        raise ValueError("need one bytes-per-token value per vocabulary size")
    if (sizes <= 0).any():
        raise ValueError("vocabulary sizes must be positive for a log axis")
    order = np.argsort(sizes)
    sizes, values = sizes[order], values[order]

    fig, ax = figure(height_ratio=0.5)
    ax.plot(sizes, values, "o-", color=PALETTE["blue"], markersize=4)
    for size, value in zip(sizes, values, strict=True):
        ax.annotate(
            f"{value:.2f}",
            xy=(size, value),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            fontsize=7,
        )
    if highlight is not None:
        if highlight not in sizes:
            raise ValueError(f"highlight {highlight} is not one of the sizes")
        value = values[list(sizes).index(highlight)]
        ax.plot(
            [highlight],
            [value],
            "o",
            color=PALETTE["orange"],
            markersize=7,
            zorder=3,
            label=f"the book's {highlight:,}",
        )
        ax.legend(loc="lower right", frameon=False)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, labels=[f"{int(s):,}" for s in sizes])
    ax.minorticks_off()
    ax.set_ylim(bottom=min(1.0, values.min()), top=values.max() * 1.12)
    ax.set_xlabel("vocabulary size (tokens, log scale)")
    ax.set_ylabel("bytes per token")
    return fig


def plot_positions(matrix, max_channels=None):
    """Heatmaps of a (positions, channels) sinusoidal table, row = position:
    its even channels (the sines) and its odd channels (the cosines) side by
    side, column i of each panel the pair i, on one diverging map centred
    on zero (the sinusoids swing between -1 and 1).  ``max_channels`` keeps
    only the first channels, where the fast sinusoids are.

    Interleaved, each slow sine (near 0) beside its cosine (near 1) would
    print as fine stripes, and rows resampled to the nearest pixel as
    bands: hence the two panels and the smooth resampling.  Returns the
    matplotlib Figure.
    """
    pe = _to_numpy(matrix)
    if pe.ndim != 2 or 0 in pe.shape:
        raise ValueError(f"need a (positions, channels) matrix, got {pe.shape}")
    if max_channels is not None:
        pe = pe[:, :max_channels]
    limit = max(np.abs(pe).max(), 1e-12)

    fig, axes = plt.subplots(
        1, 2, sharey=True, figsize=(TEXT_WIDTH_IN, TEXT_WIDTH_IN * 0.5), layout="constrained"
    )
    for ax, first, title in (
        (axes[0], 0, "sines, the even channels"),
        (axes[1], 1, "cosines, the odd channels"),
    ):
        image = ax.imshow(
            pe[:, first::2],
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
            aspect="auto",
            interpolation="antialiased",
        )
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("channel pair")
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0].set_ylabel("position")
    fig.colorbar(image, ax=axes, fraction=0.046, pad=0.02, label="value")
    return fig


def cosine_by_offset(matrix, offsets):
    """Mean cosine similarity between rows p and p + k of ``matrix``, over
    every p with p + k in range, for each offset k in ``offsets``."""
    pe = _to_numpy(matrix)
    unit = pe / np.linalg.norm(pe, axis=1, keepdims=True)
    means = []
    for k in offsets:
        k = int(k)
        if not 0 <= k < len(unit):
            raise ValueError(f"offset {k} is outside 0..{len(unit) - 1}")
        means.append(float((unit[: len(unit) - k] * unit[k:]).sum(axis=1).mean()))
    return np.array(means)


def plot_similarity_by_offset(offsets, similarities):
    """Cosine similarity against the offset between two positions, one line
    per curve.  ``similarities`` maps a label to one value per offset.
    Returns the matplotlib Figure."""
    offsets = _to_numpy(offsets)
    if not similarities:
        raise ValueError("nothing to plot")
    fig, ax = figure(height_ratio=0.5)
    for label, values in similarities.items():
        values = _to_numpy(values)
        if values.shape != offsets.shape:
            raise ValueError(f"{label}: {values.shape[0]} values for {offsets.shape[0]} offsets")
        ax.plot(offsets, values, label=label)
    ax.axhline(0, color=PALETTE["gray"], linewidth=0.6, linestyle=":")
    ax.set_xlim(offsets.min(), offsets.max())
    ax.set_xlabel("offset k between two positions")
    ax.set_ylabel("cosine similarity")
    ax.legend(frameon=False)
    return fig
