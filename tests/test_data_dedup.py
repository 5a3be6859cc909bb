"""scratchllm.data.dedup: exact keys, shingles, MinHash and LSH, checked on
real documentation text and cross-checked value for value with datasketch."""

import hashlib
import re
from pathlib import Path

import datasketch
import numpy as np
import pytest

from scratchllm.data.clean import html_to_text
from scratchllm.data.dedup import (
    MAX_HASH,
    MinHash,
    content_hash,
    estimated_jaccard,
    jaccard,
    lsh_candidates,
    lsh_params,
    near_duplicate_clusters,
    shingles,
)

DOCS = Path("/usr/share/doc/python3/html")

# Paragraphs of the Python documentation (library/json, library/pickle,
# tutorial/classes, library/functions), as the cleaner outputs them.
JSON_PARA = (
    "JSON (JavaScript Object Notation), specified by RFC 7159 (which obsoletes RFC 4627) and "
    "by ECMA-404, is a lightweight data interchange format inspired by JavaScript object "
    "literal syntax (although it is not a strict subset of JavaScript). Be cautious when "
    "parsing JSON data from untrusted sources. A malicious JSON string may cause the decoder "
    "to consume considerable CPU and memory resources. Limiting the size of data to be parsed "
    "is recommended. json exposes an API familiar to users of the standard library marshal "
    "and pickle modules. If skipkeys is true (default: False), then dict keys that are not of "
    "a basic type (str, int, float, bool, None) will be skipped instead of raising a "
    "TypeError. The json module always produces str objects, not bytes objects. Therefore, "
    "fp.write() must support str input. If ensure_ascii is true (the default), the output is "
    "guaranteed to have all incoming non-ASCII characters escaped. If ensure_ascii is false, "
    "these characters will be output as-is. If check_circular is false (default: True), then "
    "the circular reference check for container types will be skipped and a circular "
    "reference will result in a RecursionError (or worse)."
)
PICKLE_PARA = (
    "The pickle module implements binary protocols for serializing and de-serializing a "
    "Python object structure. Pickling is the process whereby a Python object hierarchy is "
    "converted into a byte stream, and unpickling is the inverse operation, whereby a byte "
    "stream (from a binary file or bytes-like object) is converted back into an object "
    "hierarchy. Pickling (and unpickling) is alternatively known as serialization, "
    "marshalling, or flattening; however, to avoid confusion, the terms used here are "
    "pickling and unpickling. The pickle module is not secure. Only unpickle data you trust. "
    "It is possible to construct malicious pickle data which will execute arbitrary code "
    "during unpickling. Never unpickle data that could have come from an untrusted source, "
    "or that could have been tampered with. Consider signing data with hmac if you need to "
    "ensure that it has not been tampered with."
)
CLASSES_PARA = (
    "Classes provide a means of bundling data and functionality together. Creating a new "
    "class creates a new type of object, allowing new instances of that type to be made. "
    "Each class instance can have attributes attached to it for maintaining its state. Class "
    "instances can also have methods (defined by its class) for modifying its state. "
    "Compared with other programming languages, Python's class mechanism adds classes with a "
    "minimum of new syntax and semantics. It is a mixture of the class mechanisms found in "
    "C++ and Modula-3. Python classes provide all the standard features of Object Oriented "
    "Programming: the class inheritance mechanism allows multiple base classes, a derived "
    "class can override any methods of its base class or classes, and a method can call the "
    "method of a base class with the same name."
)
FUNCTIONS_PARA = (
    "The Python interpreter has a number of functions and types built into it that are "
    "always available. They are listed here in alphabetical order. Return the absolute value "
    "of a number. The argument may be an integer, a floating point number, or an object "
    "implementing __abs__(). If the argument is a complex number, its magnitude is returned. "
    "Return True if all elements of the iterable are true (or if the iterable is empty). "
    "Return True if any element of the iterable is true. If the iterable is empty, return "
    "False. As repr(), return a string containing a printable representation of an object, "
    "but escape the non-ASCII characters in the string returned by repr() using x, u, or U "
    "escapes."
)


def change_a_sentence(text: str) -> str:
    """The text with one sentence of 10 to 25 words rewritten."""
    sentence = next(s for s in re.split(r"(?<=[.:;])\s+", text) if 10 <= len(s.split()) <= 25)
    return text.replace(sentence, "This sentence was rewritten by the test.", 1)


