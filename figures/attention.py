"""Heatmaps of attention weights."""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from figures.style import PALETTE, TEXT_WIDTH_IN

# Above this many tokens the per-cell numbers would be too small to read.
MAX_ANNOTATED_TOKENS = 12
# In a grid of heads: cells narrower than this (inches) get no numbers,
# and rows hold at most this many panels.
MIN_ANNOTATED_CELL_IN = 0.3
MIN_SLANTED_CELL_IN = 0.2  # narrower cells get upright key labels
MAX_HEADS_PER_ROW = 4
# Token labels are set at this size (points), and a grid of heads uses fewer
# panels per row until a cell is at least this wide (inches), so that upright
# labels of neighbouring keys do not run into each other (an upright
# label needs the height of its letters, not the length of its text).
TOKEN_FONTSIZE = 7
MIN_LABELLED_CELL_IN = 0.075


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

    image = _heatmap(ax, w, annotate=T <= MAX_ANNOTATED_TOKENS)
    _label_tokens(ax, tokens)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="weight")
    return fig


def plot_attention_heads(weights, tokens, title=None):
    """One heatmap per head of an (n_head, T, T) attention tensor, on a grid
    as wide as the text block.

    All panels share plot_attention's colour scale (0 to 1, one colour bar)
    and its hatching of masked cells; tokens label only the outer panels.
    Returns the matplotlib Figure.
    """
    w = _to_numpy(weights)
    T = len(tokens)
    if w.ndim != 3 or w.shape[1:] != (T, T) or w.shape[0] == 0:
        raise ValueError(f"weights have shape {w.shape}, expected (n_head, {T}, {T})")
    n_head = w.shape[0]
    per_row = _heads_per_row(n_head, T)
    nrows = math.ceil(n_head / per_row)
    ncols = math.ceil(n_head / nrows)  # balanced rows: 6 heads are 2 x 3, not 4 + 2
    panel = _panel_in(ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        squeeze=False,
        layout="constrained",
        figsize=(TEXT_WIDTH_IN, nrows * panel + 0.9),
    )
    used = axes.ravel()[:n_head]
    for ax in axes.ravel()[n_head:]:
        ax.remove()
    cell = panel / T  # inches per token
    for h, ax in enumerate(used):
        image = _heatmap(ax, w[h], annotate=cell >= MIN_ANNOTATED_CELL_IN)
        col = h % ncols
        bottom = h + ncols >= n_head  # no panel below this one
        _label_tokens(
            ax,
            tokens,
            x=bottom,
            y=col == 0,
            fontsize=TOKEN_FONTSIZE,
            upright=cell < MIN_SLANTED_CELL_IN,
        )
        ax.set_title(f"head {h}", fontsize=8, pad=3)
    fig.supxlabel("key (attended to)", fontsize=8)
    fig.supylabel("query (attending)", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.colorbar(
        image,
        ax=list(used),
        fraction=0.046,
        pad=0.02,
        label="weight",
        shrink=min(1.0, 0.5 + 0.25 * nrows),
    )
    return fig


def _panel_in(ncols):
    """Width of a square panel (inches) when ncols share the text block,
    less the room of the token labels and the colour bar."""
    return (TEXT_WIDTH_IN - 1.2) / max(ncols, 2)


def _heads_per_row(n_head, T):
    """The most panels per row (up to MAX_HEADS_PER_ROW) whose cells are
    still wide enough for a token label each."""
    for per_row in range(min(n_head, MAX_HEADS_PER_ROW), 1, -1):
        if _panel_in(per_row) / T >= MIN_LABELLED_CELL_IN:
            return per_row
    return 1


def visible(token):
    """A token as a tick label: a token of white space alone shows its
    characters (a space as an open box, a line break as a return arrow),
    where the plain text would leave an empty label."""
    if token.strip():
        return token
    return token.replace(" ", "\u2423").replace("\n", "\u21b5").replace("\t", "\u21e5")


def _heatmap(ax, w, annotate):
    """Draw a (T, T) weight matrix on ax; returns the image for a colour bar.

    Zero cells become transparent and show a hatched patch drawn behind
    the image. vmax=1 because rows sum to one: heads compare fairly.
    """
    T = w.shape[0]
    cmap = plt.get_cmap("Blues").with_extremes(bad=(0, 0, 0, 0))
    ax.add_patch(
        Rectangle(
            (-0.5, -0.5),
            T,
            T,
            facecolor="white",
            edgecolor=PALETTE["light"],
            hatch="////",
            linewidth=0,
            zorder=0,
        )
    )
    image = ax.imshow(np.ma.masked_where(w == 0.0, w), cmap=cmap, vmin=0.0, vmax=1.0, zorder=1)
    if annotate:
        _annotate_cells(ax, w)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def _label_tokens(ax, tokens, x=True, y=True, fontsize=None, upright=False):
    """Tokens as tick labels: keys along x (slanted, or upright where cells
    are too narrow for slanted labels), queries along y; an axis with x or y
    False keeps its ticks but shows no labels."""
    T = len(tokens)
    tokens = [visible(t) for t in tokens]
    ax.set_xticks(
        range(T),
        labels=tokens if x else [],
        rotation=90 if upright else 45,
        ha="right",
        va="center" if upright else "top",
        rotation_mode="anchor",
        fontsize=fontsize,
    )
    ax.set_yticks(range(T), labels=tokens if y else [], fontsize=fontsize)


def _annotate_cells(ax, w):
    """Print each allowed weight in its cell, light text on dark cells."""
    for i, j in zip(*np.nonzero(w), strict=True):
        colour = "white" if w[i, j] > 0.6 else "black"
        ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=6, color=colour)
