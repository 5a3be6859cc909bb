"""Figures of the evaluation chapter."""

from figures.style import PALETTE, figure


def plot_scores_against_loss(loss, panels):
    """Task scores of a run's snapshots against their validation loss, one
    panel per group of tasks, the loss axis reversed so that training runs
    from left to right.

    loss: the snapshots' validation losses.  panels: a list of (title,
    lines, chance), where lines maps a label to one score per snapshot and
    chance (or None) is drawn as a dashed line: the score of a guess.
    """
    fig, axes = figure(height_ratio=0.5, ncols=len(panels))
    colors = [PALETTE[c] for c in ("blue", "orange", "green", "red")]
    for ax, (title, lines, chance) in zip(axes, panels, strict=True):
        for color, (label, values) in zip(colors, lines.items(), strict=False):
            ax.plot(loss, values, marker="o", markersize=2.5, linewidth=1, color=color, label=label)
        if chance is not None:
            ax.axhline(chance, color=PALETTE["gray"], linestyle="--", linewidth=0.7, label="guess")
        ax.invert_xaxis()
        ax.set_title(title)
        ax.set_xlabel("validation loss")
        # Below the panel: a small panel has no empty corner to spare.
        ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.38))
    fig.tight_layout()
    return fig
