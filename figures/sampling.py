"""The next-token distribution under each decoding rule, as bar charts."""

import math

import matplotlib.pyplot as plt
import numpy as np

from figures.attention import visible
from figures.style import PALETTE, TEXT_WIDTH_IN


def plot_next_token_distributions(probs_by_rule, labels, top=8):
    """One panel per rule: the probability it gives each of the `top` most
    likely tokens of the first rule's distribution, with the probability
    left for all the other tokens as a last, grey bar.

    probs_by_rule: {rule name: (vocab_size,) probabilities}, the first one
    the model's own distribution (temperature 1, no cut), so that every
    panel shows the same tokens in the same order.  labels: the text of
    each token id.  Returns the matplotlib Figure.
    """
    if not probs_by_rule:
        raise ValueError("no rules to plot")
    rules = {name: np.asarray(p, dtype=float).ravel() for name, p in probs_by_rule.items()}
    first = next(iter(rules.values()))
    if any(p.shape != first.shape for p in rules.values()) or len(labels) != len(first):
        raise ValueError("every rule needs one probability per token label")
    ids = np.argsort(-first, kind="stable")[:top]
    names = [repr(visible(labels[i]))[1:-1] for i in ids] + ["all others"]
    ncols = 3
    nrows = math.ceil(len(rules) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
        figsize=(TEXT_WIDTH_IN, 1.75 * nrows + 0.3),
    )
    y = np.arange(len(names))
    for ax, (name, p) in zip(axes.ravel(), rules.items(), strict=False):
        shown = np.append(p[ids], max(0.0, 1.0 - p[ids].sum()))
        colours = [PALETTE["blue"]] * top + [PALETTE["gray"]]
        ax.barh(y, shown, color=colours, height=0.7)
        kept = int((p > 0).sum())
        possible = f"{kept:,} token{'s' if kept != 1 else ''} possible"
        ax.set_title(f"{name}\n{possible}", fontsize=7.5, pad=3)
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=7, length=0)
    for ax in axes.ravel()[len(rules) :]:
        ax.remove()
    axes[0, 0].set_yticks(y, labels=names)
    axes[0, 0].invert_yaxis()
    fig.supxlabel("probability of the next token", fontsize=8)
    return fig
