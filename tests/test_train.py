"""The trainer of scratchllm.train: the schedule, the parameter groups, that a
tiny model learns, and that runs are deterministic and resume exactly."""

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from scratchllm.config import GPTConfig
from scratchllm.dataset import write_tokens
from scratchllm.train import (
    Progress,
    TrainConfig,
    Trainer,
    configure_optimizer,
    cosine_lr,
    estimate_loss,
    load_model,
    make_model,
)

ROOT = Path(__file__).resolve().parent.parent
V = 64
TINY = dict(block_size=32, vocab_size=V, n_layer=2, n_head=2, n_embd=32)
MODERN = dict(norm="rmsnorm", mlp="swiglu", position="rope", bias=False, tie_embeddings=False)


pytestmark = pytest.mark.usefixtures("one_thread")


def random_tokens(n, seed):
    return np.random.default_rng(seed).integers(0, V, n)


@pytest.fixture
def tokens_dir(tmp_path):
    write_tokens(tmp_path / "train.bin", random_tokens(4000, 0), V)
    write_tokens(tmp_path / "val.bin", random_tokens(1000, 1), V)
    return tmp_path


def tiny_config(device, **overrides):
    fields = dict(
        batch_size=4,
        block_size=32,
        max_steps=12,
        warmup_steps=2,
        max_lr=3e-3,
        min_lr=3e-4,
        eval_interval=4,
        eval_batches=2,
        log_interval=1,
        seed=0,
        device=str(device),
    )
    return TrainConfig(**{**fields, **overrides})


def tiny_trainer(device, tokens_dir, model_seed=0, model_fields=None, **overrides):
    model = make_model(GPTConfig(**{**TINY, **(model_fields or {})}), model_seed)
    return Trainer(
        model, tokens_dir / "train.bin", tokens_dir / "val.bin", tiny_config(device, **overrides)
    )


def losses(history):
    return [(r["step"], r["train_loss"], r["val_loss"]) for r in history]


# --- the schedule and the optimizer ------------------------------------------


def test_cosine_lr_shape():
    kw = dict(max_lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110)
    lrs = [cosine_lr(s, **kw) for s in range(121)]
    warmup = np.diff(lrs[:11])
    assert lrs[0] > 0 and np.allclose(warmup, warmup[0])  # linear, from above 0
    assert max(lrs) == lrs[10] == 1.0  # the peak ends the warmup
    assert all(np.diff(lrs[10:111]) < 0)  # then falls, all the way
    assert lrs[60] == pytest.approx(0.55)  # halfway down the cosine
    assert lrs[110] == pytest.approx(0.1) and lrs[120] == 0.1  # min_lr at the end


@pytest.mark.parametrize("fields", [{}, MODERN], ids=["gpt2", "modern"])
def test_parameter_groups(device, fields):
    model = make_model(GPTConfig(**{**TINY, **fields}), 0).to(device)
    opt = configure_optimizer(model, 0.1, 1e-3, (0.9, 0.95), device.type)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    kept = {names[id(p)] for p in no_decay["params"]}
    assert decayed.isdisjoint(kept) and decayed | kept == set(names.values())
    assert all(".ln_" in n or n.endswith("bias") for n in kept)
    assert "transformer.wte.weight" in decayed
    assert all(p.dim() >= 2 for p in decay["params"])  # matmuls and embeddings
    assert opt.defaults["fused"] == (device.type == "cuda" or None)


# --- learning ---------------------------------------------------------------


def test_overfits_one_batch(device, tmp_path):
    # block_size + 1 tokens hold exactly one window: every batch is the same.
    write_tokens(tmp_path / "train.bin", random_tokens(33, 2), V)
    write_tokens(tmp_path / "val.bin", random_tokens(33, 2), V)
    trainer = tiny_trainer(
        device,
        tmp_path,
        max_steps=100,
        warmup_steps=10,
        max_lr=1e-2,
        min_lr=1e-3,
        weight_decay=0.0,
        eval_interval=100,
    )
    history = trainer.run()
    assert history[0]["train_loss"] > 3.5  # about ln 64 = 4.16 at first
    assert history[-1]["train_loss"] < 0.05 and history[-1]["val_loss"] < 0.05


def test_history_records(device, tokens_dir):
    history = tiny_trainer(device, tokens_dir, log_interval=3).run()
    assert [r["step"] for r in history] == [3, 4, 6, 8, 9, 12]
    assert [r["val_loss"] is not None for r in history] == [False, True, False, True, False, True]
    for r in history:
        assert set(r) == {
            "step",
            "train_loss",
            "val_loss",
            "lr",
            "grad_norm",
            "tokens_per_s",
            "elapsed",
        }
        assert r["tokens_per_s"] > 0 and math.isfinite(r["train_loss"])
    assert history[-1]["lr"] == cosine_lr(11, 3e-3, 3e-4, 2, 12)


def test_block_size_longer_than_the_models_is_an_error(device, tokens_dir):
    with pytest.raises(ValueError, match="block_size"):
        tiny_trainer(device, tokens_dir, block_size=64)


