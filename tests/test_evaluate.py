"""scratchllm.evaluate with a tiny random GPT (block_size 16) and a BPE
tokenizer trained here.  Pinned: LM.score_ids against a plain forward pass
(the KV cache, left truncation, half-block chunks, is_greedy, independence
from the other requests); rolling windows; generate (argmax by hand, seeded
samples, stop ids); the metrics on a stub LM (acc against acc_norm, rank,
greedy) and their intervals; the compressor and bigram baselines;
longest_common_ngram against brute force; instruction_items, humaneval_items
and the command line.  (lm-eval's numbers: tests/test_evaluate_lm_eval.py.)"""

import json
import math
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from scratchllm import evaluate, humaneval
from scratchllm.config import GPTConfig
from scratchllm.data import benchmarks
from scratchllm.data.instructions import Example
from scratchllm.instruct import encode_example
from scratchllm.model import GPT
from scratchllm.tokenizer import BPETokenizer
from scratchllm.train import save_model

pytestmark = pytest.mark.usefixtures("one_thread")

BLOCK = 16
TEXT = "def add(a, b):\n    return a + b\n# The json module encodes JSON. Return a str.\n" * 20


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer().train(TEXT, vocab_size=300)  # with the four special tokens


@pytest.fixture(scope="module")
def lm(tokenizer):
    torch.manual_seed(0)
    shape = dict(block_size=BLOCK, n_layer=2, n_head=2, n_embd=16)
    return evaluate.LM(GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **shape)), tokenizer)


def ids(n, seed, high=300):
    return np.random.default_rng(seed).integers(0, high, n).tolist()


@torch.no_grad()
def plain(lm, context, continuation):
    """A pair by a forward pass over (context + continuation)[-(block + 1):]:
    log_softmax gathered at the continuation, summed; each id the argmax?"""
    whole = [*context, *continuation][-(BLOCK + 1) :]
    logits, _ = lm.model(torch.tensor([whole[:-1]]))
    logp = F.log_softmax(logits[0].float(), dim=-1)[-len(continuation) :]
    target = torch.tensor(continuation)
    return logp.gather(1, target[:, None]).sum().item(), bool((logp.argmax(-1) == target).all())


def chunked(lm, context, continuation):
    """LM.chunks' rule: a continuation longer than the block is scored in
    pieces of half a block, each after the half block of tokens before it."""
    if len(continuation) <= BLOCK:
        return plain(lm, context, continuation)
    whole, half = [*context, *continuation], BLOCK // 2
    parts = [
        plain(lm, whole[max(0, s - half) : s], whole[s : s + half])
        for s in range(len(context), len(whole), half)
    ]
    return sum(p[0] for p in parts), all(p[1] for p in parts)


@torch.no_grad()
def greedy_ids(lm, prompt, n):
    """Argmax decoding by hand, reading the last block of tokens each step."""
    out = list(prompt)
    for _ in range(n):
        logits, _ = lm.model(torch.tensor([out[-BLOCK:]]))
        out.append(int(logits[0, -1].argmax()))
    return out[len(prompt) :]


def assert_scores(got, expected):
    assert [g for _, g in got] == [g for _, g in expected]
    np.testing.assert_allclose([s for s, _ in got], [s for s, _ in expected], atol=1e-5, rtol=0)


# --- requests -------------------------------------------------------------------


def mixed_pairs():
    short, long = ids(5, 1), ids(30, 2)
    return [
        *[(short, ids(n, 10 + n)) for n in (1, 3, 7, 12)],  # one context: the KV cache
        *[(long, ids(4, 20 + k)) for k in range(3)],  # a long context, cut on the left
        (long, ids(2, 30)),  # the same context, cut less: scored alone
        (ids(3, 3), ids(40, 4)),  # a continuation longer than the block
        (ids(25, 5), ids(BLOCK, 6)),  # exactly a block: one piece
    ]


def test_score_ids_equals_a_plain_forward_pass_per_pair(lm):
    pairs = mixed_pairs()
    assert_scores(lm.score_ids(pairs), [chunked(lm, c, x) for c, x in pairs])
    with pytest.raises(ValueError, match="empty continuation"):
        lm.score_ids([([1, 2], [3]), ([1, 2], [])])


