"""Evaluation: one place where every model of the book is scored.

A model meets a benchmark through three requests, those of EleutherAI's
lm-evaluation-harness (Gao et al.), so that the two give the same numbers
on the same tasks (tests/test_evaluate_lm_eval.py checks it):

- loglikelihood(context, continuation): log p(continuation | context), and
  whether greedy decoding would have produced the continuation;
- loglikelihood_rolling(text): log p(text), over windows of block_size;
- generate: the model's own tokens after a prompt, greedy or sampled.

Every metric is returned per item, with the item's group (its module), and
`summarize` turns items into a mean, its standard error and a cluster
bootstrap interval over modules (scratchllm.stats), so that every score
the book prints comes with the uncertainty of its test set.
"""

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import humaneval, instruct
from .cli import at_least, existing, run_command
from .data import benchmarks
from .generate import load_model_and_tokenizer
from .lora import load_adapter
from .sampling import KVCache, stream
from .stats import bootstrap_means, cluster_resamples, interval
from .train import device

EOT = "<|endoftext|>"


class LM:
    """A GPT and its tokenizer behind the harness's requests."""

    def __init__(self, model, tokenizer, device="cpu"):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.block_size = model.config.block_size
        self.eot = tokenizer.special_tokens[EOT]
        self._encoded = {}

    def encode(self, text):
        # A question's context is encoded once, not once per choice.
        if text not in self._encoded:
            self._encoded[text] = self.tokenizer.encode(
                text, allowed_special="none"
            )
        return list(self._encoded[text])

    def encode_pair(self, context, continuation):
        """(context ids, continuation ids), as the harness splits them:
        spaces ending the context move to the continuation (" Paris", not
        " " + "Paris"), the pair is encoded whole and cut where the
        context's own ids end, and an empty context is <|endoftext|>.
        Where the whole's tokens do not start with the context's (a merge
        across the cut), the two are encoded apart."""
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = (
                context[:-spaces],
                context[-spaces:] + continuation,
            )
        if not context:
            return [self.eot], self.encode(continuation)
        whole = self.encode(context + continuation)
        ids = self.encode(context)
        if whole[: len(ids)] != ids or len(whole) == len(ids):
            return ids, self.encode(continuation)
        return ids, whole[len(ids) :]

    def score_ids(self, pairs):
        """[(sum of log-probabilities, is_greedy)] of each continuation of
        `pairs` [(context ids, continuation ids)].  The continuations of
        one context (a question's choices) are scored together: the
        context is read once, into a KV cache, and each continuation
        after it."""
        pieces, owner = [], []
        for i, (context, continuation) in enumerate(pairs):
            if not continuation:
                raise ValueError("an empty continuation has no likelihood")
            for piece in self.chunks(context, continuation):
                pieces.append(piece)
                owner.append(i)
        totals, greedy = [0.0] * len(pairs), [True] * len(pairs)
        for i, (ll, g) in zip(owner, self.score_pieces(pieces), strict=True):
            totals[i] += ll
            greedy[i] = greedy[i] and g
        return list(zip(totals, greedy, strict=True))

    def chunks(self, context, continuation):
        """The pair itself if its continuation fits in the block (its
        context then cut to fit), else pieces of half a block, each after
        the half block of tokens before it: a continuation longer than the
        block (a whole solution) is scored in parts."""
        if len(continuation) <= self.block_size:
            return [(context, continuation)]
        size = self.block_size // 2
        whole = [*context, *continuation]
        start = len(context)
        return [
            (whole[max(0, s - size) : s], whole[s : s + size])
            for s in range(start, len(whole), size)
        ]

    def score_pieces(self, pairs):
        """score_ids for continuations that fit in the block."""
        # Grouped by the context as it will be read, cut to fit with its
        # own continuation: a request's score never depends on the others.
        by_context = {}
        for i, (context, continuation) in enumerate(pairs):
            keep = self.block_size + 1 - len(continuation)
            by_context.setdefault(tuple(context[-keep:]), []).append(i)
        results = [None] * len(pairs)
        alone = [m[0] for m in by_context.values() if len(m) == 1]
        scored = self.score_rows([pairs[i] for i in alone])
        for i, result in zip(alone, scored, strict=True):
            results[i] = result
        for context, members in by_context.items():
            if len(members) == 1:
                continue
            scored = self.score_continuations(
                list(context), [pairs[i][1] for i in members]
            )
            for i, result in zip(members, scored, strict=True):
                results[i] = result
        return results

    @torch.no_grad()
    def score_rows(self, pairs, batch_size=16):
        """score_ids for pairs of distinct contexts (rolling windows):
        batches of rows, longest first, padded on the right, which no
        earlier position reads under causal attention."""
        rows = []
        for context, continuation in pairs:
            whole = [*context, *continuation][-(self.block_size + 1) :]
            rows.append((whole[:-1], len(continuation)))
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i][0]))
        results = [None] * len(rows)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            x = torch.zeros(
                len(batch), len(rows[batch[0]][0]), dtype=torch.long
            )
            for r, i in enumerate(batch):
                x[r, : len(rows[i][0])] = torch.tensor(rows[i][0])
            hidden = self.model.hidden_states(x.to(self.device))
            for r, i in enumerate(batch):
                inputs, n = rows[i]
                span = self.log_probs(hidden[r, len(inputs) - n : len(inputs)])
                results[i] = _scored(span, pairs[i][1])
        return results

    @torch.no_grad()
    def score_continuations(self, context, continuations):
        """score_ids for one context, already cut (score_pieces) so that
        it and each continuation fit in block_size."""
        longest = max(len(c) for c in continuations)
        cache = KVCache(self.model.config.n_layer)
        x = torch.tensor([context], device=self.device)
        # The context's last position predicts each first token.
        first = self.log_probs(self.model.hidden_states(x, cache)[:, -1:])
        rows = len(continuations)
        for layer in cache.layers:  # one copy of the context per row
            layer.k = layer.k.expand(rows, -1, -1, -1)
            layer.v = layer.v.expand(rows, -1, -1, -1)
        logprobs = first.expand(rows, -1, -1)
        if longest > 1:
            x = torch.zeros(rows, longest - 1, dtype=torch.long)
            for r, c in enumerate(continuations):
                x[r, : len(c) - 1] = torch.tensor(c[:-1])
            rest = self.log_probs(
                self.model.hidden_states(x.to(self.device), cache)
            )
            logprobs = torch.cat([logprobs, rest], dim=1)
        # The padding after a continuation is never read.
        return [
            _scored(logprobs[r, : len(c)], c)
            for r, c in enumerate(continuations)
        ]

    def log_probs(self, hidden):
        """Log-probabilities of the next token from final hidden states:
        the output layer runs only where a prediction is read."""
        logits = self.model.lm_head(hidden)
        return F.log_softmax(logits.float(), dim=-1).cpu()

    def loglikelihood(self, requests):
        """[(log p(continuation | context), is_greedy)] for each
        (context, continuation) of `requests`."""
        return self.score_ids([self.encode_pair(c, x) for c, x in requests])

    def rolling_windows(self, ids):
        """[(context ids, continuation ids)] predicting each of `ids` once:
        the harness's disjoint rolling windows.  The first reads
        <|endoftext|> and predicts up to block_size tokens; each later one
        predicts the next block_size (fewer at the end) from the tokens
        before them that fit in the block: the first token of a window
        sees one token, its last sees a whole block."""
        windows, done = [], 0
        while done < len(ids):
            end = min(done + self.block_size, len(ids))
            before = [self.eot, *ids][: done + 1]
            keep = self.block_size + 1 - (end - done)
            windows.append((before[-keep:] if keep else [], ids[done:end]))
            done = end
        return windows

    def loglikelihood_rolling(self, texts):
        """[log p(text)] for each of `texts`, every token predicted once."""
        windows, owner = [], []
        for k, text in enumerate(texts):
            for w in self.rolling_windows(self.encode(text)):
                windows.append(w)
                owner.append(k)
        totals = [0.0] * len(texts)
        for k, (ll, _) in zip(owner, self.score_ids(windows), strict=True):
            totals[k] += ll
        return totals

    def generate(
        self,
        prompts,
        max_new_tokens,
        stop_ids=None,
        temperature=0.0,
        samples=1,
        seed=0,
    ):
        """For each prompt (ids), `samples` lists of new ids, each ending
        before the first of stop_ids.  A prompt's samples are one batch
        (rows of one length: no padding); each prompt has its own
        generator, seeded by seed and its index, so a result does not
        depend on the prompts asked with it.  A prompt is cut on the left
        so that it and its sample fit in the block: the KV cache then
        serves every step, and no token of the sample slides out of view."""
        stops = set(stop_ids or [])
        keep = max(1, self.block_size - max_new_tokens)
        out = [None] * len(prompts)
        for k, prompt in enumerate(prompts):
            prompt = list(prompt)[-keep:]
            idx = torch.tensor([prompt] * samples, device=self.device)
            generator = torch.Generator(device=self.device)
            generator.manual_seed(seed + k)
            steps = stream(
                self.model,
                idx,
                max_new_tokens,
                temperature=temperature,
                stop_ids=list(stops) or None,
                generator=generator,
            )
            new = (
                torch.cat(list(steps), dim=1).tolist() if max_new_tokens else []
            )
            out[k] = [_until(row, stops) for row in new] or [[]] * samples
        return out


