"""scripts/gpu_evaluate.py, end to end on the CPU with --smoke: random
pretraining tokens, a few items of each task, two HumanEval problems, and
the JSON file the evaluation chapter reads (provenance, the tasks' digest,
per-item results of both networks, HumanEval's counts and kept samples)."""

import json

import numpy as np
import pytest
from gpu_smoke import run_smoke

from scratchllm.data import benchmarks, instructions
from scratchllm.data.instructions import Example
from scratchllm.dataset import write_tokens
from scratchllm.tokenizer import BPETokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

TASKS = {
    "docs": [{"text": "Return the value.\nA queue.", "group": "queue"}],
    "code": [{"text": "def f(x):\n    return x + 1\n", "group": "json"}],
    "doc_to_func": [
        {
            "query": "# Put an item.\ndef",
            "choices": ["put():", "get(block=True):"],
            "gold": 0,
            "group": "queue",
        }
    ],
    "api_cloze": [{"query": "q", "choices": [".put", ".get_nowait"], "gold": 1, "group": "queue"}],
}

QUESTIONS = [
    Example(
        kind="summary",
        group="queue",
        name=f"queue.{n}",
        instruction=f"What does `queue.{n}` do?",
        response=f"Return the {n}.",
    )
    for n in ("put", "get", "join", "task_done", "qsize")
]


def test_gpu_evaluate_smoke_run(tmp_path):
    benchmarks.save_tasks(tmp_path / "tasks", TASKS)
    text = "\n".join(json.dumps(d) for docs in TASKS.values() for d in docs)
    tokenizer = BPETokenizer().train(text * 20, 300)
    tokenizer.save(tmp_path / "tokenizer.model")
    rng = np.random.default_rng(0)
    for split, n in (("train", 6000), ("val", 1500), ("test", 800)):
        write_tokens(tmp_path / f"{split}.bin", rng.integers(0, 256, n), tokenizer.vocab_size)
    out = tmp_path / "out" / "gpu_evaluate.json"
    args = ["--tokens", str(tmp_path), "--tokenizer", str(tmp_path / "tokenizer.model")]
    examples = tmp_path / "instructions.jsonl"
    instructions.save_examples(examples, {"train": [], "val": [], "test": QUESTIONS})
    args += ["--tasks", str(tmp_path / "tasks"), "--examples", str(examples)]
    data = run_smoke("gpu_evaluate.py", args, out)

    prov = data["provenance"]
    assert prov["smoke"] is True
    assert data["tasks"]["digest"] == benchmarks.digest(TASKS)
    assert data["tasks"]["counts"] == {k: len(v) for k, v in TASKS.items()}
    assert data["examples"]["digest"] == instructions.digest({"test": QUESTIONS})
    assert set(data["models"]) == {"untrained", "pretrained"}
    for model in data["models"].values():
        assert set(model["tasks"]) == set(TASKS)
        assert len(model["tasks"]["docs"]["loglikelihood"]) == 1
        assert model["tasks"]["docs"]["loglikelihood"][0] < 0
        assert len(model["tasks"]["api_cloze"]["acc"]) == 1
        assert len(model["instructions"]["loglikelihood"]) == 4
    human = data["models"]["pretrained"]["humaneval"]
    assert human["samples"] == 2 and len(human["passed"]) == 2
    assert sum(human["verdicts"].values()) == 4
    assert [len(c["completions"]) for c in human["check"]] == [2, 2]


def test_tasks_digest_sees_a_changed_item(tmp_path):
    benchmarks.save_tasks(tmp_path, TASKS)
    assert benchmarks.digest(benchmarks.load_tasks(tmp_path)) == benchmarks.digest(TASKS)
    changed = {**TASKS, "docs": [{"text": "Return the value!", "group": "queue"}]}
    assert benchmarks.digest(changed) != benchmarks.digest(TASKS)