def test_a_score_does_not_depend_on_the_other_requests(lm):
    pairs = mixed_pairs()
    together = lm.score_ids(pairs)
    assert_scores(together, [lm.score_ids([p])[0] for p in pairs])
    order = np.random.default_rng(0).permutation(len(pairs))
    assert_scores([lm.score_ids([pairs[i] for i in order])[k] for k in np.argsort(order)], together)


@pytest.mark.parametrize("context_length", [4, 30])
def test_is_greedy_is_true_only_for_the_argmax_continuation(lm, context_length):
    context = ids(context_length, 7)
    best = greedy_ids(lm, context, 5)
    other = [*best[:-1], (best[-1] + 1) % lm.model.config.vocab_size]
    together = lm.score_ids([(context, best), (context, other)])  # one context: KV cache
    alone = [lm.score_ids([(context, c)])[0] for c in (best, other)]
    assert [g for _, g in together] == [g for _, g in alone] == [True, False]


def test_rolling_windows_predict_every_token_once(lm):
    text = TEXT[:200]
    tokens = lm.encode(text)
    windows = lm.rolling_windows(tokens)
    assert len(tokens) > 3 * BLOCK and len(windows) >= 4
    assert windows[0][0] == [lm.eot]
    assert [t for _, c in windows for t in c] == tokens
    done = 0
    for context, continuation in windows:
        assert 1 <= len(continuation) <= BLOCK and len(context) + len(continuation) <= BLOCK + 1
        assert context == [lm.eot, *tokens][: done + 1][-len(context) :]  # what comes before
        done += len(continuation)
    [total] = lm.loglikelihood_rolling([text])
    assert total == pytest.approx(sum(plain(lm, c, x)[0] for c, x in windows), abs=1e-4)


# --- generation -----------------------------------------------------------------


@pytest.mark.parametrize("length", [3, 20])  # the second longer than the block
def test_greedy_generation_is_argmax_by_hand(lm, length):
    # The prompt is cut on the left so that it and the 12 new tokens fit.
    prompt = ids(length, 8)
    expected = greedy_ids(lm, prompt[-(BLOCK - 12) :], 12)
    assert lm.generate([prompt], 12) == [[expected]]


def test_samples_are_seeded_and_ignore_the_other_prompts(lm):
    a, b, c = ids(3, 9), ids(5, 10), ids(20, 11)
    first = lm.generate([a, b], 8, temperature=1.0, samples=3, seed=5)
    assert first == lm.generate([a, b], 8, temperature=1.0, samples=3, seed=5)
    assert lm.generate([c, b], 8, temperature=1.0, samples=3, seed=5)[1] == first[1]
    assert lm.generate([a], 8, temperature=1.0, samples=3, seed=5)[0] == first[0]
    twice = lm.generate([b, b], 8, temperature=1.0, samples=3, seed=5)  # a generator each
    assert twice[0] != twice[1] and twice[1] == first[1]
    assert len({tuple(row) for row in first[1]}) == 3 and {len(r) for r in first[1]} == {8}
    assert lm.generate([a, b], 8, temperature=1.0, samples=3, seed=6) != first


def test_generation_stops_before_a_stop_id(lm):
    prompt = ids(4, 12)
    greedy = greedy_ids(lm, prompt, 10)
    stop = greedy[3]
    assert lm.generate([prompt], 10, stop_ids=[stop]) == [[greedy[: greedy.index(stop)]]]
    free = lm.generate([prompt], 10, temperature=1.0, samples=4, seed=1)[0]
    stops = set(range(0, 300, 3))
    stopped = lm.generate([prompt], 10, stop_ids=stops, temperature=1.0, samples=4, seed=1)[0]
    for row, cut in zip(free, stopped, strict=True):  # the same draws, cut at a stop
        first = next((i for i, t in enumerate(row) if t in stops), len(row))
        assert cut == row[:first]
    assert lm.generate([prompt], 0, samples=2) == [[[], []]]


# --- metrics --------------------------------------------------------------------


class StubLM:
    """loglikelihood: the chosen (log-likelihood, is_greedy) of each request."""

    def __init__(self, scores):
        self.scores, self.asked = scores, []

    def loglikelihood(self, requests):
        self.asked += requests
        return [self.scores[r] for r in requests]


