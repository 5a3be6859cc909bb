"""BPE training with incremental pair counts (what production trainers do).

Three ideas make it fast:
1. Train on unique pre-tokens with their counts: a word that occurs 10,000
   times is merged once, its pairs weighted by 10,000.
2. Keep the pair counts and, for each pair, the words that contain it; a
   merge updates only the words that hold the merged pair.
3. Find the most frequent pair with a heap of (-count, pair).  Entries go
   stale when counts change; a popped entry whose count is no longer
   current is skipped ("lazy deletion").
Ties are broken toward the smallest pair, exactly as ``naive.most_frequent``
does, so both trainers learn identical merges.
"""

import heapq
from collections import Counter, defaultdict
from itertools import pairwise

from .base import merge


def train_fast(chunks: list[bytes], num_merges: int) -> list[tuple[int, int]]:
    word_counts = Counter(chunks)
    words = [list(word) for word in word_counts]
    counts = list(word_counts.values())

    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for w, ids in enumerate(words):
        for pair in pairwise(ids):
            pair_counts[pair] += counts[w]
            where[pair].add(w)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges = []
    while heap and len(merges) < num_merges:
        neg_count, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg_count:
            continue  # stale: this pair's count changed after the push
        new_id = 256 + len(merges)
        merges.append(pair)
        touched = set()
        for w in where.pop(pair):
            ids, count = words[w], counts[w]
            for old in pairwise(ids):
                pair_counts[old] -= count
                touched.add(old)
            ids = words[w] = merge(ids, pair, new_id)
            for new in pairwise(ids):
                pair_counts[new] += count
                where[new].add(w)
                touched.add(new)
        for p in touched:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
            else:
                del pair_counts[p]
    return merges