def _scored(span, continuation):
    """(sum of log-probabilities, is_greedy): span (n, V) holds the log-
    probabilities predicting each of the n ids of the continuation."""
    target = torch.tensor(continuation)
    total = span.gather(1, target[:, None]).sum().item()
    return total, bool((span.argmax(dim=-1) == target).all())


def _until(ids, stops):
    for i, token in enumerate(ids):
        if token in stops:
            return ids[:i]
    return ids


# --- metrics, per item ---------------------------------------------------------


def utf8_bytes(text):
    return len(text.encode("utf-8"))


def bits_per_byte_items(lm, docs):
    """Per document: its log-likelihood (nats) and its UTF-8 bytes; the
    metric is their ratio over the whole set (bits_per_byte)."""
    texts = [doc["text"] for doc in docs]
    return {
        "loglikelihood": np.array(lm.loglikelihood_rolling(texts)),
        "bytes": np.array([utf8_bytes(t) for t in texts], dtype=float),
    }


def bits_per_byte(items):
    """-sum log p / sum bytes, in bits: the harness's weighted mean."""
    return -items["loglikelihood"].sum() / items["bytes"].sum() / math.log(2)


def multiple_choice_items(lm, docs, delimiter=" "):
    """Per question: acc (the most likely choice is the gold one), acc_norm
    (the same with each log-likelihood divided by the choice's length in
    characters, the harness's normalisation), the gold's rank among the
    choices (1 is best) and whether greedy decoding writes the gold.

    A doc is {"query", "choices", "gold"}: the model reads the query and
    each choice is scored as its continuation, after `delimiter`."""
    requests, spans = [], []
    for doc in docs:
        spans.append((len(requests), len(doc["choices"])))
        requests += [(doc["query"], delimiter + c) for c in doc["choices"]]
    scored = lm.loglikelihood(requests)
    acc, acc_norm, rank, greedy, choice = [], [], [], [], []
    for doc, (start, n) in zip(docs, spans, strict=True):
        lls = np.array([ll for ll, _ in scored[start : start + n]])
        lengths = np.array([float(len(c)) for c in doc["choices"]])
        gold = doc["gold"]
        acc.append(float(np.argmax(lls) == gold))
        acc_norm.append(float(np.argmax(lls / lengths) == gold))
        rank.append(1.0 + float((lls > lls[gold]).sum()))
        greedy.append(float(scored[start + gold][1]))
        choice.append(float(np.argmax(lls)))
    return {
        "acc": np.array(acc),
        "acc_norm": np.array(acc_norm),
        "rank": np.array(rank),
        "greedy": np.array(greedy),
        "choice": np.array(choice),
    }