def test_multiple_choice_acc_acc_norm_rank_and_greedy():
    # (query, choices, gold, log-likelihoods, the choice greedy decoding writes).
    # acc_norm divides by the choice's characters: Q1 -2, -1, -1.5; Q2 -1, -0.93.
    # Q3 ties: the first choice wins, and the gold ranks first.
    table = [
        ("Q1", ["a", "bbbb", "cc"], 1, [-2.0, -4.0, -3.0], 1),
        ("Q2", ["x", "yyy"], 0, [-1.0, -2.8], 1),
        ("Q3", ["p", "q", "r"], 2, [-1.0, -1.0, -1.0], 2),
    ]
    docs = [{"query": q, "choices": c, "gold": g} for q, c, g, _, _ in table]
    scores = {
        (q, " " + c): (ll, i == greedy)
        for q, choices, _, lls, greedy in table
        for i, (c, ll) in enumerate(zip(choices, lls, strict=True))
    }
    stub = StubLM(scores)
    items = evaluate.multiple_choice_items(stub, docs)
    assert stub.asked == list(scores)
    assert items["acc"].tolist() == [0.0, 1.0, 0.0]
    assert items["acc_norm"].tolist() == [1.0, 0.0, 0.0]
    assert items["rank"].tolist() == [3.0, 1.0, 1.0]
    assert items["greedy"].tolist() == [1.0, 0.0, 1.0]
    bare = StubLM({(q, c[1:]): v for (q, c), v in scores.items()})
    assert evaluate.multiple_choice_items(bare, docs, delimiter="")["acc"].tolist() == [0, 1, 0]


def test_scores_have_the_harness_stderr_and_an_interval_over_groups():
    items = {"loglikelihood": np.array([-10.0, -20.0]), "bytes": np.array([5.0, 7.0])}
    assert evaluate.bits_per_byte(items) == pytest.approx(30 / 12 / math.log(2))
    rng = np.random.default_rng(0)
    values = rng.random(40)
    groups = [f"m{i % 8}" for i in range(40)]
    s = evaluate.mean_score(values, groups)
    assert s.value == pytest.approx(values.mean()) and s.n == 40
    assert s.stderr == pytest.approx(values.std(ddof=1) / math.sqrt(40))
    assert s.low < s.value < s.high
    same = evaluate.mean_score(np.tile([0.0, 1.0, 1.0], 4), np.repeat(["a", "b", "c", "d"], 3))
    assert same.low == pytest.approx(same.high) == pytest.approx(2 / 3)
    items = {"loglikelihood": -rng.uniform(5, 50, 30), "bytes": rng.uniform(10, 40, 30)}
    s = evaluate.bits_per_byte_score(items, [f"m{i % 6}" for i in range(30)])
    assert s.value == pytest.approx(evaluate.bits_per_byte(items)) and s.stderr is None
    assert s.low < s.value < s.high and s.n == 30
    same = {"loglikelihood": np.tile([-3.0, -9.0], 3), "bytes": np.tile([2.0, 5.0], 3)}
    s = evaluate.bits_per_byte_score(same, np.repeat(["a", "b", "c"], 2))
    assert s.low == pytest.approx(s.high) == pytest.approx(s.value)


# --- baselines ------------------------------------------------------------------


def test_compressed_bits_per_byte_counts_utf8_bytes():
    docs = [{"text": "naïve café "}, {"text": "日本語"}]
    assert evaluate.compressed_bits_per_byte(docs, lambda data: data) == 8.0
    data = "naïve café 日本語".encode()
    expected = 8 * len(zlib.compress(data)) / len(data)
    assert evaluate.compressed_bits_per_byte(docs, zlib.compress) == expected
    assert evaluate.compressed_bits_per_byte([{"text": "abc " * 1000}], zlib.compress) < 0.5
    noise = bytes(np.random.default_rng(0).integers(0, 128, 20000, dtype=np.uint8)).decode("ascii")
    assert 6.9 < evaluate.compressed_bits_per_byte([{"text": noise}], zlib.compress) < 8.1


def chain(n, seed):
    """Ids 0..9, each followed by the next one 30 % of the time."""
    rng, out = np.random.default_rng(seed), [0]
    for _ in range(n - 1):
        out.append((out[-1] + 1) % 10 if rng.random() < 0.3 else int(rng.integers(10)))
    return np.array(out)


V = 12  # ids 10 and 11 never occur
TRAIN, HELDOUT = chain(400, 0), chain(200, 1)
UNIGRAM = (np.bincount(TRAIN, minlength=V) + 1) / (len(TRAIN) + V)  # add one


