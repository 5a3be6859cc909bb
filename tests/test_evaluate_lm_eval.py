"""scratchllm.evaluate gives EleutherAI lm-evaluation-harness's numbers.

The same small GPT and BPE tokenizer are scored twice on the same JSONL
tasks: by the book's functions (multiple_choice_items, bits_per_byte_items,
mean_score) and by lm-eval's own evaluator (`lm_eval.simple_evaluate` on
local YAML tasks, `dataset_path: json`), the model behind an
`lm_eval.api.model.LM`.  Two such wrappers are run:

- `Delegating` hands each request's text to `scratchllm.evaluate.LM`, so
  lm-eval's tasks, request construction (target_delimiter, doc_to_*),
  per-doc metrics and aggregation meet our scoring;
- `Reference` is a `TemplateLM`: lm-eval's own context/continuation split
  (`_encode_pair`, the empty-context rule) and rolling windows
  (`get_rolling_token_windows` + `make_disjoint_window`), then HFLM's
  scoring rule written out plainly: one request at a time, unpadded, the
  GPT reading (context + continuation)[-(block_size + 1):-1].  It uses the
  GPT and the tokenizer, none of our evaluator, so it checks our
  encode_pair, rolling windows, KV-cached scoring and left truncation.

Proved, to 1e-6: acc and acc_norm of two multiple-choice tasks
(target_delimiter " " and ""), their standard errors (our mean_score's
stderr), bits_per_byte of a loglikelihood_rolling task, and every doc's
values; that lm-eval sends exactly the requests multiple_choice_items
builds; that LM.rolling_windows and LM.encode_pair are lm-eval's (but for
encode_pair's one documented departure: a BPE merge across the cut); and
that a request's score does not depend on the requests asked with it.
The docs are not ASCII (bytes are not characters), texts span several
windows of block_size tokens, some questions and choices together exceed
the block (so the context is cut on the left), and choices of different
lengths make acc and acc_norm differ on some docs.  Nothing is
downloaded: the datasets are local files, HF_*_OFFLINE is set and every
cache lies under a temporary directory.
"""

import json
import logging

import lm_eval.api.model
import lm_eval.utils
import numpy as np
import pytest
import torch
import yaml

from scratchllm import evaluate
from scratchllm.config import GPTConfig
from scratchllm.model import GPT
from scratchllm.tokenizer.bpe import BPETokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

BLOCK_SIZE = 32
WRAPPERS = ("delegating", "reference")

QUERIES = [
    "Question: what is the capital of France?\nAnswer:",
    "Frage: Welche Farbe hat der Himmel?\nAntwort: ",
    "问题：中文的“水”是什么意思？\n答案：",
    "Complete: the café on the corner sells",
    "Emoji 🙂 means",
    "Combien font deux et deux ?",
    "Q: Which one is a fruit?\n",
    "El niño juega con el",
    "Pick the longest river: ",
    "Ответ на вопрос о жизни —",
    "The word naïve is spelled",
    "Which planet is red? ",
    "東京は日本の",
    "Choose the animal that says «meow»:",
    "A résumé lists your",
    "½ + ½ =",
]
CHOICES = [
    ["Paris", "a city on the Seine with many museums", "Lyon", "no"],
    ["blau", "grün wie das Gras im Frühling", "rot"],
    ["water", "水", "火山和地震", "the liquid that falls as rain 🌧"],
    ["croissants", "pain au chocolat et café crème", "é"],
    ["a smile", "😢😢", "a feeling of quiet contentment", "🙂"],
    ["quatre", "4", "cinq, si l'on compte mal"],
    ["an apple", "a rock", "a hammer made of steel and wood", "x"],
    ["balón", "perro que ladra toda la noche", "sol"],
    ["the Nile", "the Amazon", "a small stream behind the house", "Po"],
    ["сорок два", "никто не знает", "да"],
    ["with a diaeresis over the i", "naive", "ï"],
    ["Mars", "Venus, the morning star", "Earth"],
    ["首都", "東京都は日本の首都です", "山"],
    ["a cat", "a dog that barks at strangers", "🐱"],
    ["work history", "jobs", "favourite foods and songs from childhood"],
    ["1", "one whole", "½½", "0"],
]
TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 4,
    "Le café était fermé, alors nous sommes allés à la boulangerie près "
    "de l'église. Là, une vieille dame nous a offert des crêpes.",
    "中文文本：我们今天去公园散步，天气很好，阳光明媚。孩子们在草地上玩耍，老人们在树下下棋。",
    "Short.",
    "Emoji everywhere 🙂🙃😀 and more 🚀🌍✨ then plain text again, "
    "long enough to need a second window of tokens.",
    "def f(x):\n\treturn x * 2  # doubles x\n\nprint(f(21))\n",
    "Ελληνικά: η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "Tabs\tand\nnewlines\n\nand  double  spaces   everywhere.   ",
    "Ünïcödé ävërywhërë: naïve café résumé façade coöperate.",
    "日本語の文章です。東京は日本の首都で、大きな都市です。" * 2,
    "a",
    "Numbers 1234567890 and symbols !@#$%^&*() and ½ ¼ ¾ € £ ¥.",
]