def continuation_bits_per_byte_items(lm, docs):
    """Per doc {"query", "target"}: log p(target | query) and the target's
    bytes; the graded signal of a task a small model cannot yet pass
    (a canonical solution, a reference answer)."""
    scored = lm.loglikelihood([(d["query"], d["target"]) for d in docs])
    return {
        "loglikelihood": np.array([ll for ll, _ in scored]),
        "bytes": np.array([utf8_bytes(d["target"]) for d in docs], dtype=float),
    }


# --- baselines that give bits per byte a meaning ------------------------------


def compressed_bits_per_byte(docs, compress):
    """Bits per byte of the documents' texts, joined, after `compress`
    (zlib.compress, lzma.compress): a general-purpose compressor's figure,
    which learns from nothing but the text itself."""
    data = "".join(doc["text"] for doc in docs).encode("utf-8")
    return 8 * len(compress(data)) / len(data)


class BigramModel:
    """Counts of token pairs in the training split: a bigram model,
    interpolated with the unigram (Jelinek and Mercer, 1980), whose
    weight is fitted on held-out tokens; order=1 asks the unigram alone.
    The unigram adds one to every count, so that no token has probability
    zero; after a token that training never saw followed, the bigram's
    place is taken by the unigram."""

    def __init__(self, tokens, vocab_size):
        t = np.asarray(tokens, dtype=np.int64)
        self.vocab_size = vocab_size
        self.unigram = (np.bincount(t, minlength=vocab_size) + 1.0) / (
            len(t) + vocab_size
        )
        pairs = np.bincount(
            t[:-1] * vocab_size + t[1:], minlength=vocab_size**2
        )
        self.pairs = pairs.reshape(vocab_size, vocab_size).astype(np.float32)
        self.totals = self.pairs.sum(axis=1)
        self.weight = 0.5

    def fit(self, tokens):
        """Choose the bigram's weight, in steps of 0.05, that gives
        `tokens` the highest likelihood."""
        grid = np.linspace(0.05, 0.95, 19)
        scores = [self._loglikelihood(tokens, w) for w in grid]
        self.weight = float(grid[int(np.argmax(scores))])
        return self

    def _loglikelihood(self, ids, weight):
        ids = np.asarray(ids, dtype=np.int64)
        prev, nxt = ids[:-1], ids[1:]
        seen = self.totals[prev]
        # After a token never followed in training: the unigram alone.
        bigram = np.where(
            seen > 0,
            self.pairs[prev, nxt] / np.maximum(seen, 1.0),
            self.unigram[nxt],
        )
        p = weight * bigram + (1 - weight) * self.unigram[nxt]
        return float(np.log(self.unigram[ids[0]]) + np.log(p).sum())

    def loglikelihood(self, ids, order=2):
        """log p(ids), in nats."""
        if order == 1:
            return float(np.log(self.unigram[np.asarray(ids)]).sum())
        return self._loglikelihood(ids, self.weight)

    def bits_per_byte_items(self, tokenizer, docs, order=2):
        """bits_per_byte_items, for this model."""
        texts = [doc["text"] for doc in docs]
        return {
            "loglikelihood": np.array(
                [
                    self.loglikelihood(tokenizer.encode_ordinary(t), order)
                    for t in texts
                ]
            ),
            "bytes": np.array([utf8_bytes(t) for t in texts], dtype=float),
        }