def conditional(model, prev):
    """p(next | prev) over the vocabulary, from the model's log-likelihoods."""
    return np.exp([model.loglikelihood([prev, n]) - model.loglikelihood([prev]) for n in range(V)])


def test_bigram_conditionals_sum_to_one_and_order_1_is_the_unigram():
    model = evaluate.BigramModel(TRAIN, V).fit(HELDOUT)
    for prev in (0, 3, 9):
        assert conditional(model, prev).sum() == pytest.approx(1.0, abs=1e-6)
    assert np.isfinite(model.loglikelihood([10, 11, 10]))  # never seen, yet possible
    ids = [0, 3, 10, 5, 11]
    assert model.loglikelihood(ids, order=1) == pytest.approx(np.log(UNIGRAM[ids]).sum())
    assert conditional(model, 3)[10] == pytest.approx((1 - model.weight) * UNIGRAM[10])


def test_bigram_after_an_unseen_token_is_a_distribution():
    """Token 11 never occurs in training: the bigram has no counts after
    it, so p(. | 11) should be the unigram alone, not (1 - weight) times
    it, which sums to 1 - weight."""
    model = evaluate.BigramModel(TRAIN, V).fit(HELDOUT)
    assert conditional(model, 11).sum() == pytest.approx(1.0, abs=1e-6)


def test_bigram_fit_picks_the_best_weight_of_the_grid():
    model = evaluate.BigramModel(TRAIN, V)
    counts = np.zeros((V, V))
    np.add.at(counts, (TRAIN[:-1], TRAIN[1:]), 1)

    def by_hand(w):  # every previous token of HELDOUT occurs in TRAIN
        p = w * counts[HELDOUT[:-1], HELDOUT[1:]] / counts[HELDOUT[:-1]].sum(1)
        return np.log(UNIGRAM[HELDOUT[0]]) + np.log(p + (1 - w) * UNIGRAM[HELDOUT[1:]]).sum()

    grid = np.linspace(0.05, 0.95, 19)
    best = grid[np.argmax([by_hand(w) for w in grid])]
    assert model.fit(HELDOUT).weight == pytest.approx(best) and 0.05 < best < 0.95
    assert model.loglikelihood(HELDOUT) == pytest.approx(by_hand(best), rel=1e-6)


# --- contamination --------------------------------------------------------------


def brute_longest(item, train, min_n):
    best = 0
    for i in range(len(item)):
        for j in range(len(train)):
            k = 0
            while i + k < len(item) and j + k < len(train) and item[i + k] == train[j + k]:
                k += 1
            best = max(best, k)
    return best if best >= min_n else 0


@pytest.mark.parametrize("seed, alphabet, min_n", [(0, 2, 8), (1, 3, 5), (2, 3, 3), (3, 5, 4)])
def test_longest_common_ngram_is_brute_force(seed, alphabet, min_n):
    rng = np.random.default_rng(seed)
    train = rng.integers(0, alphabet, 150)
    items = [rng.integers(0, alphabet, int(n)).tolist() for n in rng.integers(0, 40, 12)]
    items += [
        train[60:80].tolist(),  # wholly inside train
        train[:12].tolist(),  # at its start
        train[-12:].tolist(),  # at its end
        [7, 8, 9, 7, 8, 9, 7, 8, 9, 7],  # tokens train never has
        train[30 : 30 + min_n - 1].tolist() + [9],  # one token short of min_n
        [],
    ]
    got = evaluate.longest_common_ngram(items, train, min_n).tolist()
    assert got == [brute_longest(it, train.tolist(), min_n) for it in items]
    assert got[-6:-3] == [20, 12, 12]
    assert got[-3:] == [0, 0, 0]


# --- chapters 10 and 11 ---------------------------------------------------------


