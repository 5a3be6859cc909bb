"""Time and peak memory of a forward pass, and the plot that compares the two
forms of attention as the sequence grows (the attention chapter)."""

import contextlib
import os
import statistics
import sys

import numpy as np
from torch.profiler import ProfilerActivity, profile

from bench.results import interleaved
from figures.style import PALETTE, figure


def median_seconds(fn, repeats=5, warmup=1):
    """Median wall-clock time of ``fn()`` over ``repeats`` calls, after
    ``warmup`` calls that are not timed (first calls pay for allocation)."""
    return statistics.median(interleaved({"fn": fn}, warmup, repeats)["fn"])


def peak_bytes(fn):
    """Peak bytes of CPU memory that ``fn()`` holds at once, from PyTorch's
    profiler, which records every allocation and free of every operator.

    Each operator's net allocation is counted when it ends (its children end
    first), and the running total's maximum is the peak.  Memory that was
    allocated before the call (the inputs, the weights) is not counted.
    """
    with _silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    deltas = sorted((e.time_range.end, e.self_cpu_memory_usage) for e in prof.events())
    total = peak = 0
    for _, delta in deltas:
        total += delta
        peak = max(peak, total)
    return peak


@contextlib.contextmanager
def _silenced():
    """Send what C++ code writes to stdout and stderr (the profiler logs each
    start and stop there) to /dev/null for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _to_numpy(values):
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float)


def plot_attention_scaling(lengths, series, labels=("teaching", "fast")):
    """Two panels against sequence length T (log2 axis): the forward time in
    milliseconds and the peak memory in MiB, both on log axes, so that a
    quadratic cost is a line twice as steep as a linear one.

    ``series`` maps each label to a dict with arrays "ms" and "mib", one value
    per length.  Returns the matplotlib Figure.
    """
    lengths = _to_numpy(lengths)
    if lengths.ndim != 1 or not len(lengths) or (lengths <= 0).any():
        raise ValueError("need a 1-D array of positive sequence lengths")
    fig, axes = figure(height_ratio=0.42, ncols=2)
    colours = (PALETTE["orange"], PALETTE["blue"], PALETTE["green"])
    for label, colour in zip(labels, colours, strict=False):
        for ax, key in zip(axes, ("ms", "mib"), strict=True):
            values = _to_numpy(series[label][key])
            if values.shape != lengths.shape:
                raise ValueError(f"{label}/{key}: one value per length needed")
            ax.plot(lengths, values, "o-", color=colour, markersize=3.5, label=label)
    for ax, ylabel in zip(axes, ("forward time (ms)", "peak memory (MiB)"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(lengths, labels=[f"{int(t)}" for t in lengths])
        ax.minorticks_off()
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(ylabel)
    axes[0].legend(frameon=False)
    fig.tight_layout()
    return fig
