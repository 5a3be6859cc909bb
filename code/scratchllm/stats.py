"""Bootstrap intervals for test sets whose items come in groups.

The passages or questions of one module are alike: a model that knows the
module gets many of them right at once.  So a resample draws modules with
replacement and takes all their items (a cluster bootstrap; Efron and
Tibshirani, 1993), and the interval says how much the score would move on
another draw of modules.  Every model is measured on the same resamples,
so the difference of two is taken resample by resample: a paired
comparison, much tighter than two separate intervals suggest.
"""

import numpy as np


def cluster_resamples(groups, resamples=1000, seed=0):
    """`resamples` index arrays into `groups` (one group name per item):
    each draws as many groups as there are, with replacement, and takes
    every item of each."""
    groups = np.asarray(groups)
    rows = [np.flatnonzero(groups == g) for g in sorted(set(groups))]
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        drawn = rng.integers(len(rows), size=len(rows))
        yield np.concatenate([rows[i] for i in drawn])


def bootstrap_means(scores, groups, resamples=1000, seed=0):
    """{name: array (resamples,)}: the mean of each item-level score array
    in `scores` ({name: array}), on the same cluster resamples."""
    scores = {name: np.asarray(s, dtype=float) for name, s in scores.items()}
    means = {name: [] for name in scores}
    for sample in cluster_resamples(groups, resamples, seed):
        for name, s in scores.items():
            means[name].append(s[sample].mean())
    return {name: np.array(m) for name, m in means.items()}


def interval(values, level=0.95):
    """The percentile interval holding `level` of the bootstrap values."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