def mc_docs(scores):
    """The multiple-choice docs.  The gold index comes from `scores` (each
    choice's log-likelihood, by the reference scorer): the most likely
    choice, the most likely per character, or a random one, in turn, so
    that some docs are right under acc only and some under acc_norm only."""
    docs = []
    rng = np.random.default_rng(0)
    for i, (query, choices) in enumerate(zip(QUERIES, CHOICES, strict=True)):
        lls = np.array(scores[i])
        lengths = np.array([float(len(c)) for c in choices])
        gold = [np.argmax(lls), np.argmax(lls / lengths), rng.integers(len(choices))]
        docs.append(
            {
                "query": query,
                "choices": choices,
                "gold": int(gold[i % 3]),
                "group": f"g{i % 5}",
            }
        )
    return docs


def rolling_docs():
    return [{"text": t, "group": f"g{i % 4}"} for i, t in enumerate(TEXTS)]


# --- the model behind lm-eval --------------------------------------------------


class Delegating(lm_eval.api.model.LM):
    """lm-eval's requests, answered by scratchllm.evaluate.LM."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm
        self.requests = {}  # task name: [(context, continuation)] asked

    def loglikelihood(self, requests, disable_tqdm=False):
        for req in requests:
            self.requests.setdefault(req.task_name, []).append(tuple(req.args))
        return self.lm.loglikelihood([req.args for req in requests])

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        return self.lm.loglikelihood_rolling([req.args[0] for req in requests])

    def generate_until(self, requests, disable_tqdm=False):
        raise NotImplementedError("these tasks only score likelihoods")


class Reference(lm_eval.api.model.TemplateLM):
    """lm-eval's own tokenization rules and rolling windows, and HFLM's
    scoring written out: the GPT reads (context + continuation)[-(L+1):-1]
    alone, unpadded, and the continuation's log-probabilities are summed."""

    def __init__(self, model, tokenizer):
        super().__init__()
        self.model = model.eval()
        self.tok = tokenizer
        self.max_length = model.config.block_size

    @property
    def eot_token_id(self):
        return self.tok.special_tokens["<|endoftext|>"]

    def tok_encode(self, string, add_special_tokens=None, **kwargs):
        return self.tok.encode(string, allowed_special="none")

    @torch.no_grad()
    def score(self, context, continuation):
        whole = (list(context) + list(continuation))[-(self.max_length + 1) :]
        x = torch.tensor([whole[:-1]])
        logits, _ = self.model(x)
        logprobs = torch.log_softmax(logits[0], dim=-1)  # float32, as HFLM
        span = logprobs[-len(continuation) :]
        target = torch.tensor(continuation)
        ll = span.gather(1, target[:, None]).sum().item()
        return ll, bool((span.argmax(-1) == target).all())

    def _loglikelihood_tokens(self, requests, disable_tqdm=False, **kwargs):
        return [self.score(c, x) for _, c, x in requests]

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        totals = []
        for (text,) in (req.args for req in requests):
            windows = map(
                lm_eval.utils.make_disjoint_window,
                lm_eval.utils.get_rolling_token_windows(
                    token_list=self.tok_encode(text),
                    prefix_token=self.eot_token_id,
                    max_seq_len=self.max_length,
                    context_len=1,
                ),
            )
            totals.append(sum(self.score(c, x)[0] for c, x in windows))
        return totals

    def generate_until(self, requests, disable_tqdm=False):
        raise NotImplementedError("these tasks only score likelihoods")


