"""Training on several processes (scratchllm.distributed, DistributedTrainer),
on the CPU: two gloo ranks started by torchrun, against one process.

One torchrun launch runs every two-rank case (this file is its script:
`worker` below) and writes what it computed to a folder; the tests compare
that with what a single process computes:

- the gradient of one step, DDP and FSDP2, with one micro-batch and with
  two, with and without masked targets, equals the gradient of the whole
  global batch in one forward pass;
- with two micro-batches DDP exchanges the gradients once, not twice;
- a checkpoint of a two-rank run resumes on one process (and one of a
  single process on two FSDP2 ranks) and continues the single-process
  loss curve;
- python -m scratchllm.train under torchrun trains as one process does.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from scratchllm.config import GPTConfig
from scratchllm.dataset import random_batches, write_tokens
from scratchllm.train import TrainConfig, Trainer, make_model

ROOT = Path(__file__).resolve().parent.parent
V = 64
TINY = dict(block_size=16, vocab_size=V, n_layer=1, n_head=2, n_embd=16)
RANKS = 2
BATCH = 2  # rows per rank and micro-batch
STEPS, SPLIT = 6, 3  # the resumed runs stop after SPLIT, then go on to STEPS
# (parallel, micro-batches per step, masked targets)
GRADIENT_CASES = [
    ("ddp", 1, False),
    ("ddp", 2, True),
    ("fsdp", 1, False),
    ("fsdp", 2, True),
]

pytestmark = pytest.mark.usefixtures("one_thread")


def config(batch_size, grad_accum_steps=1, **overrides):
    fields = dict(
        batch_size=batch_size,
        block_size=16,
        grad_accum_steps=grad_accum_steps,
        max_steps=STEPS,
        warmup_steps=1,
        max_lr=3e-3,
        min_lr=3e-4,
        eval_interval=SPLIT,
        eval_batches=2,
        log_interval=1,
        seed=0,
    )
    return TrainConfig(**{**fields, **overrides})


def splits(folder):
    return folder / "train.bin", folder / "val.bin"


def masked(batches, seed=0):
    """The batches with the first k targets of each row set to -1 (k < the
    row's length, random): rows of unequal numbers of targets."""
    g = torch.Generator().manual_seed(seed)
    for x, y in batches:
        y = y.clone()
        for row, k in enumerate(torch.randint(y.shape[1], (len(y),), generator=g)):
            y[row, :k] = -1
        yield x, y


def case_name(parallel, accum, mask):
    return f"{parallel}-{accum}{'-masked' if mask else ''}"


def full_gradients(model):
    """Every parameter's gradient, whole (FSDP2 holds a shard per rank)."""
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad
        grads[name] = g.full_tensor() if hasattr(g, "full_tensor") else g
    return grads


# --- the two-rank side: run by torchrun, this file as its script -------------


def counting_allreduce(calls):
    """A DDP communication hook: DDP's own all-reduce, counted in `calls`."""
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    def hook(process_group, bucket):
        calls.append(bucket.index())
        return allreduce_hook(process_group, bucket)

    return hook


def worker(folder):
    from scratchllm.distributed import init_process_group, rank_rows
    from scratchllm.train import DistributedTrainer

    torch.set_num_threads(1)
    world, _ = init_process_group("cpu")
    train, val = splits(folder)

    def trainer(parallel, **fields):
        model = make_model(GPTConfig(**TINY), 0)
        cfg = config(BATCH, **fields)
        return DistributedTrainer(model, train, val, cfg, world, parallel)

    for parallel, accum, mask in GRADIENT_CASES:
        t = trainer(parallel, grad_accum_steps=accum)
        if mask:  # the same global batches as the trainer's, masked
            rows = BATCH * RANKS
            g = torch.Generator().manual_seed(0)
            t.batches = rank_rows(masked(random_batches(train, 16, rows, g)), world)
        exchanges = []  # the gradient buckets DDP all-reduces
        if parallel == "ddp":
            t.ddp.register_comm_hook(None, counting_allreduce(exchanges))
        loss = t.accumulate_gradients().item()
        grads = full_gradients(t.raw_model)  # collective under FSDP2
        name = case_name(parallel, accum, mask)
        result = dict(loss=loss, grads=grads, exchanges=len(exchanges))
        torch.save(result, folder / f"{name}-rank{world.rank}.pt")

    for parallel in ("ddp", "fsdp"):  # stop after SPLIT steps
        t = trainer(parallel, checkpoint_path=str(folder / f"{parallel}.pt"))
        t.run(until=SPLIT)
    # A single process's checkpoint (the test wrote it) on two FSDP2 ranks.
    t = trainer("fsdp")
    t.load_checkpoint(folder / "single.pt")
    history = t.run()
    if world.rank == 0:
        (folder / "fsdp-resumed.json").write_text(json.dumps(history))
    torch.distributed.destroy_process_group()


# --- the single-process side --------------------------------------------------


def single_trainer(folder, **fields):
    """One process with the two ranks' global batch in each micro-batch."""
    model = make_model(GPTConfig(**TINY), 0)
    return Trainer(model, *splits(folder), config(BATCH * RANKS, **fields))


def losses(history):
    return [(r["step"], r["train_loss"], r["val_loss"]) for r in history]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The folder where the two-rank runs wrote their results, and the
    uninterrupted single-process history they are compared with."""
    folder = tmp_path_factory.mktemp("distributed")
    rng = np.random.default_rng(0)
    write_tokens(folder / "train.bin", rng.integers(0, V, 3000), V)
    write_tokens(folder / "val.bin", rng.integers(0, V, 500), V)
    single = single_trainer(folder, checkpoint_path=str(folder / "single.pt"))
    single.run(until=SPLIT)
    whole = single_trainer(folder).run()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "code"))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc_per_node={RANKS}", __file__, str(folder)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, whole


def reference(folder, accum, mask):
    """The loss and gradients of one forward pass over the whole global
    batch of the first step (every micro-batch of every rank), in one
    process."""
    g = torch.Generator().manual_seed(0)
    batches = random_batches(splits(folder)[0], 16, BATCH * RANKS, g, num_batches=accum)
    batches = list(masked(batches) if mask else batches)
    x = torch.cat([x for x, _ in batches])
    y = torch.cat([y for _, y in batches])
    model = make_model(GPTConfig(**TINY), 0)
    _, loss = model(x, y)
    loss.backward()
    return loss.item(), full_gradients(model)


@pytest.mark.parametrize(
    "parallel, accum, mask",
    GRADIENT_CASES,
    ids=[case_name(*case) for case in GRADIENT_CASES],
)
def test_gradients_equal_the_global_batchs(runs, parallel, accum, mask):
    folder, _ = runs
    loss, grads = reference(folder, accum, mask)
    name = case_name(parallel, accum, mask)
    for rank in range(RANKS):  # every rank holds the global gradient
        got = torch.load(folder / f"{name}-rank{rank}.pt", weights_only=True)
        assert got["loss"] == pytest.approx(loss, abs=1e-6)
        assert got["grads"].keys() == grads.keys()
        for key, g in grads.items():
            torch.testing.assert_close(got["grads"][key], g, atol=1e-6, rtol=0)


def test_ddp_exchanges_the_gradients_once_per_step(runs):
    # With two micro-batches, as many buckets are all-reduced as with one:
    # no_sync keeps the first micro-batch's backward to itself.
    folder, _ = runs
    one, two = (
        torch.load(folder / f"{n}-rank0.pt", weights_only=True) for n in ("ddp-1", "ddp-2-masked")
    )
    assert one["exchanges"] > 0 and two["exchanges"] == one["exchanges"]


def test_masking_changes_the_gradient(runs):
    # So that the masked cases test the weighting: a plain mean of the
    # micro-batches' means would not give the masked global mean.
    folder, _ = runs
    plain = torch.load(folder / "ddp-1-rank0.pt", weights_only=True)
    loss, _ = reference(folder, 1, mask=True)
    assert abs(plain["loss"] - loss) > 1e-3


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_two_ranks_resume_on_one(runs, parallel):
    folder, whole = runs
    resumed = single_trainer(folder).load_checkpoint(folder / f"{parallel}.pt")
    assert resumed.step == SPLIT
    history = resumed.run()
    assert [r["step"] for r in history] == [r["step"] for r in whole]
    # The same curve, to rounding: the ranks sum the gradient in another order.
    for got, want in zip(losses(history), losses(whole), strict=True):
        assert got == pytest.approx(want, abs=1e-5)


def test_one_process_resumes_on_two_fsdp_ranks(runs):
    folder, whole = runs
    history = json.loads((folder / "fsdp-resumed.json").read_text())
    assert [r["step"] for r in history] == [r["step"] for r in whole]
    for got, want in zip(losses(history), losses(whole), strict=True):
        assert got == pytest.approx(want, abs=1e-5)


# --- the command line -----------------------------------------------------------


def test_help_documents_torchrun():
    from scratchllm.train import make_parser

    text = make_parser().format_help()
    assert "torchrun --standalone --nproc_per_node=" in text
    assert "--parallel {ddp,fsdp}" in text


def test_command_line_on_two_ranks_matches_one_process(runs, tmp_path):
    folder, _ = runs
    argv = ["-m", "scratchllm.train", "--tokens", str(folder), "--n-layer", "1"]
    argv += "--n-head 2 --n-embd 16 --block-size 16 --max-steps 4 --eval-interval 2".split()
    argv += "--eval-batches 2 --log-interval 1 --warmup-steps 1".split()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "code"))
    torchrun = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={RANKS}"]
    outs = {"one": [], "two": torchrun}
    for name, launcher in outs.items():
        rows = BATCH * RANKS if name == "one" else BATCH
        command = [sys.executable, *launcher, *argv, "--batch-size", str(rows)]
        command += ["--out", str(tmp_path / name)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
    assert f"world size {RANKS} (ddp): a global batch of {BATCH * RANKS} sequences" in done.stderr
    assert done.stdout.count("step 4:") == 1  # rank 0 alone reports
    one, two = (json.loads((tmp_path / n / "history.json").read_text()) for n in outs)
    assert [r["step"] for r in two] == [r["step"] for r in one]
    for got, want in zip(losses(two), losses(one), strict=True):
        assert got == pytest.approx(want, abs=1e-5)


if __name__ == "__main__":
    worker(Path(sys.argv[1]))
