"""The book's data pipeline: Python's documentation and standard library,
cleaned, deduplicated, filtered and split into a training corpus.

One step per module, in pipeline order: ``sources`` (find the raw
material), ``clean`` (HTML to text), ``dedup`` (exact and MinHash
near-duplicates), ``filters`` (quality rules), ``corpus`` (the whole
pipeline, splits and the manifest).
"""

from .corpus import CorpusConfig, build_corpus, read_split

__all__ = ["CorpusConfig", "build_corpus", "read_split"]