# --- fixtures ------------------------------------------------------------------


def small_gpt(tokenizer, block_size=BLOCK_SIZE):
    torch.manual_seed(0)
    config = GPTConfig(
        block_size=block_size,
        vocab_size=tokenizer.vocab_size,
        n_layer=2,
        n_head=2,
        n_embd=32,
    )
    return GPT(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    text = "\n".join(QUERIES + [c for cs in CHOICES for c in cs] + TEXTS)
    return BPETokenizer().train(text, vocab_size=320)


@pytest.fixture(scope="module")
def ours(tokenizer):
    return evaluate.LM(small_gpt(tokenizer), tokenizer)


@pytest.fixture(scope="module")
def reference(tokenizer):
    return Reference(small_gpt(tokenizer), tokenizer)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory, ours, reference):
    """The three tasks' docs and the lm-eval results of both wrappers."""
    root = tmp_path_factory.mktemp("lm_eval_tasks")
    scores = [
        [reference.score(*reference._encode_pair(q, " " + c))[0] for c in cs]
        for q, cs in zip(QUERIES, CHOICES, strict=True)
    ]
    docs = {
        "scratch_mc_space": mc_docs(scores),
        "scratch_mc_none": mc_docs(scores),
        "scratch_rolling": rolling_docs(),
    }
    cache = root / "hf"
    common = {"dataset_path": "json", "test_split": "test", "metadata": {"version": 1.0}}
    mc = {
        "output_type": "multiple_choice",
        "doc_to_text": "{{query}}",
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "{{gold}}",
        "metric_list": [
            {"metric": m, "aggregation": "mean", "higher_is_better": True}
            for m in ("acc", "acc_norm")
        ],
    }
    configs = {
        "scratch_mc_space": {**mc, "target_delimiter": " "},
        "scratch_mc_none": {**mc, "target_delimiter": ""},
        "scratch_rolling": {
            "output_type": "loglikelihood_rolling",
            "doc_to_text": "",
            "doc_to_target": "{{text}}",
            "metric_list": [
                {
                    "metric": "bits_per_byte",
                    "aggregation": "bits_per_byte",
                    "higher_is_better": False,
                }
            ],
        },
    }
    for name, config in configs.items():
        data = root / f"{name}.jsonl"
        data.write_text(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs[name]),
            encoding="utf-8",
        )
        kwargs = {"data_files": {"test": str(data)}, "cache_dir": str(cache / "datasets")}
        task = {"task": name, **common, "dataset_kwargs": kwargs, **config}
        (root / f"{name}.yaml").write_text(
            yaml.safe_dump(task, allow_unicode=True), encoding="utf-8"
        )

    results = {}
    threads = torch.get_num_threads()
    quiet = [logging.getLogger(n) for n in ("lm_eval", "datasets", "filelock", "fsspec")]
    levels = [logger.level for logger in quiet]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_HOME", str(cache))
        mp.setenv("HF_DATASETS_CACHE", str(cache / "datasets"))
        mp.setenv("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        mp.setenv("TQDM_DISABLE", "1")
        torch.set_num_threads(1)
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        try:
            # Imported here, after the environment: datasets reads it on import.
            import lm_eval
            import lm_eval.evaluator
            from lm_eval.tasks import TaskManager

            # Facts about the machine (pip, git, GPUs), slow to collect and
            # not needed here.
            mp.setattr(lm_eval.evaluator, "add_env_info", lambda storage: None)
            mp.setattr(lm_eval.evaluator, "get_git_commit_hash", lambda: None)
            manager = TaskManager(include_path=str(root), include_defaults=False)
            for wrapper in WRAPPERS:
                model = Delegating(ours) if wrapper == "delegating" else reference
                results[wrapper] = (
                    model,
                    lm_eval.simple_evaluate(
                        model=model,
                        tasks=list(configs),
                        task_manager=manager,
                        bootstrap_iters=10,
                        log_samples=True,
                    ),
                )
        finally:
            torch.set_num_threads(threads)
            for logger, level in zip(quiet, levels, strict=True):
                logger.setLevel(level)
    assert any(cache.rglob("*")), "datasets cached nothing under tmp"
    return docs, results


def samples(results, name):
    """lm-eval's per-doc records of task `name`, in doc order."""
    return sorted(results["samples"][name], key=lambda s: s["doc_id"])


# --- the tests -----------------------------------------------------------------


@pytest.mark.parametrize("block_size", [1, 4, BLOCK_SIZE])
def test_rolling_windows_are_lm_evals(tokenizer, block_size):
    lm = evaluate.LM(small_gpt(tokenizer, block_size), tokenizer)
    for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100]:
        ids = [int(i) for i in np.random.default_rng(n).integers(300, size=n)]
        theirs = [
            lm_eval.utils.make_disjoint_window(w)
            for w in lm_eval.utils.get_rolling_token_windows(
                token_list=ids,
                prefix_token=lm.eot,
                max_seq_len=block_size,
                context_len=1,
            )
        ]
        mine = [(list(c), list(x)) for c, x in lm.rolling_windows(ids)]
        assert mine == [(list(c), list(x)) for c, x in theirs], (block_size, n)


