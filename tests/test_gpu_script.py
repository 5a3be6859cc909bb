"""What scripts/gpu_pretrain.py is built from, tested on the CPU: the timing
harness, the nanoGPT-style reference step, the provenance writer, the
weighted loss and the samples; and the script itself, end to end, on a tiny
corpus with --smoke."""

import datetime
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from bench.nanogpt_ref import Reference, get_batch
from bench.results import interleaved
from scratchllm.config import GPTConfig
from scratchllm.dataset import sequential_batches, write_tokens
from scratchllm.generate import complete
from scratchllm.tokenizer import BPETokenizer
from scratchllm.train import TrainConfig, Trainer, estimate_loss, make_model
from scripts.provenance import Report, write_json

ROOT = Path(__file__).resolve().parent.parent
V = 64
TINY = dict(block_size=16, vocab_size=V, n_layer=2, n_head=2, n_embd=16)

pytestmark = pytest.mark.usefixtures("one_thread")


# --- the timing harness -------------------------------------------------------


def test_interleaved_warms_up_then_takes_turns_in_rotating_order():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    syncs = []
    times = interleaved(steps, warmup=2, repeats=3, sync=lambda: syncs.append(len(calls)))
    assert calls[:6] == list("abcabc")  # the warm-up, untimed
    assert calls[6:] == list("abcbcacab")  # who goes first rotates
    assert list(times) == list("abc")
    assert all(len(t) == 3 and min(t) >= 0 for t in times.values())
    # A sync before and after each timed call: the clock waits for the device.
    assert syncs == [n for k in range(6, 15) for n in (k, k + 1)]


def test_interleaved_times_what_each_function_costs():
    def busy(n):
        return lambda: sum(range(n))

    times = interleaved({"short": busy(1000), "long": busy(100_000)}, warmup=1, repeats=5)
    assert min(times["long"]) > max(times["short"])


# --- the reference step -------------------------------------------------------


def test_reference_step_is_the_trainers_step_over_the_same_batches():
    """Same weights, batches and config: nanoGPT's loop and Trainer.train_step
    take identical optimizer steps (the schedule, the decay groups and the
    clipping, which a gradient clip of 0.05 makes bite, are shared)."""
    config = TrainConfig(
        batch_size=4,
        block_size=16,
        max_steps=6,
        warmup_steps=2,
        max_lr=1e-2,
        min_lr=1e-3,
        grad_clip=0.05,
        seed=0,
    )
    tokens = np.random.default_rng(0).integers(0, V, 2000).astype(np.uint16)
    torch.manual_seed(0)
    batches = [get_batch(tokens, 16, 4)() for _ in range(5)]
    trainer = Trainer(make_model(GPTConfig(**TINY), 1), tokens, tokens, config)
    trainer.batches = iter(batches)
    ref = Reference(make_model(GPTConfig(**TINY), 1), iter(batches).__next__, config)
    for _ in range(5):
        trainer.train_step()
        ref.step()
    assert ref.iter_num == trainer.step == 5
    assert ref.optimizer.param_groups[0]["lr"] == trainer.optimizer.param_groups[0]["lr"]
    for (name, p), q in zip(
        trainer.raw_model.named_parameters(), ref.model.parameters(), strict=True
    ):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
    start = make_model(GPTConfig(**TINY), 1).lm_head.weight
    assert not torch.allclose(ref.model.lm_head.weight, start)  # the steps did move it


def test_get_batch_gives_windows_and_their_next_tokens():
    data = np.arange(100, dtype=np.uint16)
    torch.manual_seed(0)
    x, y = get_batch(data, 8, 3)()
    assert x.shape == y.shape == (3, 8) and x.dtype == torch.int64
    assert torch.equal(y, x + 1)  # arange: each target is the next token
    assert int(x.max()) < 99


# --- the provenance writer ----------------------------------------------------


