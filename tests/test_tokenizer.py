"""The byte-level BPE tokenizer (code/scratchllm/tokenizer).

Real text comes from the installed Python documentation (python3-doc), the
same source as the book's corpus, so the tests need no built corpus.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scratchllm.data import clean, sources
from scratchllm.tokenizer import (
    GPT2_SPLIT_PATTERN,
    GPT4_SPLIT_PATTERN,
    SPECIAL_TOKENS,
    BPETokenizer,
    base,
)
from scratchllm.tokenizer.base import render_token
from scratchllm.tokenizer.interop import mergeable_ranks, to_tiktoken

CODE = Path(__file__).resolve().parent.parent / "code"
PATTERNS = {"gpt2": GPT2_SPLIT_PATTERN, "gpt4": GPT4_SPLIT_PATTERN}
PAGES = [
    "tutorial/introduction.html",
    "tutorial/controlflow.html",
    "library/json.html",
    "library/functools.html",
    "howto/unicode.html",
    "library/re.html",
]
# Text that is not the training text, for the parity checks.
OTHER_PAGES = [
    "library/pathlib.html",
    "library/codecs.html",
    "tutorial/errors.html",
    "library/datetime.html",
]
UNICODE_TEXT = (
    "naïve café, Straße, ΑΒΓ αβγ, привет мир\r\n"
    "日本語のテキストと中文文本 한국어 텍스트 \u00a0\u2028 "
    "🙂🙂 👍🏽 👨‍👩‍👧 🏳️‍🌈 e\u0301 ＡＢＣ ١٢٣ \t\x00\x1b[0m 1234567 "
) * 20


def page_text(rel: str) -> str:
    root = sources.find_doc_root()
    return clean.html_to_text((root / rel).read_text(errors="replace"))[1]


@pytest.fixture(scope="module")
def docs() -> str:
    return "\n\n".join(page_text(rel) for rel in PAGES)


@pytest.fixture(scope="module")
def other_docs() -> list[str]:
    return [page_text(rel) for rel in OTHER_PAGES]


@pytest.fixture(scope="module")
def trained(docs) -> dict[str, BPETokenizer]:
    """One tokenizer per split pattern, on real text, vocabulary 1500."""
    return {
        name: BPETokenizer(pattern).train(docs + UNICODE_TEXT, 1500)
        for name, pattern in PATTERNS.items()
    }


# --- the two trainers learn the same merges ----------------------------------


def both_trainers(text: str, vocab_size: int, pattern: str) -> tuple[list, list]:
    naive = BPETokenizer(pattern).train(text, vocab_size, trainer="naive")
    fast = BPETokenizer(pattern).train(text, vocab_size, trainer="fast")
    return list(naive.merges.items()), list(fast.merges.items())


@pytest.mark.parametrize("name", PATTERNS)
def test_trainers_agree_on_real_text(docs, name):
    text = docs[:55_000]  # the naive trainer rescans all of it for every merge
    naive, fast = both_trainers(text, 330, PATTERNS[name])
    assert len(naive) == 330 - 256 - len(SPECIAL_TOKENS)
    assert naive == fast


@pytest.mark.parametrize(
    "text",
    [
        "ab" * 50 + "cd" * 50,  # two pairs, same count
        "ab" * 50 + " " + "cd" * 50 + " " + "ba" * 50 + " " + "dc" * 50,
        "aaaa aaa aa a bbbb bbb bb b " * 5,  # overlapping pairs (a, a)
        " ".join(["xy", "yx", "zx", "xz", "yz", "zy"] * 7),  # every pair tied
        "abcabcabc abcabc cbacba " * 3,
    ],
)
@pytest.mark.parametrize("name", PATTERNS)
def test_trainers_agree_on_ties(text, name):
    naive, fast = both_trainers(text, 300, PATTERNS[name])
    assert naive == fast


def test_ties_go_to_the_smallest_pair():
    tok = BPETokenizer().train("cd" * 50 + "ab" * 50, 261)
    assert list(tok.merges) == [(ord("a"), ord("b"))]  # 'ab' and 'cd' tie; 'ab' < 'cd'


@pytest.mark.parametrize("name", PATTERNS)
def test_trainers_agree_on_unicode(name):
    naive, fast = both_trainers(UNICODE_TEXT, 400, PATTERNS[name])
    assert naive == fast


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(alphabet="ab c\n", max_size=80), st.integers(260, 300))
def test_trainers_agree_on_random_text(text, vocab_size):
    """Tiny alphabets make ties on almost every step."""
    naive, fast = both_trainers(text, vocab_size, GPT4_SPLIT_PATTERN)
    assert naive == fast


@pytest.mark.parametrize("trainer", ["naive", "fast"])
def test_wikipedia_example(trainer):
    # minbpe's test, from Wikipedia's "Byte pair encoding": aa -> Z (256),
    # ab -> Y (257; it ties with Za and goes to the smaller pair), ZY -> X.
    text = "aaabdaaabac"
    tok = BPETokenizer().train(text, 256 + 3, trainer=trainer, special_tokens=())
    assert tok.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    assert tok.encode(text) == [258, 100, 258, 97, 99]  # X d X a c
    assert tok.decode(tok.encode(text)) == text


def test_docstring_examples_of_the_helpers():
    # The worked examples of get_stats and merge, printed in the book, run.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--doctest-modules",
            base.__file__,
        ],
        capture_output=True,
        text=True,
        cwd=CODE,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_training_stops_when_nothing_is_left_to_merge():
    for trainer in ("naive", "fast"):
        tok = BPETokenizer().train("abc abc", 1000, trainer=trainer)
        # ab, abc, then " abc": every pre-token ("abc", " abc") is one token.
        assert [tok.vocab[i] for i in tok.merges.values()] == [b"ab", b"abc", b" abc"]
        assert tok.vocab_size == 256 + 3 + len(SPECIAL_TOKENS)
        assert set(tok.special_tokens.values()) == set(range(259, 259 + len(SPECIAL_TOKENS)))


# --- round trips ---------------------------------------------------------------

# Every Unicode character except surrogates, which UTF-8 cannot encode (and
# which a Python str only holds when produced by errors="surrogateescape").
ANY_CHAR = st.characters(exclude_categories=("Cs",))
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=200),
    st.text(st.sampled_from(list("a \r\n\t0123456789日本語🙂👍🏽\u200d'sS")), max_size=200),
    st.lists(
        st.sampled_from(["\r\n", "🏳️‍🌈", "中文", "  ", "'ll", "123456", "\x00", "é"]), max_size=30
    ).map("".join),
)
ROUND_TRIP = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@ROUND_TRIP
@given(text=TEXT)
@pytest.mark.parametrize("name", PATTERNS)
def test_round_trip(trained, name, text):
    tok = trained[name]
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode_ordinary(text)) == text


@ROUND_TRIP
@given(parts=st.lists(st.one_of(TEXT, st.sampled_from(SPECIAL_TOKENS)), max_size=6))
def test_round_trip_with_special_tokens(trained, parts):
    tok, text = trained["gpt4"], "".join(parts)
    ids = tok.encode(text, allowed_special="all")
    assert tok.decode(ids) == text
    # The special ids appear exactly where special-token strings do.
    assert [i for i in ids if i in tok.special_tokens.values()] == [
        tok.special_tokens[t] for t in re.findall("|".join(map(re.escape, SPECIAL_TOKENS)), text)
    ]
    ordinary = tok.encode(text, allowed_special="none")
    assert ordinary == tok.encode(text, allowed_special=set())
    assert tok.decode(ordinary) == text
    assert not set(ordinary) & set(tok.special_tokens.values())


def test_round_trip_real_text(trained, other_docs):
    for tok in trained.values():
        for text in other_docs:
            assert tok.decode(tok.encode(text)) == text


# --- parity with tiktoken --------------------------------------------------------


@pytest.mark.parametrize("vocab_size", [1000, 2000])
@pytest.mark.parametrize("name", PATTERNS)
def test_tiktoken_gives_the_same_ids(docs, other_docs, name, vocab_size):
    tok = BPETokenizer(PATTERNS[name]).train(docs, vocab_size)
    ranks = mergeable_ranks(tok)
    # No two merges spell the same bytes, so no id is lost in the export.
    assert sorted(ranks.values()) == list(range(256 + len(tok.merges)))
    enc = to_tiktoken(tok)
    assert enc.n_vocab == tok.vocab_size
    for text in [docs[:20_000], *other_docs, UNICODE_TEXT]:
        assert enc.encode_ordinary(text) == tok.encode_ordinary(text)
        with_special = text[:5000] + "<|endoftext|>" + text[5000:10_000] + "<|end|>"
        ours = tok.encode(with_special, allowed_special="all")
        assert enc.encode(with_special, allowed_special="all") == ours
        assert enc.decode(tok.encode(text)) == text


@ROUND_TRIP
@given(text=TEXT)
@pytest.mark.parametrize("name", PATTERNS)
def test_tiktoken_gives_the_same_ids_on_any_text(trained, name, text):
    enc = to_tiktoken(trained[name])
    assert enc.encode_ordinary(text) == trained[name].encode_ordinary(text)


# --- the split patterns against tiktoken's own ------------------------------------


@pytest.fixture(scope="module")
def tiktoken_patterns():
    """tiktoken's r50k_base (GPT-2) and cl100k_base (GPT-4) patterns, read from
    its encoding definitions without fetching their BPE files."""
    from tiktoken_ext import openai_public

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(openai_public, "load_tiktoken_bpe", lambda *args, **kwargs: {})
        cl100k = openai_public.cl100k_base()["pat_str"]
    return {"gpt2": openai_public.r50k_pat_str, "gpt4": cl100k}


SPACES = st.text(st.sampled_from(list(" \t\r\n\u00a0\u3000a1.")), max_size=12)


@ROUND_TRIP
@given(text=st.one_of(TEXT, SPACES, st.tuples(TEXT, SPACES).map("".join)))
@example(text="a\n ")  # cl100k keeps trailing whitespace in one piece
@pytest.mark.parametrize("name", PATTERNS)
def test_split_patterns_are_tiktokens(tiktoken_patterns, name, text):
    ours = regex.findall(PATTERNS[name], text)
    assert ours == regex.findall(tiktoken_patterns[name], text)
    assert "".join(ours) == text


# --- the file format -----------------------------------------------------------------


@pytest.mark.parametrize("name", PATTERNS)
def test_save_load_round_trip(trained, other_docs, tmp_path, name):
    tok = trained[name]
    path = tmp_path / "tok.bpe"
    tok.save(path)
    loaded = BPETokenizer().load(path)
    assert list(loaded.merges.items()) == list(tok.merges.items())
    assert loaded.vocab == tok.vocab
    assert loaded.special_tokens == tok.special_tokens
    assert loaded.pattern == tok.pattern
    for text in [*other_docs, UNICODE_TEXT + "<|endoftext|>"]:
        assert loaded.encode(text, "all") == tok.encode(text, "all")


def test_saved_file_is_readable_text(trained, tmp_path):
    tok = trained["gpt4"]
    path = tmp_path / "tok.bpe"
    tok.save(path)
    first, *rest = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(first)
    assert header["format"] == "scratchllm-bpe 1"
    assert header["pattern"] == GPT4_SPLIT_PATTERN
    assert header["special_tokens"] == tok.special_tokens
    assert len(rest) == len(tok.merges)
    for line, ((a, b), new_id) in zip(rest, tok.merges.items(), strict=True):
        merge, comment = line.split("  # ")
        assert merge == f"{a} {b}"
        number, token = comment.split(" ", 1)
        assert int(number) == new_id and ast.literal_eval(token) == render_token(tok.vocab[new_id])
        assert line.isprintable()  # control bytes are escaped in the comment


def test_save_load_does_not_depend_on_the_locale(trained, tmp_path):
    """The file is UTF-8 even where the locale's encoding is ASCII (the C
    locale with Python's UTF-8 coercion turned off)."""
    path = tmp_path / "tok.bpe"
    trained["gpt4"].save(path)
    code = (
        "import sys; from scratchllm.tokenizer import BPETokenizer; "
        "t = BPETokenizer().load(sys.argv[1]); t.save(sys.argv[1]); "
        "print(ascii(t.decode(t.encode('\\u65e5\\u672c \\U0001f642'))))"
    )
    env = dict(
        os.environ, PYTHONPATH=str(CODE), LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ascii("日本 🙂")
    assert BPETokenizer().load(path).merges == trained["gpt4"].merges


# --- special tokens ------------------------------------------------------------------


def test_special_tokens_are_never_split(trained):
    tok = trained["gpt4"]
    for token, token_id in tok.special_tokens.items():
        assert tok.encode(token, "all") == [token_id]
        assert tok.encode(f"a{token}b", "all") == tok.encode("a") + [token_id] + tok.encode("b")
    text = "end.<|endoftext|><|user|>hi<|end|><|assistant|>"
    ids = tok.special_tokens
    expected = tok.encode("end.") + [ids["<|endoftext|>"], ids["<|user|>"]]
    expected += tok.encode("hi") + [ids["<|end|>"], ids["<|assistant|>"]]
    assert tok.encode(text, allowed_special="all") == expected


def test_special_tokens_can_be_disallowed(trained):
    tok = trained["gpt4"]
    special_ids = set(tok.special_tokens.values())
    ids = tok.encode("<|endoftext|>", allowed_special=set())
    assert len(ids) > 1 and not set(ids) & special_ids
    assert ids == tok.encode_ordinary("<|endoftext|>")
    assert tok.decode(ids) == "<|endoftext|>"
    only_eot = tok.encode("<|endoftext|><|end|>", allowed_special={"<|endoftext|>"})
    assert only_eot[0] == tok.special_tokens["<|endoftext|>"]
    assert tok.special_tokens["<|end|>"] not in only_eot


def test_special_tokens_in_text_raise_by_default(trained):
    tok = trained["gpt4"]
    text = "ends here<|endoftext|>"
    with pytest.raises(ValueError, match=re.escape("special token '<|endoftext|>'")):
        tok.encode(text)
    assert tok.encode(text, allowed_special="none") == tok.encode_ordinary(text)
    assert tok.encode(text, allowed_special="all")[-1] == tok.special_tokens["<|endoftext|>"]
    assert tok.encode("no special token here") == tok.encode_ordinary("no special token here")


@pytest.mark.parametrize("value", ["al", "<|endoftext|>", ["<|endoftext|>"], None])
def test_allowed_special_takes_only_known_values(trained, value):
    # A string used to be read as a set of characters: "al" allowed nothing.
    with pytest.raises(ValueError, match="allowed_special must be"):
        trained["gpt4"].encode("text", allowed_special=value)


def test_ordinary_text_never_produces_special_ids(trained, other_docs):
    for tok in trained.values():
        first_special = min(tok.special_tokens.values())
        assert first_special == 256 + len(tok.merges)
        for text in [*other_docs, UNICODE_TEXT]:
            assert max(tok.encode(text)) < first_special


def test_a_special_token_that_begins_with_another(docs):
    tok = BPETokenizer().train(docs[:5000], 300, special_tokens=("<|end|>", "<|end|>x"))
    assert tok.encode("<|end|>x", "all") == [tok.special_tokens["<|end|>x"]]
    assert tok.encode("<|end|>y", "all") == [tok.special_tokens["<|end|>"], ord("y")]


# --- errors and the cache ----------------------------------------------------------------


def test_vocab_size_errors():
    with pytest.raises(ValueError, match="at least 260"):
        BPETokenizer().train("some text", 259)
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer().train("some text", 255, special_tokens=())
    assert BPETokenizer().train("some text", 260).merges == {}  # bytes and specials only
    assert BPETokenizer().train("some text", 256, special_tokens=()).vocab_size == 256


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "merges.txt"
    path.write_text('{"format": "something else"}\n1 2\n', encoding="utf-8")
    with pytest.raises(ValueError, match="not a scratchllm-bpe 1 file"):
        BPETokenizer().load(path)


def test_cache_gives_the_same_ids(trained, other_docs):
    tok = trained["gpt4"]
    text = other_docs[0] + UNICODE_TEXT
    fresh = BPETokenizer(tok.pattern)
    fresh.merges, fresh.special_tokens, fresh.vocab = tok.merges, tok.special_tokens, tok.vocab
    cold = fresh.encode(text)
    assert fresh._cache  # filled by the first call
    assert fresh.encode(text) == cold  # warm
    uncached = [
        i
        for chunk in fresh._compiled.findall(text)
        for i in fresh._encode_chunk(chunk.encode("utf-8"))
    ]
    assert uncached == cold
    for chunk, ids in fresh._cache.items():
        assert ids == fresh._encode_chunk(chunk.encode("utf-8"))


def test_training_again_clears_the_cache(docs):
    text = docs[:20_000]
    tok = BPETokenizer().train(text, 300)
    before = tok.encode(text)
    tok.train(text, 400)
    assert len(tok.encode(text)) < len(before)  # 100 more merges: fewer tokens
    assert tok.encode(text) == BPETokenizer().train(text, 400).encode(text)
