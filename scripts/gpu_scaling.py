"""The book's scaling-law sweep on a GPU (chapter 8).

    python3 scripts/gpu_scaling.py --tokens build/artifacts/tokens \
        --out OUT/gpu_scaling.json --budgets 2e13 4e13 8e13 1.6e14 --seeds 0 1 2

One process, two experiments of scratchllm.scaling, one JSON file rewritten
after every run (a run cut short still leaves what it measured):

1. The IsoFLOP sweep: for each compute budget, shapes around its
   Chinchilla-optimal size (or --shapes), each trained for the steps that
   spend the budget, with a cosine schedule of its own.
2. Repetition: one shape on the first --unique-tokens tokens of the split
   for each of --epochs epochs.

The runs go seed by seed, both experiments in each, so a sweep stopped by
--deadline (no run starts after it) has whole curves for its first seeds.
The training flags are TrainConfig's and GPTConfig's fields (with this
script's defaults); --smoke shrinks everything to run on a CPU in seconds,
to test the script.
"""

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from provenance import Report

# The GPU machine runs this file from a bare copy of the repository, with
# scratchllm not installed: the library comes from the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "code")]

from scratchllm import scaling  # noqa: E402
from scratchllm.config import GPTConfig  # noqa: E402
from scratchllm.scaling import Shape  # noqa: E402
from scratchllm.train import TrainConfig, add_fields, read_splits  # noqa: E402

WHAT = "scripts/gpu_scaling.py: IsoFLOP sweep and repeated-data runs for chapter 8"
SMOKE_SHAPES = [Shape(1, 1, 32), Shape(1, 2, 64)]
SMOKE_STEPS = (60, 240)  # the smoke budgets: these steps of the first shape


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", required=True, type=Path, help="dir with train.bin, val.bin")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--smoke", action="store_true", help="tiny settings, to test on a CPU")
    p.add_argument("--budgets", nargs="+", type=float, default=[2e13, 4e13, 8e13, 1.6e14])
    p.add_argument("--shapes", nargs="+", type=scaling.shape, help="default: 7 per budget")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", nargs="*", type=float, default=[1, 2, 4, 8, 16])
    p.add_argument("--unique-tokens", type=int, default=2**20)
    p.add_argument("--repetition-shape", type=scaling.shape, default=Shape(2, 4, 128))
    p.add_argument("--deadline", type=float, default=540, help="start no run after (s)")
    p.add_argument("--git-commit", default=None, help="for a copy without git history")
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="seeds split over this many processes on the one GPU (tiny models leave it idle)",
    )
    add_fields(p, TrainConfig, skip=scaling.TRAIN_SKIP)
    add_fields(p, GPTConfig, skip=scaling.MODEL_SKIP)
    # float32 (TF32 matmuls) on the GPU too: the chapter re-runs cells of this grid on
    # the CPU, in float32, and compares the losses.
    p.set_defaults(device="cuda", batch_size=32, max_lr=2e-3, min_lr=2e-4, eval_batches=20)
    args = p.parse_args(argv)
    if args.smoke:
        args.block_size, args.batch_size, args.eval_batches = 32, 4, 2
        args.shapes, args.seeds = SMOKE_SHAPES, args.seeds[:2]
        args.epochs, args.unique_tokens = [1, 2], 2000
        args.repetition_shape = SMOKE_SHAPES[0]
    return args


def smoke_budgets(model_config, train_config):
    per_token = scaling.counts(scaling.shaped(model_config, SMOKE_SHAPES[0]))["flops_per_token"]
    return [steps * per_token * train_config.tokens_per_step for steps in SMOKE_STEPS]


def without(argv, *options):
    """argv less the given options and the values that follow each."""
    kept, skipping = [], False
    for arg in argv:
        if arg.startswith("--"):
            skipping = arg.split("=")[0] in options
        if not skipping:
            kept.append(arg)
    return kept


def in_processes(args, argv):
    """Run the seeds in args.processes child processes of this script, then
    write one file: the parts' runs, seed by seed, and each part's provenance."""
    # Made first, so that its wall time covers the children's.
    report = Report(
        args.out,
        WHAT,
        torch.device(args.device),
        args.seeds[0],
        args.git_commit,
        smoke=args.smoke,
        processes=args.processes,
    )
    groups = [args.seeds[i :: args.processes] for i in range(args.processes)]
    base = without(argv, "--processes", "--seeds", "--out")
    parts = [Path(f"{args.out}.part{i}") for i in range(len(groups))]
    children = [
        subprocess.Popen(
            [sys.executable, __file__, *base, "--out", str(part), "--seeds", *map(str, seeds)]
        )
        for part, seeds in zip(parts, groups, strict=True)
    ]
    if any(child.wait() for child in children):
        sys.exit("a part of the sweep failed")
    data = [json.loads(part.read_text()) for part in parts]
    report.data["plan"] = dict(data[0]["plan"], seeds=args.seeds)
    for key in ("runs", "repetition"):
        report.data[key] = sorted((r for d in data for r in d[key]), key=lambda r: r["seed"])
    report.data["stopped"] = ", ".join(sorted({d["stopped"] for d in data}))
    report.data["parts"] = [d["provenance"] for d in data]
    report.write()
    for part in parts:
        part.unlink()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.processes > 1:
        return in_processes(args, argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 outside autocast
    train_tokens, val_tokens, vocab_size = read_splits(args.tokens, args.block_size)
    train_config, model_config = scaling.sweep_configs(args, vocab_size)
    budgets = smoke_budgets(model_config, train_config) if args.smoke else args.budgets
    isoflop = scaling.plan_sweep(budgets, model_config, train_config, args.shapes)
    repetition = scaling.plan_repetition(
        args.repetition_shape, args.unique_tokens, args.epochs, model_config, train_config
    )
    seed = args.seeds[0]
    report = Report(args.out, WHAT, device, seed, args.git_commit, smoke=args.smoke)
    report.data["plan"] = dict(
        budgets=budgets,
        seeds=args.seeds,
        tokens=dict(dir=str(args.tokens), train=len(train_tokens), val=len(val_tokens)),
        train_config=dataclasses.asdict(train_config),
        model_config=dataclasses.asdict(model_config),
        isoflop=[dataclasses.asdict(run) for run in isoflop],
        repetition=[dataclasses.asdict(run) for run in repetition],
        deadline_s=args.deadline,
    )
    runs, repeated = [], []
    report.data["runs"], report.data["repetition"] = runs, repeated
    report.data["stopped"] = "running"
    report.write()

    def done(record):
        (runs if record["unique_tokens"] is None else repeated).append(record)
        report.write()
        print(scaling.describe(record), flush=True)

    planned = len(args.seeds) * (len(isoflop) + len(repetition))
    print(f"{planned} runs planned", flush=True)
    # Repetition first (cheap), the largest budget last: a deadline cuts the latter.
    scaling.sweep(
        repetition + isoflop,
        train_tokens,
        val_tokens,
        model_config,
        train_config,
        args.seeds,
        callback=done,
        deadline=report.start + args.deadline,
    )
    finished = len(runs) + len(repeated)
    report.data["stopped"] = "all runs done" if finished == planned else "deadline"
    report.write()
    wall = time.perf_counter() - report.start
    print(f"wrote {args.out}: {finished} of {planned} runs after {wall:.0f} s")


if __name__ == "__main__":
    main()