def test_report_writes_whole_provenance(tmp_path):
    out = tmp_path / "runs" / "result.json"
    report = Report(out, "a test", torch.device("cpu"), seed=7, smoke=True)
    report.data["part"] = {"loss": 1.5}
    report.write()
    text = out.read_text()
    assert text.endswith("}\n")
    data = json.loads(text)
    prov = data["provenance"]
    assert data["what"] == "a test" and data["part"] == {"loss": 1.5}
    assert prov["seed"] == 7 and prov["smoke"] is True
    assert prov["torch"] == torch.__version__ and prov["numpy"] == np.__version__
    assert prov["cuda"] == torch.version.cuda
    assert prov["device"]["type"] == "cpu" and prov["device"]["name"]
    assert prov["command"].startswith("python3 ")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert prov["git_commit"] == head and isinstance(prov["git_dirty"], bool)
    date = datetime.datetime.fromisoformat(prov["date_utc"])
    now = datetime.datetime.now(datetime.UTC)
    assert abs((now - date).total_seconds()) < 600
    assert 0 <= prov["wall_time_s"] < 600
    assert os.stat(out).st_mode & 0o777 == 0o644
    assert os.listdir(out.parent) == ["result.json"]  # no temporary file left


def test_report_takes_a_given_commit(tmp_path):
    report = Report(tmp_path / "r.json", "x", torch.device("cpu"), 0, git_commit="abc123")
    assert report.data["provenance"]["git_commit"] == "abc123"
    assert report.data["provenance"]["git_dirty"] is None


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "r.json"
    write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json(path, {"a": object()})  # not JSON: fails mid-way
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["r.json"]


# --- the weighted loss and the samples ----------------------------------------


def test_weighted_estimate_loss_is_the_mean_over_every_target():
    model = make_model(GPTConfig(**TINY), 0).eval()
    tokens = np.random.default_rng(3).integers(0, V, 16 * 5 + 9)
    # Batches of 2, 2, 1 windows of 16, then a shorter row: unequal sizes.
    batches = list(sequential_batches(tokens, 16, 2))
    assert len({y.numel() for _, y in batches}) > 1
    with torch.no_grad():
        logits = torch.cat([model(x)[0].flatten(0, 1) for x, _ in batches])
    targets = torch.cat([y.flatten() for _, y in batches])
    expected = F.cross_entropy(logits, targets).item()
    assert estimate_loss(model, batches, weighted=True) == pytest.approx(expected, rel=1e-6)
    assert estimate_loss(model, batches) != pytest.approx(expected, rel=1e-6)


@pytest.fixture(scope="module")
def tokenizer():
    text = "The os module provides a portable way of using operating system " * 20
    return BPETokenizer().train(text, 300)


def test_complete_new_only_is_the_continuation(tokenizer):
    model = make_model(GPTConfig(**{**TINY, "vocab_size": tokenizer.vocab_size}), 0)
    prompt = "The os module"
    whole = complete(model, tokenizer, prompt, 12, seed=5)
    new = complete(model, tokenizer, prompt, 12, seed=5, new_only=True)
    assert whole == prompt + new and new


# --- the script, end to end ---------------------------------------------------


def test_gpu_pretrain_smoke_run(tmp_path, tokenizer):
    tokenizer_path = tmp_path / "tokenizer.model"
    tokenizer.save(tokenizer_path)
    rng = np.random.default_rng(0)
    for split, n in (("train", 6000), ("val", 1500), ("test", 800)):
        write_tokens(tmp_path / f"{split}.bin", rng.integers(0, 256, n), tokenizer.vocab_size)
    out = tmp_path / "out" / "gpu.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "gpu_pretrain.py"),
        "--tokens",
        str(tmp_path),
        "--tokenizer",
        str(tokenizer_path),
        "--out",
        str(out),
        "--smoke",
        "--device",
        "cpu",
        "--no-compile",
        "--prompts",
        "<|endoftext|>",
        "The os",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    # What book/pretraining.md and bench/bench_train.py read.
    prov = data["provenance"]
    assert {"command", "device", "date_utc", "wall_time_s", "torch", "cuda", "python"} <= set(prov)
    assert "--smoke" in prov["command"] and prov["seed"] == 1337
    tp = data["throughput"]
    assert set(tp["results"]) == {"ours", "reference"}
    assert all(r["tokens_per_s"] > 0 and r["mfu"] is None for r in tp["results"].values())
    runs = data["pretraining"]["runs"]
    assert [r["name"] for r in runs] == ["2L-2H-32d", "2L-2H-48d"]
    for r in runs:
        assert r["steps_run"] == 40 and r["train_config"]["batch_size"] == 4
        assert r["model"]["dropout"] == 0.1 and r["model"]["vocab_size"] == tokenizer.vocab_size
        assert [p["step"] for p in r["curve"]] == [10, 20, 30, 40]
        ev = r["full_eval"]["val"]
        assert math.isclose(ev["perplexity"], math.exp(ev["loss"]), rel_tol=1e-3)
    final = data["final"]
    best = min(runs, key=lambda r: r["full_eval"]["val"]["loss"])
    assert final["model"] == best["name"] == data["samples"]["model"]
    texts = data["samples"]["texts"]
    assert [(s["prompt"], s["seed"]) for s in texts] == [("<|endoftext|>", 1337), ("The os", 1338)]
    assert all(isinstance(s["text"], str) for s in texts)


