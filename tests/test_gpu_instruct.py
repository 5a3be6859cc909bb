"""scripts/gpu_instruct.py, end to end on the CPU with --smoke: a few
generated-looking examples, random pretraining tokens, and the JSON file
the instruction-tuning chapter reads (provenance, the examples' digest,
the pretraining record, every run's history and answers)."""

import numpy as np
import pytest
from gpu_smoke import run_smoke

from scratchllm import instruct
from scratchllm.data import instructions
from scratchllm.data.instructions import Example
from scratchllm.dataset import write_tokens
from scratchllm.tokenizer import BPETokenizer

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_examples():
    names = ["dumps", "loads", "put", "get", "pop", "push"]
    return {
        split: [
            Example(
                kind="summary",
                group=f"{split}{i % 3}",
                name=f"m.{names[i % 6]}",
                instruction=f"What does `m.{names[i % 6]}` do?",
                response=f"Return the {names[(i + 1) % 6]}.",
            )
            for i in range(n)
        ]
        for split, n in (("train", 60), ("val", 6), ("test", 6))
    }


def test_gpu_instruct_smoke_run(tmp_path):
    splits = tiny_examples()
    examples = tmp_path / "instructions.jsonl"
    instructions.save_examples(examples, splits)
    text = "\n".join(ex.instruction + ex.response for exs in splits.values() for ex in exs)
    tokenizer = BPETokenizer().train(text, 300)
    tokenizer.save(tmp_path / "tokenizer.model")
    rng = np.random.default_rng(0)
    for split, n in (("train", 6000), ("val", 1500), ("test", 800)):
        write_tokens(tmp_path / f"{split}.bin", rng.integers(0, 256, n), tokenizer.vocab_size)
    out = tmp_path / "out" / "gpu_instruct.json"
    args = ["--tokens", str(tmp_path), "--tokenizer", str(tmp_path / "tokenizer.model")]
    args += ["--examples", str(examples)]
    data = run_smoke("gpu_instruct.py", args, out)

    prov = data["provenance"]
    assert "--smoke" in prov["command"] and prov["smoke"] is True
    smoke = {s: exs[:: max(1, len(exs) // 30)] for s, exs in splits.items()}
    assert data["examples"]["digest"] == instructions.digest(smoke)
    assert data["examples"]["counts"] == instructions.counts(smoke)
    assert set(data["runs"]) == {"pretrained", *instruct.RUNS}
    for name, run in data["runs"].items():
        assert len(run["answers"]) == len(smoke["test"])
        assert all(isinstance(a, str) for a in run["answers"])
        if name != "pretrained":
            assert run["history"]["loss"] and len(run["history"]["val_loss"]) == 1
            assert run["trainable"] > 0 and run["history"]["optimizer_bytes"] > 0
    assert data["runs"]["LoRA r=4"]["trainable"] < data["runs"]["LoRA r=16"]["trainable"]
    assert data["runs"]["LoRA r=16"]["trainable"] < data["runs"]["full"]["trainable"]
