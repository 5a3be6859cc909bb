"""Plots of a scaling-law sweep: IsoFLOP curves, the compute-optimal
frontier, a held-out prediction and the worth of repeated data.

The plots read the sweep's records as scratchllm.scaling writes them (keys
budget, params, tokens, val_loss, seed) and the fits as its functions
return them; they draw, they do not fit.
"""

import numpy as np

from figures.style import PALETTE, figure

COLOURS = [PALETTE[name] for name in ("blue", "orange", "green", "red", "purple", "gray")]


def by_size(records):
    """{N: [losses over the seeds]} of one budget's records."""
    sizes = {}
    for r in records:
        sizes.setdefault(r["params"], []).append(r["val_loss"])
    return dict(sorted(sizes.items()))


def _parabola(ax, sizes, colour):
    """The parabola in log N through the seeds' mean losses, drawn a little
    past the runs on both sides."""
    x = np.log(list(sizes))
    y = [np.mean(v) for v in sizes.values()]
    coefficients = np.polyfit(x, y, 2)
    grid = np.linspace(x.min() - 0.2, x.max() + 0.2, 100)
    ax.plot(np.exp(grid), np.polyval(coefficients, grid), color=colour, linewidth=0.9)


def plot_isoflops(records, minima, held_out=None):
    """Validation loss against N for every budget: each seed a small dot,
    the parabola through the seeds' means, its minimum a large dot.  The
    held-out budget, if given, is drawn hollow and without its parabola."""
    fig, ax = figure(height_ratio=0.62)
    budgets = sorted({r["budget"] for r in records})
    for colour, budget in zip(COLOURS, budgets, strict=False):
        sizes = by_size([r for r in records if r["budget"] == budget])
        held = budget == held_out
        for n, losses in sizes.items():
            ax.scatter(
                [n] * len(losses),
                losses,
                s=6,
                color="none" if held else colour,
                edgecolors=colour,
                linewidths=0.6,
            )
        label = f"C = {budget:.2g}" + (" (held out)" if held else "")
        if not held:
            _parabola(ax, sizes, colour)
        ax.plot([], [], color=colour, marker="o", markersize=3, label=label)
    for m in minima:
        ax.scatter(m["N_opt"], m["loss_opt"], s=28, color="black", marker="*", zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("parameters N (embeddings included)")
    ax.set_ylabel("validation loss (nats per token)")
    ax.legend(frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return fig


def plot_frontier(minima, a, k, anchors):
    """N_opt against C: the IsoFLOP minima, the power law fitted through
    them (exponent a, coefficient k), and lines of the anchors' exponents
    {label: exponent} through the middle budget, for comparison."""
    fig, ax = figure(height_ratio=0.55)
    C = np.array([m["C"] for m in minima])
    N = np.array([m["N_opt"] for m in minima])
    grid = np.geomspace(C.min() / 2, C.max() * 2, 50)
    ax.plot(grid, k * grid**a, color=PALETTE["blue"], label=f"this sweep, a = {a:.2f}")
    middle = len(C) // 2
    styles = iter(["--", ":", "-."])
    for label, exponent in anchors.items():
        line = N[middle] * (grid / C[middle]) ** exponent
        ax.plot(
            grid,
            line,
            color=PALETTE["gray"],
            linestyle=next(styles),
            linewidth=0.9,
            label=f"{label}, a = {exponent:.2f}",
        )
    ax.scatter(C, N, color=PALETTE["blue"], s=14, zorder=3, label="IsoFLOP minima")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("compute C (FLOPs)")
    ax.set_ylabel("compute-optimal N")
    ax.legend(frameon=False)
    return fig


def plot_holdout(records, curve, measured, predicted):
    """The held-out budget: its runs (the seeds' mean, a bar for their
    range), the law's loss along its IsoFLOP curve (curve: (N, loss)
    arrays), and the two optima, measured and predicted."""
    fig, ax = figure(height_ratio=0.5)
    sizes = by_size(records)
    n = np.array(list(sizes))
    mean = np.array([np.mean(v) for v in sizes.values()])
    spread = np.array([[mean[i] - min(v), max(v) - mean[i]] for i, v in enumerate(sizes.values())])
    ax.errorbar(
        n,
        mean,
        yerr=spread.T,
        fmt="o",
        markersize=3,
        color=PALETTE["blue"],
        capsize=2,
        linewidth=0.8,
        label="measured (mean, range of seeds)",
    )
    ax.plot(*curve, color=PALETTE["orange"], label="law fitted without this budget")
    ax.scatter(
        measured["N_opt"],
        measured["loss_opt"],
        marker="*",
        s=40,
        color=PALETTE["blue"],
        zorder=3,
        label="measured optimum (parabola)",
    )
    ax.scatter(
        predicted["N_opt"],
        predicted["loss_opt"],
        marker="*",
        s=40,
        color=PALETTE["orange"],
        zorder=3,
        label="predicted optimum",
    )
    ax.set_xscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel("validation loss (nats per token)")
    ax.legend(frameon=False)
    return fig


def plot_repetition(records, epochs, fitted, fresh):
    """Loss against epochs of one unique-token subset: each seed a dot, the
    fitted curve with Muennighoff's effective data, and the curve if every
    epoch were worth fresh data (fitted, fresh: losses at `epochs`)."""
    fig, ax = figure(height_ratio=0.5)
    ax.scatter(
        [r["epochs"] for r in records],
        [r["val_loss"] for r in records],
        s=8,
        color=PALETTE["blue"],
        label="runs (each seed)",
    )
    ax.plot(epochs, fitted, color=PALETTE["orange"], label="fit: repeated data decays")
    ax.plot(
        epochs,
        fresh,
        color=PALETTE["gray"],
        linestyle="--",
        linewidth=0.9,
        label="if every epoch were fresh data",
    )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("epochs of the same unique tokens")
    ax.set_ylabel("validation loss (nats per token)")
    ax.legend(frameon=False)
    return fig