def test_gpu_pretrain_flags_come_from_the_configs():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_pretrain.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for flag in ("--grad-clip", "--weight-decay", "--position", "--dropout", "--no-compile"):
        assert flag in proc.stdout
    for flag in ("--max-lr", "--checkpoint-path", "--n-layer", "--vocab-size"):
        assert flag not in proc.stdout


# --- scripts/gpu_scaling.py ---------------------------------------------------


def gpu_scaling(tmp_path, *args):
    """scripts/gpu_scaling.py --smoke on random tokens; returns (the process, its JSON)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 6000), ("val", 1500)):
        write_tokens(tmp_path / f"{split}.bin", rng.integers(0, V, n), V)
    out = tmp_path / "out" / "scaling.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    script = str(ROOT / "scripts" / "gpu_scaling.py")
    cmd = [sys.executable, script, "--tokens", str(tmp_path), "--out", str(out), "--smoke"]
    cmd += ["--device", "cpu", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(out.read_text())


def test_gpu_scaling_smoke_run(tmp_path):
    proc, data = gpu_scaling(tmp_path)
    prov = data["provenance"]
    assert {"command", "device", "date_utc", "wall_time_s", "torch", "cuda", "python"} <= set(prov)
    assert "--smoke" in prov["command"] and prov["smoke"] is True and prov["seed"] == 0
    plan = data["plan"]
    assert plan["model_config"]["vocab_size"] == V and plan["train_config"]["dtype"] == "float32"
    assert plan["seeds"] == [0, 1] and len(plan["budgets"]) == 2
    runs, repeated = data["runs"], data["repetition"]
    # Both shapes in the larger budget; the larger shape too big for the smaller one.
    assert [(r["seed"], r["name"]) for r in runs] == [
        (seed, name) for seed in (0, 1) for name in ("1L-1H-32d", "1L-1H-32d", "1L-2H-64d")
    ]
    assert [r["steps"] for r in runs[:2]] == [60, 240]
    for r in runs:
        assert abs(r["flops"] / r["budget"] - 1) < 0.01 and r["budget"] in plan["budgets"]
        assert math.isfinite(r["val_loss"]) and r["params"] > r["params_non_embedding"]
    assert [(r["seed"], round(r["epochs"])) for r in repeated] == [
        (0, 1),
        (0, 2),
        (1, 1),
        (1, 2),
    ]
    assert data["stopped"] == "all runs done"
    assert proc.stdout.count("val ") == len(runs) + len(repeated) == 10


def test_gpu_scaling_starts_no_run_after_the_deadline(tmp_path):
    proc, data = gpu_scaling(tmp_path, "--deadline", "0")
    assert data["runs"] == data["repetition"] == [] and data["stopped"] == "deadline"
    assert len(data["plan"]["isoflop"]) == 3 and "0 of 10 runs" in proc.stdout


def test_gpu_scaling_in_processes_writes_one_file_of_every_seed(tmp_path):
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    _, alone = gpu_scaling(tmp_path / "one")
    _, split = gpu_scaling(tmp_path / "two", "--processes", "2")
    assert len(split["parts"]) == 2 and split["provenance"]["processes"] == 2
    assert [p["command"].count("--seeds") for p in split["parts"]] == [1, 1]
    # The whole file's wall time covers its parts'.
    assert split["provenance"]["wall_time_s"] >= max(p["wall_time_s"] for p in split["parts"])
    for key in ("runs", "repetition"):
        # Same runs, same losses: a process per seed changes nothing of a run.
        assert [(r["seed"], r["name"], r["val_loss"]) for r in split[key]] == [
            (r["seed"], r["name"], r["val_loss"]) for r in alone[key]
        ]
    assert split["plan"]["seeds"] == [0, 1] and split["stopped"] == "all runs done"
    assert not list((tmp_path / "two" / "out").glob("*.part*"))