# --- summaries, with their uncertainty -----------------------------------------


@dataclass(frozen=True)
class Score:
    """A metric over a test set: its value, the standard error of a mean
    (None for a ratio), a 95 % cluster-bootstrap interval and the count."""

    value: float
    stderr: float | None
    low: float
    high: float
    n: int


def mean_score(values, groups, resamples=1000, seed=0):
    """The mean of item scores, with the harness's standard error (sample
    standard deviation / sqrt(n)) and the interval over groups."""
    values = np.asarray(values, dtype=float)
    means = bootstrap_means({"v": values}, groups, resamples, seed)["v"]
    stderr = float(values.std(ddof=1) / math.sqrt(len(values)))
    return Score(float(values.mean()), stderr, *interval(means), len(values))


def bits_per_byte_score(items, groups, resamples=1000, seed=0):
    """bits_per_byte of `items`, with its interval over groups."""
    values = [
        bits_per_byte({k: v[rows] for k, v in items.items()})
        for rows in cluster_resamples(groups, resamples, seed)
    ]
    n = len(items["bytes"])
    return Score(bits_per_byte(items), None, *interval(values), n)


# --- contamination -------------------------------------------------------------


class _Grams:
    """The n-grams of several token sequences at once, n growing by one:
    a 64-bit polynomial hash per start position (arithmetic modulo 2**64,
    by numpy's wrap-around), valid where the n-gram does not run past the
    end of its own sequence."""

    BASE = np.uint64(1_000_003)

    def __init__(self, sequences, n):
        sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
        self.tokens = np.concatenate(sequences).astype(np.uint64)
        lengths = [len(s) for s in sequences]
        self.owner = np.repeat(np.arange(len(sequences)), lengths)
        self.end = np.repeat(np.cumsum(lengths), lengths)
        self.n = 0
        self.hashes = np.zeros(len(self.tokens), dtype=np.uint64)
        while self.n < n:
            self.grow()

    def grow(self):
        """From n-grams to (n + 1)-grams: one multiply-add per position."""
        self.hashes = self.hashes[:-1] if self.n else self.hashes
        self.hashes = self.hashes * self.BASE + self.tokens[self.n :]
        self.n += 1

    def valid(self):
        starts = np.arange(len(self.hashes))
        return starts + self.n <= self.end[: len(self.hashes)]

    def unique(self):
        return np.unique(self.hashes[self.valid()])

    def owners_of(self, hashes):
        """The sequences with at least one n-gram among `hashes`."""
        hit = self.valid() & np.isin(self.hashes, hashes)
        return np.unique(self.owner[: len(self.hashes)][hit])


