"""Tokenizer benchmark: our two BPE trainers against Hugging Face
``tokenizers``, and our encoder against tiktoken (with our merges) and
Hugging Face, on the book's corpus.

Run by hand (not in CI):  .venv/bin/python bench/bench_tokenizer.py [--write]

Two texts from the corpus's train split: (a) its first 1.1 MB, the size of
tiny-shakespeare, and (b) the whole split.  The corpus is read from
--corpus (default /tmp/corpus) or, when absent there, built into a
temporary folder.  Every tokenizer splits text with the same GPT-4 regex and
works on bytes, so they differ only in how they train and encode.  With
--write the section in bench/RESULTS.md is replaced.
"""

import argparse
import os
import sys
import tempfile
import time
from functools import partial
from importlib import metadata
from pathlib import Path

from results import machine, record, today

from scratchllm.data import build_corpus, read_split
from scratchllm.tokenizer import GPT4_SPLIT_PATTERN, SPECIAL_TOKENS, BPETokenizer
from scratchllm.tokenizer.interop import to_tiktoken

SMALL = 1_115_394  # characters in tiny-shakespeare


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def load_documents(corpus: Path) -> list[str]:
    if (corpus / "train.jsonl").exists():
        return [doc["text"] for doc in read_split(corpus, "train")]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{corpus} has no corpus: building one in {tmp}", file=sys.stderr)
        build_corpus(Path(tmp) / "corpus")
        return [doc["text"] for doc in read_split(Path(tmp) / "corpus", "train")]


def first_characters(documents: list[str], n: int) -> list[str]:
    """Whole documents until ``n`` characters (joined by blank lines), the last one cut."""
    out, size = [], 0
    for doc in documents:
        out.append(doc[: n - size])
        size += len(out[-1]) + 2
        if size >= n:
            break
    return out