def change_sentence(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


JSON_NEAR = change_sentence(
    JSON_PARA,
    "The json module always produces str objects, not bytes objects.",
    "The module never produces bytes objects; it always returns text.",
)
PICKLE_NEAR = change_sentence(
    PICKLE_PARA, "The pickle module is not secure.", "Unpickling untrusted input is unsafe."
)


# --- exact duplicates and shingles -------------------------------------------


def test_content_hash_ignores_case_and_whitespace():
    assert content_hash(JSON_PARA) == content_hash(JSON_PARA.upper())
    assert content_hash(JSON_PARA) == content_hash(
        "  " + JSON_PARA.replace(" ", "\n\t  ").replace(". ", ".\n\n") + "\n"
    )
    assert content_hash(JSON_PARA) != content_hash(JSON_NEAR)
    assert content_hash("a b") != content_hash("ab")
    # The key is SHA-256 of the words, lowercased, joined by single spaces.
    assert content_hash("  The JSON\n\tModule  ") == hashlib.sha256(b"the json module").hexdigest()


def test_shingles_are_word_5grams():
    got = shingles("The pickle module implements binary protocols, for serializing!")
    assert got == {
        b"the pickle module implements binary",
        b"pickle module implements binary protocols",
        b"module implements binary protocols for",
        b"implements binary protocols for serializing",
    }
    assert shingles("One, two  THREE", k=2) == {b"one two", b"two three"}


def test_shingles_of_short_and_empty_texts():
    assert shingles("too short") == {b"too short"}
    assert shingles("") == set()
    assert shingles("... !!! ---") == set()


def test_shingles_ignore_case_punctuation_and_layout():
    assert shingles(JSON_PARA) == shingles(JSON_PARA.upper().replace(" ", "\n"))


# --- MinHash and its estimate --------------------------------------------------


def test_signature_shape_and_empty_set():
    mh = MinHash(128, seed=1)
    sig = mh.signature(shingles(JSON_PARA))
    assert sig.shape == (128,) and sig.dtype == np.uint64
    assert (sig <= MAX_HASH).all()
    assert (mh.signature(set()) == MAX_HASH).all()


def reference_signature(shingle_list: list[bytes], a: np.ndarray, b: np.ndarray) -> list[int]:
    """MinHash one shingle and one permutation at a time, in Python integers:
    h = the first 4 bytes of SHA-1, little-endian; (a h + b) wrapped to 64 bits
    as numpy's uint64 wraps, then mod 2^61 - 1, then its low 32 bits."""
    hashes = [int.from_bytes(hashlib.sha1(s).digest()[:4], "little") for s in shingle_list]
    return [
        min((int(ai) * h + int(bi)) % 2**64 % (2**61 - 1) % 2**32 for h in hashes)
        for ai, bi in zip(a, b, strict=True)
    ]


def test_signature_equals_a_scalar_reference_in_any_order():
    mh = MinHash(128, seed=1)
    sh = shingles(PICKLE_PARA)
    expected = reference_signature(sorted(sh, reverse=True), mh.a, mh.b)
    assert mh.signature(sh).tolist() == expected
    assert not (mh.signature(sh) == MinHash(128, seed=2).signature(sh)).all()


def test_estimated_jaccard_close_to_exact():
    mh = MinHash(128, seed=1)
    half = " ".join(JSON_PARA.split()[:90] + PICKLE_PARA.split()[:90])
    pairs = [
        (JSON_PARA, JSON_NEAR),
        (PICKLE_PARA, PICKLE_NEAR),
        (JSON_PARA, half),
        (PICKLE_PARA, half),
        (JSON_PARA, PICKLE_PARA),
        (CLASSES_PARA, FUNCTIONS_PARA),
        (JSON_PARA, JSON_PARA.upper().replace(" ", "\n")),
    ]
    exact = []
    for a, b in pairs:
        sa, sb = shingles(a), shingles(b)
        exact.append(jaccard(sa, sb))
        estimate = estimated_jaccard(mh.signature(sa), mh.signature(sb))
        assert abs(estimate - exact[-1]) <= 0.1, (a[:30], b[:30], estimate, exact[-1])
    # The pairs span the range: near-duplicates, half overlap, unrelated, the
    # same words in another case and layout.
    assert exact[0] > 0.8 and 0.2 < exact[2] < 0.6 and exact[4] < 0.05 and exact[-1] == 1.0


def test_jaccard():
    assert jaccard({1, 2}, {2, 3}) == 1 / 3
    assert jaccard(set(), set()) == 1.0


# --- clusters ------------------------------------------------------------------


def test_near_duplicate_clusters_find_planted_duplicates():
    docs = {
        "json": JSON_PARA,
        "json-copy": JSON_PARA,
        "json-near": JSON_NEAR,
        "pickle": PICKLE_PARA,
        "pickle-near": PICKLE_NEAR,
        "classes": CLASSES_PARA,
        "functions": FUNCTIONS_PARA,
    }
    assert jaccard(shingles(JSON_PARA), shingles(JSON_NEAR)) > 0.8
    assert jaccard(shingles(PICKLE_PARA), shingles(PICKLE_NEAR)) > 0.8
    mh = MinHash(128, seed=1)
    sigs = {key: mh.signature(shingles(text)) for key, text in docs.items()}
    # 0.7, the corpus's threshold: paragraphs of ~150 words with a sentence
    # changed are at about 0.87, where 0.8's steep band curve (9 bands of 13
    # rows) catches a pair only ~80% of the time.
    clusters = near_duplicate_clusters(sigs, threshold=0.7, num_perm=128)
    assert clusters == [["json", "json-copy", "json-near"], ["pickle", "pickle-near"]]


def test_near_duplicate_clusters_on_real_pages(real_documents):
    docs = dict(real_documents)
    keys = [key for key in docs if len(docs[key].split()) >= 500]
    for key in keys[:5]:  # a sentence changed in each of five pages
        docs[key + "#near"] = change_a_sentence(docs[key])
    docs[keys[5] + "#copy"] = docs[keys[5]]
    mh = MinHash(128, seed=1)
    sigs = {key: mh.signature(shingles(text)) for key, text in docs.items()}
    clusters = near_duplicate_clusters(sigs, threshold=0.8, num_perm=128)
    planted = sorted([[k, k + "#near"] for k in keys[:5]] + [[keys[5], keys[5] + "#copy"]])
    assert clusters == planted


def test_near_duplicate_clusters_chain_and_keep_distinct():
    # a ~ b and b ~ c: one cluster, even where a and c are further apart.
    words = JSON_PARA.split()
    a = " ".join(words)
    b = " ".join(words[:60] + ["CHANGED"] + words[61:])
    c = " ".join(words[:60] + ["CHANGED"] + words[61:120] + ["AGAIN"] + words[121:])
    mh = MinHash(128, seed=1)
    docs = {"a": a, "b": b, "c": c, "d": CLASSES_PARA, "e": FUNCTIONS_PARA}
    sigs = {k: mh.signature(shingles(t)) for k, t in docs.items()}
    assert near_duplicate_clusters(sigs, 0.8) == [["a", "b", "c"]]


def test_no_clusters_among_distinct_documents():
    mh = MinHash(128, seed=1)
    docs = {"j": JSON_PARA, "p": PICKLE_PARA, "c": CLASSES_PARA, "f": FUNCTIONS_PARA}
    sigs = {k: mh.signature(shingles(t)) for k, t in docs.items()}
    assert near_duplicate_clusters(sigs, 0.7) == []


# --- cross-check with datasketch on real pages ------------------------------------


def _datasketch_minhash(**kwargs) -> datasketch.MinHash:
    # datasketch 2.0 made "affine32" the default scheme; ours is the classic
    # one, which datasketch 2.x keeps as scheme="legacy" (1.x's only scheme).
    if int(datasketch.__version__.split(".")[0]) >= 2:
        kwargs["scheme"] = "legacy"
    return datasketch.MinHash(num_perm=128, seed=1, **kwargs)


@pytest.fixture(scope="module")
def real_documents() -> dict[str, str]:
    """About 40 cleaned pages of python3-doc, small ones, spread over the library."""
    pages = sorted(p for p in (DOCS / "library").glob("*.html") if p.stat().st_size < 40_000)
    assert len(pages) > 80, f"python3-doc is needed: sudo apt-get install python3-doc ({DOCS})"
    step = len(pages) // 40
    docs = {}
    for path in pages[::step][:40]:
        text = html_to_text(path.read_text(errors="replace"))[1]
        if len(text.split()) >= 50:
            docs[f"library/{path.name}"] = text
    assert len(docs) >= 35
    return docs


def test_minhash_equals_datasketch_on_real_pages(real_documents):
    ours = MinHash(num_perm=128, seed=1)
    for key, text in list(real_documents.items())[:8]:
        sh = shingles(text)
        theirs = _datasketch_minhash()
        theirs.update_batch(sorted(sh))
        assert np.array_equal(ours.signature(sh), theirs.hashvalues), key
    empty = _datasketch_minhash()
    assert np.array_equal(ours.signature(set()), empty.hashvalues)


def test_minhash_permutations_equal_datasketch():
    a, b = _datasketch_minhash().permutations
    ours = MinHash(128, seed=1)
    assert np.array_equal(ours.a, a) and np.array_equal(ours.b, b)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_lsh_params_equal_datasketch(threshold):
    lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=128)
    assert lsh_params(threshold, 128) == (lsh.b, lsh.r)


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_lsh_candidates_equal_datasketch(real_documents, threshold):
    docs = dict(real_documents)
    # Planted near-duplicates: a real page with one sentence changed, and a
    # page with its second half cut off (roughly 0.5 resemblance).
    first, second, third = list(docs)[:3]
    docs[first + "#near"] = change_a_sentence(docs[first])
    docs[second + "#copy"] = docs[second]
    words = docs[third].split(" ")
    docs[third + "#half"] = " ".join(words[: len(words) * 2 // 3])

    mh = MinHash(128, seed=1)
    sigs = {key: mh.signature(shingles(text)) for key, text in docs.items()}
    bands, rows = lsh_params(threshold, 128)
    ours = lsh_candidates(sigs, bands, rows)

    lsh = datasketch.MinHashLSH(num_perm=128, params=(bands, rows))
    sketches = {key: _datasketch_minhash(hashvalues=sig) for key, sig in sigs.items()}
    for key, sketch in sketches.items():
        lsh.insert(key, sketch)
    theirs = {
        tuple(sorted((key, other)))
        for key, sketch in sketches.items()
        for other in lsh.query(sketch)
        if other != key
    }

    assert ours == theirs
    assert (first, first + "#near") in ours
    assert (second, second + "#copy") in ours
    if threshold == 0.5:
        assert (third, third + "#half") in ours