def test_instruction_items_score_the_reference_response(lm, tokenizer):
    examples = [
        Example("summary", "json", "json.dumps", "Summarize json.dumps.", "Return a str. café"),
        Example("signature", "json", "json.loads", "Signature?", "loads(s, *, cls=None) " * 3),
    ]
    items = evaluate.instruction_items(lm, examples)
    assert set(items) == {"loglikelihood", "bytes"}
    assert items["bytes"].tolist() == [len(ex.response.encode()) for ex in examples]
    expected = []
    for ex in examples:  # the response and <|end|>, after the prompt
        turn, n_prompt = encode_example(tokenizer, ex.instruction, ex.response)
        expected.append(chunked(lm, turn[:n_prompt], turn[n_prompt:])[0])
    np.testing.assert_allclose(items["loglikelihood"], expected, atol=1e-5, rtol=0)
    scored = evaluate.instruction_items(lm, examples, [examples[0].response, "no"])
    assert scored["exact"].tolist() == scored["correct"].tolist() == [1.0, 0.0]
    assert scored["f1"][0] == 1.0 and scored["f1"][1] == 0.0
    np.testing.assert_allclose(scored["loglikelihood"], items["loglikelihood"])


def test_humaneval_items_likelihoods_and_samples(lm):
    problems = humaneval.problems()[:2]
    items = evaluate.humaneval_items(lm, problems)
    assert set(items) == {"loglikelihood", "bytes"}
    assert (items["loglikelihood"] < 0).all()
    assert items["bytes"].tolist() == [len(p["canonical_solution"].encode()) for p in problems]
    asked = lm.loglikelihood([(p["prompt"], p["canonical_solution"]) for p in problems])
    np.testing.assert_allclose(items["loglikelihood"], [ll for ll, _ in asked])
    stub = StubLM({("q", "é"): (-1.0, True)})  # bytes, not characters
    got = evaluate.continuation_bits_per_byte_items(stub, [{"query": "q", "target": "é"}])
    assert got["loglikelihood"].tolist() == [-1.0] and got["bytes"].tolist() == [2.0]
    items = evaluate.humaneval_items(lm, problems, samples=2, max_new_tokens=4)
    assert items["verdicts"].shape == (2, 2) and len(items["completions"]) == 2
    assert ((0 <= items["passed"]) & (items["passed"] <= 2)).all()
    assert evaluate.pass_at(items, 1).shape == evaluate.pass_at(items, 2).shape == (2,)
    with pytest.raises(ValueError, match="pass@3"):
        evaluate.pass_at(items, 3)


# --- the command line -----------------------------------------------------------


def fails(capsys, *argv):
    """(exit status, stderr) of the command line asked `argv`."""
    with pytest.raises(SystemExit) as stop:
        evaluate.main([str(a) for a in argv])
    return stop.value.code, capsys.readouterr().err


def test_tasks_needs_an_existing_corpus(tmp_path, capsys):
    code, err = fails(capsys, "tasks", "--out", tmp_path / "t")
    assert code == 2 and "--corpus" in err
    code, err = fails(capsys, "tasks", "--corpus", tmp_path / "nowhere", "--out", tmp_path / "t")
    assert code == 2 and "nowhere" in err


def test_run_scores_the_tasks_asked_for(lm, tokenizer, tmp_path, capsys):
    save_model(tmp_path / "ckpt.pt", lm.model)
    tokenizer.save(tmp_path / "tok.model")
    choices = ["add(a, b):", "loads(s):", "dumps(o):"]
    words = ["a str", "JSON", "a sum", "json", "b", "the module"]
    questions = [
        {"query": f"# Return {w}.\ndef", "choices": choices, "gold": i % 3, "group": f"m{i % 3}"}
        for i, w in enumerate(words)
    ]
    docs = [{"text": "The json module encodes JSON.", "group": "json"}]
    benchmarks.save_tasks(tmp_path / "tasks", {"docs": docs, "doc_to_func": questions})
    files = ["--ckpt", tmp_path / "ckpt.pt", "--tokenizer", tmp_path / "tok.model"]
    files = [str(f) for f in [*files, "--tasks", tmp_path / "tasks"]]
    evaluate.main(["run", *files, "--only", "doc_to_func", "--out", str(tmp_path / "s.json")])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["doc_to_func", m] for m in evaluate.MC_METRICS]
    scores = json.loads((tmp_path / "s.json").read_text())
    assert set(scores) == {"doc_to_func"}  # neither docs nor humaneval
    items = evaluate.multiple_choice_items(lm, questions)
    for metric in evaluate.MC_METRICS:
        assert scores["doc_to_func"][metric]["value"] == pytest.approx(items[metric].mean())
        assert scores["doc_to_func"][metric]["n"] == 6
    code, err = fails(capsys, "run", *files, "--only", "doc_to_func,nonexistent")
    assert code == 1 and "no task nonexistent" in err and "Traceback" not in err
