"""The textbook BPE trainer: recount every pair after every merge.

Each step scans the whole training text, so training costs
O(merges x text length).  It is here to be read; ``fast.py`` learns the
same merges in a fraction of the time.
"""

from .base import get_stats, merge


def most_frequent(stats: dict[tuple[int, int], int]) -> tuple[int, int]:
    """The pair to merge next: the most frequent, ties to the smallest pair,
    so that every trainer makes the same choice."""
    return max(stats, key=lambda pair: (stats[pair], -pair[0], -pair[1]))


def train_naive(chunks: list[bytes], num_merges: int) -> list[tuple[int, int]]:
    ids = [list(chunk) for chunk in chunks]
    merges = []
    for step in range(num_merges):
        stats: dict[tuple[int, int], int] = {}
        for chunk_ids in ids:
            get_stats(chunk_ids, stats)
        if not stats:
            break  # every chunk is a single token: nothing left to merge
        pair = most_frequent(stats)
        ids = [merge(chunk_ids, pair, 256 + step) for chunk_ids in ids]
        merges.append(pair)
    return merges