def test_bfloat16_autocast_trains(device, tmp_path):
    # One window of random tokens, seen at every step: a loss that can fall.
    write_tokens(tmp_path / "train.bin", random_tokens(33, 2), V)
    write_tokens(tmp_path / "val.bin", random_tokens(33, 2), V)
    trainer = tiny_trainer(
        device, tmp_path, dtype="bfloat16", max_steps=30, max_lr=1e-2, weight_decay=0.0
    )
    dtypes = []
    trainer.raw_model.lm_head.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    history = trainer.run()
    assert dtypes and set(dtypes) == {torch.bfloat16}, "the matmuls run in bfloat16"
    assert all(math.isfinite(r["train_loss"]) for r in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 1.0, "and the loss falls"


# --- determinism, accumulation, evaluation -------------------------------------


def test_same_seed_same_run(device, tokens_dir):
    fields = dict(dropout=0.1)  # dropout's draws must be seeded too
    a = tiny_trainer(device, tokens_dir, model_fields=fields)
    b = tiny_trainer(device, tokens_dir, model_fields=fields)
    ha, hb = a.run(), b.run()
    if device.type == "cpu":
        assert losses(ha) == losses(hb)
        for (name, p), q in zip(
            a.raw_model.state_dict().items(), b.raw_model.state_dict().values(), strict=True
        ):
            assert torch.equal(p, q), name
    else:
        np.testing.assert_allclose(
            [r["train_loss"] for r in ha], [r["train_loss"] for r in hb], rtol=1e-5
        )
    c = tiny_trainer(device, tokens_dir, model_fields=fields, seed=1).run()
    assert [r["train_loss"] for r in c] != [r["train_loss"] for r in ha]


def test_resume_is_exact(device, tokens_dir, tmp_path):
    fields = dict(dropout=0.1)  # so that the global generator's state matters
    ckpt = tmp_path / "ckpt.pt"
    straight = tiny_trainer(device, tokens_dir, model_fields=fields)
    expected = straight.run()

    first = tiny_trainer(device, tokens_dir, model_fields=fields, checkpoint_path=str(ckpt))
    first.run(until=5)
    assert first.step == 5 and ckpt.exists()
    assert not list(tmp_path.glob(".ckpt.pt.*"))  # no temporary file left behind
    del first
    torch.manual_seed(123)  # disturb the global generator: the checkpoint must restore it
    # Other initial weights: the checkpoint must overwrite them.
    second = tiny_trainer(device, tokens_dir, model_seed=7, model_fields=fields)
    second.load_checkpoint(ckpt)
    assert second.step == 5
    resumed = second.run()
    if device.type == "cpu":
        assert losses(resumed) == losses(expected)  # bit for bit
        final, resumed_final = straight.raw_model.state_dict(), second.raw_model.state_dict()
        assert all(torch.equal(final[k], resumed_final[k]) for k in final)
    else:
        np.testing.assert_allclose(
            [r["train_loss"] for r in resumed], [r["train_loss"] for r in expected], rtol=1e-4
        )


def test_gradient_accumulation_matches_a_large_batch(device, tokens_dir):
    # Equal models, without dropout: 2 micro-batches of 4 and one batch of 8.
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, V, (8, 32), generator=g).to(device)
    y = torch.randint(0, V, (8, 32), generator=g).to(device)
    big = tiny_trainer(device, tokens_dir, batch_size=8)
    small = tiny_trainer(device, tokens_dir, batch_size=4, grad_accum_steps=2)
    big.batches = iter([(x, y)])
    small.batches = iter([(x[:4], y[:4]), (x[4:], y[4:])])
    loss_big, loss_small = big.accumulate_gradients(), small.accumulate_gradients()
    assert abs(loss_big.item() - loss_small.item()) < 1e-6
    for (name, p), q in zip(
        big.raw_model.named_parameters(), small.raw_model.parameters(), strict=True
    ):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=1e-5, msg=name)
    assert small.config.tokens_per_step == big.config.tokens_per_step == 256


def test_evaluation_is_deterministic(device, tokens_dir):
    trainer = tiny_trainer(device, tokens_dir)
    state = trainer.generator.get_state()
    first = trainer.estimate_loss()
    assert trainer.estimate_loss() == first
    # It leaves the training batches' generator and the model's mode alone.
    assert torch.equal(trainer.generator.get_state(), state)
    assert trainer.raw_model.training
    assert estimate_loss(trainer.model, trainer.val_batches()) == first
    assert abs(first - math.log(V)) < 0.3  # an untrained model guesses uniformly


def test_progress_line_only_on_a_terminal():
    record = dict(step=5, train_loss=3.25, val_loss=3.5, tokens_per_s=1234.0)
    quiet = io.StringIO()
    Progress(10, stream=quiet).update(record)
    assert quiet.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    progress = Progress(10, stream=term)
    progress.update(record)
    progress.close()
    line = term.getvalue()
    assert line.startswith("\r[##########..........] 5/10") and line.endswith("\n")
    assert "loss 3.2500" in line and "val 3.5000" in line and "1,234 tok/s" in line


# --- the command line ---------------------------------------------------------


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "scratchllm.train", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_line(device, tokens_dir, tmp_path):
    out = tmp_path / "run"
    args = [
        "--tokens",
        str(tokens_dir),
        "--out",
        str(out),
        "--device",
        str(device),
        "--n-layer",
        "2",
        "--n-head",
        "2",
        "--n-embd",
        "32",
        "--block-size",
        "32",
        "--batch-size",
        "4",
        "--warmup-steps",
        "1",
        "--eval-interval",
        "2",
        "--eval-batches",
        "2",
        "--log-interval",
        "1",
        "--position",
        "rope",
        "--no-bias",
    ]
    proc = run_cli(*args, "--max-steps", "3")
    assert proc.returncode == 0, proc.stderr
    assert "step 3: train loss" in proc.stdout
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history] == [1, 2, 3]

    model = load_model(out / "ckpt.pt")
    assert model.config.vocab_size == V and model.config.position == "rope"
    assert not model.config.bias and model.config.block_size == 32

    proc = run_cli(*args, "--max-steps", "4", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "resuming from step 3" in proc.stderr
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history] == [1, 2, 3, 4]
