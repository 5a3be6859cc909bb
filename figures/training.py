"""Plots of a training run: the learning-rate schedule and the loss curves.

The loss plots read a Trainer's history as it is: a list of records with
keys step, train_loss and val_loss (None between evaluations).
"""

import math

from matplotlib.ticker import FuncFormatter

from figures.style import PALETTE, figure


def plot_lr_schedule(steps, lrs, warmup_steps=None):
    """The learning rate against the optimizer step, with the end of the
    warmup marked by a dotted line when warmup_steps is given."""
    steps, lrs = list(steps), list(lrs)
    if not steps or len(steps) != len(lrs):
        raise ValueError(
            f"need as many steps as rates, not {len(steps)} and {len(lrs)}, and at least one"
        )
    fig, ax = figure(height_ratio=0.4)
    ax.plot(steps, lrs, color=PALETTE["blue"])
    if warmup_steps:
        ax.axvline(warmup_steps, color=PALETTE["gray"], linestyle=":", linewidth=0.8)
        ax.annotate(
            "end of warmup",
            (warmup_steps, 0.5 * max(lrs)),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=7,
            color=PALETTE["gray"],
            va="center",
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=0)
    # Each tick in full ("0.004"), not scaled by an offset printed at the
    # top of the axis, which reads as a stray label.
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}"))
    return fig


def _curves(history):
    """(steps, train losses) of every record, (steps, val losses) of the
    records with a validation loss."""
    train = [(r["step"], r["train_loss"]) for r in history]
    val = [(r["step"], r["val_loss"]) for r in history if r.get("val_loss") is not None]
    return train, val


def plot_loss_curves(
    history,
    tokens_per_step=None,
    reference=None,
    reference_label=None,
    log_x=False,
    epoch_steps=None,
):
    """Train loss (a thin line, every record) and validation loss (dots on a
    line, every evaluation) of one run.

    tokens_per_step: if given, the x axis counts training tokens (millions)
    instead of steps.  reference: a loss drawn as a dashed horizontal line
    (say ln V, the loss of a uniform guess), labelled reference_label.
    log_x: a logarithmic step (or token) axis, which shows the early drop
    and the late progress in one plot.  epoch_steps: the steps of one pass
    over the training split; the end of each pass within the run is marked
    by a dotted line, where the model starts to see text it has seen.
    """
    train, val = _curves(history)
    if not train:
        raise ValueError("the history has no records")
    scale = 1.0 if tokens_per_step is None else tokens_per_step / 1e6
    fig, ax = figure(height_ratio=0.55)
    ax.plot(
        [s * scale for s, _ in train],
        [v for _, v in train],
        color=PALETTE["blue"],
        linewidth=0.8,
        alpha=0.8,
        label="train",
    )
    if val:
        ax.plot(
            [s * scale for s, _ in val],
            [v for _, v in val],
            color=PALETTE["orange"],
            marker="o",
            markersize=2.5,
            label="validation",
        )
    if reference is not None:
        ax.axhline(
            reference, color=PALETTE["gray"], linestyle="--", linewidth=0.8, label=reference_label
        )
    if epoch_steps:
        last = train[-1][0]
        for k in range(1, int(last / epoch_steps) + 1):
            x = k * epoch_steps * scale
            ax.axvline(x, color=PALETTE["gray"], linestyle=":", linewidth=0.8)
            ax.annotate(
                f"end of epoch {k}",
                (x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                fontsize=7,
                color=PALETTE["gray"],
                va="top",
            )
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("optimizer step" if tokens_per_step is None else "training tokens (millions)")
    ax.set_ylabel("loss (nats per token)")
    ax.legend(frameon=False)
    return fig


def plot_val_loss_by_tokens(runs):
    """Validation loss against training tokens (log scale) for several runs.

    runs: {label: (tokens, val_losses)}, drawn in the house colours in the
    order given.  Tokens rather than steps put runs with different batch
    sizes on one axis.
    """
    if not runs:
        raise ValueError("no runs to plot")
    fig, ax = figure(height_ratio=0.55)
    for label, (tokens, losses) in runs.items():
        tokens, losses = list(tokens), list(losses)
        if not tokens or len(tokens) != len(losses):
            raise ValueError(
                f"run {label!r}: need as many token counts as losses, and at least one"
            )
        ax.plot(tokens, losses, marker="o", markersize=2.5, label=label)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_tokens_label))
    ax.set_xlabel("training tokens")
    ax.set_ylabel("validation loss (nats per token)")
    ax.legend(frameon=False)
    return fig


def _tokens_label(x, _pos=None):
    """1e6 -> '1M', 3e9 -> '3B', 5e4 -> '50k'."""
    if x <= 0:
        return ""
    value, suffix = x, ""
    for size, name in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= size:
            value, suffix = x / size, name
            break
    digits = 0 if math.isclose(value, round(value)) else 1
    return f"{value:.{digits}f}{suffix}"