def crosses(reference, context, continuation):
    """Whether a BPE merge spans the cut between context and continuation,
    once lm-eval has moved the context's final spaces: then the whole's
    ids do not start with the context's own."""
    stripped = context.rstrip()
    if not stripped:
        return False
    ids = reference.tok_encode(stripped)
    whole = reference.tok_encode(context + continuation)
    return whole[: len(ids)] != ids


def test_encode_pair_is_lm_evals(ours, reference):
    pairs = [
        (q, d + c) for q, cs in zip(QUERIES, CHOICES, strict=True) for c in cs for d in (" ", "")
    ]
    # The harness comparison below is exact only where no merge crosses.
    assert not any(crosses(reference, c, x) for c, x in pairs)
    pairs += [("trailing spaces   ", "x"), ("line\n", "next"), ("Tabs\t", "and")]
    pairs += [("café", " 🙂"), ("東京", "は"), ("a", "\n\nb"), ("½", " ½")]
    for context, continuation in pairs:
        assert not crosses(reference, context, continuation)
        assert ours.encode_pair(context, continuation) == reference._encode_pair(
            context, continuation
        ), (context, continuation)
    # An empty context: the continuation after <|endoftext|>, as lm-eval has it.
    assert ours.encode_pair("", " café") == (
        [reference.eot_token_id],
        reference.tok_encode(" café"),
    )


def test_encode_pair_departs_from_lm_eval_only_across_a_merge(ours, reference):
    """Where a merge spans the cut, lm-eval keeps encode(context) and the
    whole's ids after its length: a sequence that is neither the whole's
    tokens nor the two parts' (and can be empty, which HFLM's scoring
    asserts against).  Ours encodes the two apart, as evaluate.py says."""
    words = ["the ca", "th", "Complete: the café on the corner sel", "The quick bro"]
    ends = ["ls", "e", "e quick", "wn", "fé", "ick"]
    found = [(w, e) for w in words for e in ends if crosses(reference, w, e)]
    assert found, "no merge crosses the cut: choose other words"
    for context, continuation in found:
        theirs = reference._encode_pair(context, continuation)
        assert theirs[0] == reference.tok_encode(context)
        assert ours.encode_pair(context, continuation) == (
            reference.tok_encode(context),
            reference.tok_encode(continuation),
        )
        assert theirs[1] != reference.tok_encode(continuation)


