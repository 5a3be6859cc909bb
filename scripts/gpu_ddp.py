"""Data-parallel training speed on one or more GPUs: scratchllm.train's
DistributedTrainer at GPT-2 small's shape, with DDP and with FSDP2.

    cp book/data/gpu_ddp.json OUT/  # to add rows to the book's file
    torchrun --standalone --nproc_per_node=N scripts/gpu_ddp.py \
        --tokens build/artifacts/tokens --out OUT/gpu_ddp.json

For each --parallel mode (default: ddp, then fsdp), in one process group:
a model built from the seed (GPT-2 small, vocabulary 50304 as in nanoGPT's
benchmarks, no dropout), a DistributedTrainer with --batch-size rows per
GPU, bfloat16 autocast and torch.compile, and --max-steps steps of training
on the tokens (DIR/train.bin; random tokens without --tokens).  The first
--bench-warmup steps (compilation) and the last (it evaluates) are not
timed; every other step is timed between device syncs, and the slowest
rank's time counts.  Tokens/s is the global batch's tokens over the median
step; MFU is flops_per_token * tokens/s over the peak of all the GPUs.  The
loss of every step and the validation loss at the end are the run's
losses: a run on other numbers of GPUs with the same global batch trains on
the same windows from the same weights, and must match them.

Rank 0 writes one row per world size, mode, per-GPU batch and gradient
accumulation, with the provenance of the run that measured it: rows of
earlier runs in --out are kept unless this run measures their key again.
--smoke shrinks everything to run on a CPU (gloo) in seconds, to test it.
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from provenance import Report, command

# The GPU machine runs this file from a bare copy of the repository, with
# scratchllm not installed: the library comes from the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "code")]

from gpu_pretrain import (  # noqa: E402
    GPT2_SMALL,
    SMOKE_SHAPE,
    VOCAB_NOTE,
    dtype_for,
    matmul_rate,
    model_record,
    peak_flops,
)

from scratchllm.config import GPTConfig  # noqa: E402
from scratchllm.dataset import open_tokens  # noqa: E402
from scratchllm.distributed import PARALLEL, init_process_group, launched  # noqa: E402
from scratchllm.train import (  # noqa: E402
    DistributedTrainer,
    TrainConfig,
    add_fields,
    field_values,
    make_model,
    token_vocab_size,
)

WHAT = "scripts/gpu_ddp.py: DistributedTrainer's tokens/s and MFU with DDP and FSDP2"
# A row per run of a mode; a later run replaces only the rows of its keys.
KEY = ("world_size", "parallel", "batch_size", "grad_accum_steps")
# TrainConfig fields this script sets itself: the dtype from the device,
# a history record every step, one evaluation at the end.
TRAIN_SKIP = ("dtype", "eval_interval", "log_interval", "checkpoint_path", "checkpoint_interval")
METHOD = (
    "steps after the first bench_warmup (compilation) and before the last (which evaluates), "
    "each timed between device syncs on every rank, the slowest rank's time counting; "
    "tokens/s: global batch tokens over the median step; MFU: flops_per_token * tokens/s "
    "over world_size * peak bf16 FLOP/s"
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="the JSON file to write (rows merged)")
    p.add_argument("--tokens", help="dir with train.bin, val.bin (default: random tokens)")
    p.add_argument("--parallel", nargs="+", choices=PARALLEL, default=list(PARALLEL))
    p.add_argument("--smoke", action="store_true", help="a tiny model, to test on a CPU")
    p.add_argument("--bench-warmup", type=int, default=20, help="untimed first steps")
    p.add_argument("--peak-flops", type=float, default=None)
    p.add_argument("--git-commit", default=None, help="for a copy without git history")
    add_fields(p, TrainConfig, skip=TRAIN_SKIP)
    p.set_defaults(device="cuda", compile=True, batch_size=16, block_size=1024)
    p.set_defaults(max_steps=400, warmup_steps=40, eval_batches=10)
    args = p.parse_args(argv)
    if args.smoke:
        args.batch_size, args.block_size, args.max_steps = 2, 32, 6
        args.warmup_steps, args.eval_batches, args.bench_warmup = 2, 2, 2
    if args.max_steps < args.bench_warmup + 2:
        p.error("--max-steps must leave at least one timed step after --bench-warmup")
    return args


def token_splits(args, vocab_size):
    """Train and validation tokens: the given files, or uniform random ones."""
    if args.tokens:
        tokens = Path(args.tokens)
        vocab = token_vocab_size(tokens / "train.bin")
        if vocab > vocab_size:
            raise ValueError(f"{tokens}: vocabulary {vocab} exceeds the model's {vocab_size}")
        splits = {s: open_tokens(tokens / f"{s}.bin") for s in ("train", "val")}
        return splits, dict(source=str(tokens), vocab_size=vocab)
    rng = np.random.default_rng(args.seed)
    n = 20_000 if args.smoke else 4_000_000
    splits = {s: rng.integers(0, vocab_size, size=n, dtype=np.uint16) for s in ("train", "val")}
    return splits, dict(source=f"uniform random, seed {args.seed}", vocab_size=vocab_size)


def step_seconds(trainer, device):
    """Train to max_steps; returns each step's seconds on the slowest rank
    (a step ends for all when the last rank's gradients are in)."""
    on_gpu = device.type == "cuda"

    def stamp(record=None):
        if on_gpu:
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())

    stamps = []
    stamp()
    trainer.run(callback=stamp)
    seconds = torch.tensor(np.diff(stamps), dtype=torch.float64, device=device)
    dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
    return seconds.tolist()