def longest_common_ngram(items, train, min_n=8):
    """For each item (a list of token ids), the length of the longest run
    of tokens it shares with `train` (a token array), if at least min_n;
    else 0.

    Every shared run of min_n or more tokens is made of training min_n-
    grams that also occur in some item, so one pass over `train` keeps
    only the stretches made of such n-grams; longer lengths are then tried
    on those stretches alone, one more token at a time, until no item has
    a match.  Equal hashes are taken as equal n-grams (64 bits: a false
    match is vanishingly unlikely at these sizes)."""
    best = np.zeros(len(items), dtype=int)
    grams = _Grams(items, min_n)
    whole = _Grams([train], min_n)
    hit = whole.valid() & np.isin(whole.hashes, grams.unique())
    # The stretches of train covered by hit n-grams.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], hit, [0]])))
    stretches = [
        train[a : b + min_n - 1]
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]
    if not stretches:
        return best
    covered = _Grams(stretches, min_n)
    while True:
        found = grams.owners_of(covered.unique())
        if not len(found):
            return best
        best[found] = grams.n
        grams.grow()
        covered.grow()


# --- the book's tasks ----------------------------------------------------------

MC_METRICS = ("acc", "acc_norm", "rank", "greedy")


def task_scores(lm, name, docs):
    """{metric: Score} of one task of data.benchmarks, on `docs`."""
    groups = [d["group"] for d in docs]
    if name in benchmarks.BITS_PER_BYTE:
        items = bits_per_byte_items(lm, docs)
        return {"bits_per_byte": bits_per_byte_score(items, groups)}
    items = multiple_choice_items(lm, docs, benchmarks.DELIMITER[name])
    return {m: mean_score(items[m], groups) for m in MC_METRICS}


def instruction_items(lm, examples, answers=None):
    """Per question of chapter 10's test set: the reference response's
    log-likelihood after the prompt (through <|end|>) and its bytes, a
    graded signal even for a model that never answers in the template;
    with `answers` (the model's, from instruct.answer), also their exact,
    f1 and correct (instruct.score, which runs doctests)."""
    pairs = []
    for ex in examples:
        ids, n_prompt = instruct.encode_example(
            lm.tokenizer, ex.instruction, ex.response
        )
        pairs.append((ids[:n_prompt], ids[n_prompt:]))
    items = {} if answers is None else instruct.score(examples, answers)
    items["loglikelihood"] = np.array([ll for ll, _ in lm.score_ids(pairs)])
    items["bytes"] = np.array(
        [utf8_bytes(ex.response) for ex in examples], dtype=float
    )
    return items


def humaneval_items(
    lm, problems, samples=0, temperature=0.8, max_new_tokens=128, seed=0
):
    """Per HumanEval problem: the canonical solution's log-likelihood and
    bytes after the prompt; with samples > 0, also the model's samples
    (cut at humaneval.STOP), their verdicts, and how many passed."""
    items = continuation_bits_per_byte_items(
        lm,
        [
            {"query": p["prompt"], "target": p["canonical_solution"]}
            for p in problems
        ],
    )
    if not samples:
        return items
    prompts = [lm.encode(p["prompt"]) for p in problems]
    new = lm.generate(
        prompts,
        max_new_tokens,
        stop_ids=[lm.eot],
        temperature=temperature,
        samples=samples,
        seed=seed,
    )
    completions = [
        [humaneval.truncate(lm.tokenizer.decode(ids)) for ids in rows]
        for rows in new
    ]
    pairs = [
        (p, c) for p, cs in zip(problems, completions, strict=True) for c in cs
    ]
    verdicts = np.array(humaneval.check_all(pairs)).reshape(
        len(problems), samples
    )
    items["completions"] = completions
    items["verdicts"] = verdicts
    items["passed"] = (verdicts == "passed").sum(axis=1)
    return items