def test_a_score_does_not_depend_on_the_other_requests(ours, reference):
    """lm-eval cuts each request on the left to block_size + 1 tokens on its
    own; scoring the choices of one question together must not cut the
    context to fit a longer sibling."""
    query, short, long = "El niño juega con el", " sol", " perro que ladra toda la noche"
    context, continuation = ours.encode_pair(query, short)
    assert len(context) + len(continuation) <= BLOCK_SIZE + 1
    longer = ours.encode_pair(query, long)[1]
    assert len(longer) <= BLOCK_SIZE < len(context) + len(longer) - 1
    alone = ours.loglikelihood([(query, short)])[0][0]
    together = ours.loglikelihood([(query, short), (query, long)])[0][0]
    expected = reference.score(context, continuation)[0]
    assert alone == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert together == pytest.approx(expected, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize(
    ("name", "delimiter"), [("scratch_mc_space", " "), ("scratch_mc_none", "")]
)
def test_multiple_choice_is_lm_evals(tasks, ours, wrapper, name, delimiter):
    docs, results = tasks
    model, results = results[wrapper]
    docs = docs[name]
    items = evaluate.multiple_choice_items(ours, docs, delimiter=delimiter)
    groups = [d["group"] for d in docs]
    asked = [(d["query"], delimiter + c) for d in docs for c in d["choices"]]
    # The docs tell acc from acc_norm, neither is all right or all wrong,
    # and some question and choice together do not fit in the block.
    assert (items["acc"] != items["acc_norm"]).any()
    assert 0 < items["acc"].mean() < 1 and 0 < items["acc_norm"].mean() < 1
    assert any(sum(map(len, ours.encode_pair(*r))) > BLOCK_SIZE + 1 for r in asked)

    got = results["results"][name]
    per_doc = samples(results, name)
    assert len(per_doc) == len(docs)
    for metric in ("acc", "acc_norm"):
        assert [s[metric] for s in per_doc] == items[metric].tolist(), metric
        score = evaluate.mean_score(items[metric], groups)
        assert score.n == len(docs)
        assert got[f"{metric},none"] == pytest.approx(score.value, abs=1e-6)
        assert got[f"{metric}_stderr,none"] == pytest.approx(score.stderr, abs=1e-6)
    # Each choice's log-likelihood and greedy flag, as lm-eval recorded them.
    mine = ours.loglikelihood(asked)
    theirs = [r[0] for s in per_doc for r in s["resps"]]
    assert [float(ll) for ll, _ in theirs] == pytest.approx(
        [ll for ll, _ in mine], rel=1e-6, abs=1e-6
    )
    assert [bool(g) for _, g in theirs] == [g for _, g in mine]
    if wrapper == "delegating":
        # lm-eval asked exactly what multiple_choice_items asks.
        assert sorted(model.requests[name]) == sorted(asked)


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_bits_per_byte_is_lm_evals(tasks, ours, wrapper):
    docs, results = tasks
    name = "scratch_rolling"
    docs = docs[name]
    _, results = results[wrapper]
    items = evaluate.bits_per_byte_items(ours, docs)
    # Most texts are not ASCII, and most span several windows.
    assert (items["bytes"] > [len(d["text"]) for d in docs]).sum() >= 6
    windows = [len(ours.rolling_windows(ours.encode(d["text"]))) for d in docs]
    assert sum(w > 1 for w in windows) >= 6 and max(windows) >= 4

    per_doc = samples(results, name)
    theirs = [s["bits_per_byte"] for s in per_doc]
    assert [b for _, b in theirs] == items["bytes"].tolist()
    assert [ll for ll, _ in theirs] == pytest.approx(
        items["loglikelihood"].tolist(), rel=1e-6, abs=1e-6
    )
    got = results["results"][name]["bits_per_byte,none"]
    assert got == pytest.approx(evaluate.bits_per_byte(items), abs=1e-6)