def rounded(x, digits=4):
    return None if x is None else round(x, digits)


def measure(args, parallel, world, model_config, data, peak):
    """Train one mode for --max-steps steps, timing each; returns its row
    and the model's FLOPs per token."""
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    torch._dynamo.reset()  # each mode compiles afresh
    if on_gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    run = dict(dtype=dtype_for(device), eval_interval=args.max_steps, log_interval=1)
    config = TrainConfig(**field_values(args, TrainConfig, TRAIN_SKIP), **run)
    model = make_model(model_config, config.seed)
    flops_per_token = model.flops_per_token(config.block_size)
    splits, tokens = data
    trainer = DistributedTrainer(model, splits["train"], splits["val"], config, world, parallel)
    seconds = step_seconds(trainer, device)
    ms = [1000 * s for s in seconds[args.bench_warmup : -1]]
    tokens_per_s = trainer.tokens_per_step / (statistics.median(ms) / 1000)
    mfu = flops_per_token * tokens_per_s / (peak * world.size) if peak else None
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if on_gpu else None
    row = dict(
        world_size=world.size,
        parallel=parallel,
        batch_size=config.batch_size,
        grad_accum_steps=config.grad_accum_steps,
        global_batch=config.batch_size * config.grad_accum_steps * world.size,
        tokens_per_step=trainer.tokens_per_step,
        block_size=config.block_size,
        dtype=config.dtype,
        compile=config.compile,
        steps=config.max_steps,
        timed_steps=len(ms),
        ms_per_step=round(statistics.median(ms), 2),
        ms_per_step_quartiles=[round(q, 2) for q in np.percentile(ms, [25, 75])],
        tokens_per_s=round(tokens_per_s),
        tokens_per_s_per_gpu=round(tokens_per_s / world.size),
        mfu=rounded(mfu),
        warmup_s=round(sum(seconds[: args.bench_warmup]), 1),
        peak_memory_gib=rounded(memory, 2),
        max_lr=config.max_lr,
        warmup_steps=config.warmup_steps,
        seed=config.seed,
        tokens=tokens,
        peak_flops=peak,
        train_loss=[round(r["train_loss"], 4) for r in trainer.history],
        val_loss_final=rounded(trainer.history[-1]["val_loss"]),
    )
    return row, flops_per_token


def key(row):
    return tuple(row[k] for k in KEY)


def merged(old_rows, new_rows):
    """The earlier rows, less those whose key this run measured again, and
    this run's, ordered by key."""
    new = {key(r) for r in new_rows}
    return sorted([r for r in old_rows if key(r) not in new] + new_rows, key=key)


def earlier_rows(path, model):
    """The rows already in `path`, which must be of the same model."""
    if not Path(path).exists():
        return []
    data = json.loads(Path(path).read_text())
    if data.get("model") != model:
        raise ValueError(f"{path} holds rows of another model: choose another --out")
    return data["rows"]


def main(argv=None):
    args = parse_args(argv)
    if not launched():
        sys.exit("start it with torchrun (see --help): it runs one process per GPU")
    world, args.device = init_process_group(args.device)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 outside autocast
    shape = SMOKE_SHAPE if args.smoke else GPT2_SMALL
    model_config = GPTConfig(**shape, dropout=0.0)
    data = token_splits(args, model_config.vocab_size)
    with torch.device("meta"):  # the record's shape and counts, no weights
        record = model_record(make_model(model_config, args.seed))
    model = json.loads(json.dumps(record))  # as the file holds it
    peak, peak_note = peak_flops(device, args.peak_flops)
    main_rank = world.rank == 0
    if main_rank:
        old = earlier_rows(args.out, model)
        report = Report(args.out, WHAT, device, args.seed, args.git_commit, smoke=args.smoke)
        prov = report.data["provenance"]
        launcher = [
            "torchrun",
            "--standalone",
            f"--nproc_per_node={os.environ['LOCAL_WORLD_SIZE']}",
        ]
        prov.update(
            command=shlex.join(launcher + shlex.split(command())[1:]), world_size=world.size
        )
        report.data.update(
            model=model,
            vocab_note=VOCAB_NOTE if shape is GPT2_SMALL else f"vocab {shape['vocab_size']}",
            peak_flops=dict(value=peak, source=peak_note),
            method=METHOD,
            key=list(KEY),
            rows=old,
        )
        if device.type == "cuda" and not args.smoke:
            report.data["peak_flops"]["measured_bf16_matmul_8192"] = round(matmul_rate(device))
        report.write()
    rows = []
    for parallel in args.parallel:
        row, flops = measure(args, parallel, world, model_config, data, peak)
        rows.append(row)
        if main_rank:
            print(
                f"[{world.size} x {parallel}] {row['tokens_per_s']:,} tokens/s, "
                f"MFU {row['mfu']}, losses {row['train_loss'][0]} -> {row['train_loss'][-1]}",
                flush=True,
            )
            report.data["flops_per_token"] = flops
            row["provenance"] = dict(report.data["provenance"])
            report.data["rows"] = merged(old, rows)
            report.write()
    dist.destroy_process_group()
    if main_rank:
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
