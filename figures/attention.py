"""Heatmaps of attention weights."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from figures.style import PALETTE, TEXT_WIDTH_IN

# Above this many tokens the per-cell numbers would be too small to read.
MAX_ANNOTATED_TOKENS = 12


def _to_numpy(weights):
    """Accept a torch tensor (possibly on GPU, with grad) or an array."""
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    return np.asarray(weights, dtype=float)


def plot_attention(weights, tokens, title=None, ax=None):
    """Heatmap of a (T, T) attention matrix: row = query, column = key.

    Cells that are exactly zero (the future, under a causal mask) are left
    blank and hatched, so they read as "not allowed" rather than "small".
    Returns the matplotlib Figure.
    """
    w = _to_numpy(weights)
    T = len(tokens)
    if w.shape != (T, T):
        raise ValueError(f"weights have shape {w.shape}, expected {(T, T)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(TEXT_WIDTH_IN * 0.8, TEXT_WIDTH_IN * 0.7))
    fig = ax.figure

    # Zero cells become transparent and show a hatched patch drawn behind
    # the image. vmax=1 because rows sum to one: heads compare fairly.
    cmap = plt.get_cmap("Blues").with_extremes(bad=(0, 0, 0, 0))
    ax.add_patch(Rectangle((-0.5, -0.5), T, T, facecolor="white",
                           edgecolor=PALETTE["light"], hatch="////",
                           linewidth=0, zorder=0))
    image = ax.imshow(np.ma.masked_where(w == 0.0, w), cmap=cmap,
                      vmin=0.0, vmax=1.0, zorder=1)
    if T <= MAX_ANNOTATED_TOKENS:
        _annotate_cells(ax, w)

    ax.set_xticks(range(T), labels=tokens, rotation=45, ha="right",
                  rotation_mode="anchor")
    ax.set_yticks(range(T), labels=tokens)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="weight")
    return fig


def _annotate_cells(ax, w):
    """Print each allowed weight in its cell, light text on dark cells."""
    for i, j in zip(*np.nonzero(w), strict=True):
        colour = "white" if w[i, j] > 0.6 else "black"
        ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center",
                fontsize=6, color=colour)
