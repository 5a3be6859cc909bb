"""Duplicate detection: exact (hashing) and near-duplicate (MinHash + LSH).

Near-duplicates follow Broder (1997): a document is the set of its word
5-grams ("shingles"); two documents' resemblance is the Jaccard similarity
of their sets; a MinHash signature of ``num_perm`` minima estimates it; and
locality-sensitive hashing over bands of the signature finds candidate
pairs without comparing all pairs.  The hashing matches the datasketch
library's classic scheme (``MinHash(scheme="legacy")``) value for value:
SHA-1 shingle hashes, universal permutations mod the Mersenne prime
2^61 - 1, a numpy RandomState for the coefficients; so a test can
cross-check both on the same data.
"""

import hashlib
import re
import struct

import numpy as np

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint64((1 << 32) - 1)


def content_hash(text: str) -> str:
    """Exact-duplicate key: the text with case and whitespace normalised."""
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


def shingles(text: str, k: int = 5) -> set[bytes]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < k:
        return {" ".join(words).encode()} if words else set()
    return {
        " ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)
    }


def sha1_hash32(data: bytes) -> int:
    return struct.unpack("<I", hashlib.sha1(data).digest()[:4])[0]


class MinHash:
    """Signatures of ``num_perm`` random permutations h(x) = (a x + b) mod p."""

    def __init__(self, num_perm: int = 128, seed: int = 1):
        gen = np.random.RandomState(seed)
        # a in [1, p) and b in [0, p), in turn, as datasketch draws them.
        draws = [
            gen.randint(low, MERSENNE_PRIME, dtype=np.uint64)
            for _ in range(num_perm)
            for low in (1, 0)
        ]
        self.a, self.b = np.array(draws, dtype=np.uint64).reshape(-1, 2).T
        self.num_perm = num_perm

    def signature(self, shingle_set: set[bytes]) -> np.ndarray:
        sig = np.full(self.num_perm, MAX_HASH, dtype=np.uint64)
        if not shingle_set:
            return sig
        hv = np.array([sha1_hash32(s) for s in shingle_set], dtype=np.uint64)
        # uint64 arithmetic wraps exactly as datasketch's does.
        permuted = (np.outer(hv, self.a) + self.b) % MERSENNE_PRIME & MAX_HASH
        return np.minimum(permuted.min(axis=0), sig)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.mean(sig_a == sig_b))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def lsh_params(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """Bands b and rows r (b * r <= num_perm) that best separate pairs above
    ``threshold`` from those below: two documents of similarity s share at
    least one band with probability 1 - (1 - s^r)^b; minimise the weighted
    area of false positives below the threshold and false negatives above."""
    s = np.linspace(0, 1, 1001)
    below, above = s <= threshold, s >= threshold
    best, best_error = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1 - (1 - s**r) ** b
            # The areas of false positives (below) and false negatives (above).
            fp = np.trapezoid(p[below], s[below])
            fn = np.trapezoid(1 - p[above], s[above])
            error = false_positive_weight * fp + false_negative_weight * fn
            if error < best_error:
                best, best_error = (b, r), error
    return best


def lsh_candidates(
    signatures: dict[str, np.ndarray], bands: int, rows: int
) -> set[tuple[str, str]]:
    """Pairs of keys whose signatures agree on every row of some band."""
    pairs = set()
    for band in range(bands):
        buckets: dict[bytes, list[str]] = {}
        for key, sig in signatures.items():
            bucket = sig[band * rows : (band + 1) * rows].tobytes()
            buckets.setdefault(bucket, []).append(key)
        for members in buckets.values():
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    pairs.add((a, b) if a < b else (b, a))
    return pairs


def near_duplicate_clusters(
    signatures: dict[str, np.ndarray],
    threshold: float = 0.8,
    num_perm: int = 128,
    false_negative_weight: float = 0.5,
) -> list[list[str]]:
    """Groups of keys whose estimated Jaccard similarity chains above
    ``threshold``; LSH proposes the pairs, the signatures confirm them.
    A false positive costs only one signature comparison, a false negative a
    duplicate in the corpus: weight the latter more to find more pairs."""
    bands, rows = lsh_params(
        threshold, num_perm, 1 - false_negative_weight, false_negative_weight
    )
    parent = {key: key for key in signatures}

    def find(key):
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b in sorted(lsh_candidates(signatures, bands, rows)):
        if estimated_jaccard(signatures[a], signatures[b]) >= threshold:
            parent[find(a)] = find(b)
    clusters: dict[str, list[str]] = {}
    for key in signatures:
        clusters.setdefault(find(key), []).append(key)
    return sorted(sorted(c) for c in clusters.values() if len(c) > 1)