def hf_train(documents: list[str], vocab_size: int):
    """Hugging Face BPE set up like ours: the GPT-4 split, then bytes."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT4_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(documents, trainer=trainer)
    return tok


def throughput(documents: list[str], encode) -> tuple[float, int]:
    """MB/s (of UTF-8) encoding document by document on one thread, and the token count."""
    megabytes = sum(len(doc.encode("utf-8")) for doc in documents) / 1e6
    seconds, tokens = timed(lambda: sum(len(encode(doc)) for doc in documents))
    return megabytes / seconds, tokens


def encoding_rows(label: str, documents: list[str], ours: BPETokenizer, hf) -> list[tuple]:
    fresh = BPETokenizer(ours.pattern)  # same merges, empty cache
    fresh.merges, fresh.special_tokens, fresh.vocab = ours.merges, ours.special_tokens, ours.vocab
    enc = to_tiktoken(ours)
    rows = []
    for name, encode in [
        ("ours, cold cache (fresh object)", fresh.encode_ordinary),
        ("ours, warm cache (second pass)", fresh.encode_ordinary),
        ("tiktoken with our merges", enc.encode_ordinary),
        ("HF tokenizers (its own merges)", lambda d: hf.encode(d).ids),
    ]:
        speed, tokens = throughput(documents, encode)
        rows.append((label, name, speed, tokens))
        print(f"  encode {label}: {name}: {speed:.2f} MB/s, {tokens} tokens", file=sys.stderr)
    # tiktoken, given our merges, must give our ids.
    assert all(enc.encode_ordinary(doc) == fresh.encode_ordinary(doc) for doc in documents[:200])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/corpus"))
    args = parser.parse_args()

    load_before = os.getloadavg()
    documents = load_documents(args.corpus)
    texts = {"(a)": first_characters(documents, SMALL), "(b)": documents}
    sizes = {
        label: sum(len(d.encode("utf-8")) for d in docs) / 1e6 for label, docs in texts.items()
    }

    train_rows: list[tuple] = []  # (text, vocab, trainer, seconds)
    trained: dict[tuple, object] = {}
    plan = [("(a)", "naive", 512)]
    plan += [("(a)", who, v) for v in (512, 1024, 4096) for who in ("fast", "hf")]
    plan += [("(b)", who, v) for v in (512, 1024, 4096, 8192) for who in ("fast", "hf")]
    for label, who, vocab_size in plan:
        if who == "hf":
            seconds, tok = timed(partial(hf_train, texts[label], vocab_size))
        else:
            text = "\n\n".join(texts[label])
            seconds, tok = timed(partial(BPETokenizer().train, text, vocab_size, trainer=who))
        trained[label, who, vocab_size] = tok
        train_rows.append((label, vocab_size, who, seconds))
        print(f"train {label} {who} {vocab_size}: {seconds:.2f} s", file=sys.stderr)
    # Both trainers must have learned the same merges, or the timing compares nothing.
    assert trained["(a)", "naive", 512].merges == trained["(a)", "fast", 512].merges

    encode_rows = []
    for label, docs in texts.items():
        encode_rows += encoding_rows(
            label, docs, trained[label, "fast", 4096], trained[label, "hf", 4096]
        )
    load_after = os.getloadavg()

    seconds = {(label, who, v): s for label, v, who, s in train_rows}
    names = {"naive": "ours, naive", "fast": "ours, fast", "hf": "HF tokenizers"}
    table = ["| text | vocab | trainer | training time |", "|---|---:|---|---:|"]
    table += [f"| {label} | {v} | {names[who]} | {s:.2f} s |" for label, v, who, s in train_rows]
    enc_table = ["| text | encoder (vocab 4096) | throughput | tokens |", "|---|---|---:|---:|"]
    enc_table += [
        f"| {label} | {name} | {speed:.2f} MB/s | {tokens:,} |"
        for label, name, speed, tokens in encode_rows
    ]
    speed = {(label, name): s for label, name, s, _ in encode_rows}
    ratios = [
        f"- naive / fast training at vocab 512 on (a): "
        f"{seconds['(a)', 'naive', 512] / seconds['(a)', 'fast', 512]:.0f}x"
    ]
    for label in texts:
        ratios.append(
            f"- ours (fast) / HF training time at vocab 4096 on {label}: "
            f"{seconds[label, 'fast', 4096] / seconds[label, 'hf', 4096]:.1f}x"
        )
    for label in texts:
        cold = speed[label, "ours, cold cache (fresh object)"]
        warm = speed[label, "ours, warm cache (second pass)"]
        ratios.append(
            f"- encoding {label}: tiktoken / ours (cold) "
            f"{speed[label, 'tiktoken with our merges'] / cold:.1f}x, tiktoken / ours (warm) "
            f"{speed[label, 'tiktoken with our merges'] / warm:.1f}x, HF / ours (cold) "
            f"{speed[label, 'HF tokenizers (its own merges)'] / cold:.1f}x"
        )

    record(
        "bench_tokenizer",
        [
            "## Tokenizer training and encoding (`bench/bench_tokenizer.py`)",
            "",
            f"Command: `.venv/bin/python bench/bench_tokenizer.py --write` on "
            f"{today()}; machine: {machine()}, tiktoken {metadata.version('tiktoken')}, "
            f"tokenizers {metadata.version('tokenizers')}, regex {metadata.version('regex')}; "
            f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after. "
            f"Text (a): the first {sizes['(a)']:.2f} MB of the corpus's train split "
            f"(tiny-shakespeare's size), {len(texts['(a)'])} documents; "
            f"(b): the whole train split, {sizes['(b)']:.2f} MB, {len(documents)} documents.",
            "",
            "All tokenizers split with the GPT-4 regex and work on bytes. Ours are pure Python "
            "on one core; Hugging Face trains in Rust on every core. The naive and the fast "
            "trainer learned identical merges (checked).",
            "",
            *table,
            "",
            "Encoding, document by document on one thread, with the vocabulary-4096 tokenizer "
            "trained on the same text. Ours: the cache maps each distinct pre-token to its ids; "
            "cold starts from an empty cache, warm encodes the text a second time. tiktoken "
            "gets our merges as ranks (`scratchllm.tokenizer.interop.to_tiktoken`) and gives "
            "our ids; HF uses the merges it learned itself (compare the token counts).",
            "",
            *enc_table,
            "",
            *ratios,
        ],
        args.write,
    )


if __name__ == "__main__":
    main()