def pass_at(items, k):
    """The per-problem pass@k of humaneval_items' samples."""
    samples = items["verdicts"].shape[1]
    return humaneval.pass_at_k(samples, items["passed"], k)


# --- the command line ----------------------------------------------------------

USAGE = """examples:
  python -m scratchllm.evaluate tasks --corpus build/artifacts/corpus \\
      --out runs/tasks
  python -m scratchllm.evaluate run --ckpt build/artifacts/model/ckpt.pt \\
      --tokenizer build/artifacts/tokenizer/tokenizer.model \\
      --tasks runs/tasks --humaneval-samples 10
"""


def _tasks(args):
    tasks = benchmarks.build_tasks(args.corpus)
    benchmarks.save_tasks(args.out, tasks)
    for name, docs in tasks.items():
        print(f"{args.out}/{name}.jsonl: {len(docs)} items")


def _run(args):
    model, tokenizer = load_model_and_tokenizer(
        args.ckpt, args.tokenizer, args.device
    )
    if args.lora:
        load_adapter(model, args.lora)
    lm = LM(model, tokenizer, args.device)
    tasks = benchmarks.load_tasks(args.tasks)
    known = {*benchmarks.BITS_PER_BYTE, *benchmarks.MULTIPLE_CHOICE}
    for name in sorted(set(tasks) - known):
        raise ValueError(f"{args.tasks}/{name}.jsonl is no task of this book")
    if args.only:
        unknown = set(args.only) - set(tasks) - {"humaneval"}
        if unknown:
            raise ValueError(
                f"no task {', '.join(sorted(unknown))} in {args.tasks}"
            )
        tasks = {k: v for k, v in tasks.items() if k in args.only}
    results = {
        name: task_scores(lm, name, docs) for name, docs in tasks.items()
    }
    if not args.only or "humaneval" in args.only:
        problems = humaneval.problems()
        items = humaneval_items(
            lm, problems, args.humaneval_samples, seed=args.seed
        )
        groups = [p["task_id"] for p in problems]
        results["humaneval"] = {
            "bits_per_byte": bits_per_byte_score(items, groups)
        }
        for k in (1, 10, 100):
            if k <= args.humaneval_samples:
                scores = pass_at(items, k)
                results["humaneval"][f"pass@{k}"] = mean_score(scores, groups)
    for name, scores in results.items():
        for metric, s in scores.items():
            error = "" if s.stderr is None else f" ± {s.stderr:.4f}"
            print(
                f"{name:12} {metric:14} {s.value:8.4f}{error:10} "
                f"[{s.low:.4f}, {s.high:.4f}]  n={s.n}"
            )
    if args.out:
        data = {
            task: {m: dataclasses.asdict(s) for m, s in scores.items()}
            for task, scores in results.items()
        }
        Path(args.out).write_text(json.dumps(data, indent=1) + "\n")


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.evaluate",
        description="Score a checkpoint on the book's benchmarks.",
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    tasks = commands.add_parser(
        "tasks", help="write the benchmarks of the held-out modules as JSONL"
    )
    tasks.add_argument("--corpus", required=True, type=existing)
    tasks.add_argument("--out", required=True)
    tasks.set_defaults(func=_tasks)
    run = commands.add_parser("run", help="score a checkpoint on them")
    run.add_argument("--ckpt", required=True, type=existing)
    run.add_argument("--tokenizer", required=True, type=existing)
    run.add_argument("--lora", type=existing, help="a LoRA adapter")
    run.add_argument("--tasks", required=True, type=existing)
    run.add_argument(
        "--only",
        type=lambda text: text.split(","),
        help="comma-separated task names (humaneval among them)",
    )
    run.add_argument(
        "--humaneval-samples",
        type=at_least(0),
        default=0,
        help="samples per problem for pass@k (0: likelihoods only)",
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", type=device, default="cpu")
    run.add_argument("--out", help="write the scores as JSON")
    run.set_defaults(func=_run)
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    run_command(parser, args.func, args)


if __name__ == "__main__":
    main()
