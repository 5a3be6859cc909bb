"""The book's pretraining run on a GPU, and the trainer's speed there.

    python3 scripts/gpu_pretrain.py --tokens build/artifacts/tokens \
        --tokenizer build/artifacts/tokenizer/tokenizer.model \
        --out OUT/gpu_pretrain.json

One process, three parts, one JSON file (rewritten after each part, so a run
cut short still leaves what it measured):

1. Throughput at GPT-2 small's shape (vocabulary 50304 as in nanoGPT's
   benchmarks; batch 16, bfloat16 autocast, torch.compile, fused AdamW), of
   Trainer's loop and of the nanoGPT-style loop of bench/nanogpt_ref.py, in
   alternating timed rounds after a warm-up that includes compilation.  MFU
   is flops_per_token * tokens/s over the GPU's datasheet bf16 peak.
2. Pretraining on the book's corpus with Trainer, for a few model sizes
   (dropout 0.1, bfloat16, compile), each with a step budget, early stopping
   when the validation loss stops improving, and its best-validation weights
   kept.  The size with the lowest validation loss is "the largest model the
   corpus supports well".
3. For each size's best weights, the loss over the whole validation and test
   splits (perplexity, bits per byte), and a few samples from the best model
   (scratchllm.generate.complete, fixed seeds).

The training flags are TrainConfig's and GPTConfig's fields (with this
script's defaults); --smoke shrinks everything to run on a CPU in a minute,
to test the script.
"""

import argparse
import dataclasses
import math
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from provenance import Report

# The GPU machine runs this file from a bare copy of the repository, with
# scratchllm not installed: the library and bench/ come from the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "code")]

from bench.nanogpt_ref import Reference, random_tokens  # noqa: E402
from bench.results import interleaved  # noqa: E402
from scratchllm.config import GPTConfig  # noqa: E402
from scratchllm.dataset import open_tokens, sequential_batches  # noqa: E402
from scratchllm.generate import complete  # noqa: E402
from scratchllm.train import (  # noqa: E402
    TrainConfig,
    Trainer,
    add_fields,
    estimate_loss,
    field_values,
    make_model,
    token_vocab_size,
)

# Peak dense bfloat16 tensor-core rates from NVIDIA's datasheets (FLOP/s,
# without sparsity).  The H200 is the H100's chip with more, faster memory.
PEAK_BF16 = [
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989.5e12),  # SXM5, e.g. "NVIDIA H100 80GB HBM3"
    ("H200", 989.5e12),
    ("A100", 312e12),
]

# The throughput benchmark's model: GPT-2 small, and a tiny one for --smoke.
GPT2_SMALL = dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50304)
SMOKE_SHAPE = dict(n_layer=2, n_head=2, n_embd=64, block_size=64, vocab_size=4096)
VOCAB_NOTE = "50304: GPT-2's 50257 padded to a multiple of 64, as in nanoGPT's benchmarks"
LOOPS = dict(
    ours="scratchllm.train.Trainer.run: cosine lr, batches of random windows of a host token "
    "array (numpy) copied to the GPU through pinned memory, autocast forward, backward, "
    "clip_grad_norm_, fused AdamW, and loss.item() and grad_norm.item() every step",
    reference="bench/nanogpt_ref.Reference, a nanoGPT-style loop: the same GPT class, "
    "torch.compile, random token batches drawn on the GPU, autocast forward, backward, "
    "clip_grad_norm_, fused AdamW; no host sync per step",
)

# Model sizes tried on the corpus: (n_layer, n_head, n_embd, max_lr).
SIZES = [(4, 4, 256, 1e-3), (6, 6, 384, 1e-3), (8, 8, 512, 6e-4)]
SMOKE_SIZES = [(2, 2, 32, 1e-3), (2, 2, 48, 1e-3)]

PROMPTS = ["<|endoftext|>", "The os module", "def __init__(self"]

# TrainConfig fields this script sets itself: the learning rates per size,
# the dtype from the device, a history record at each evaluation.
TRAIN_SKIP = ("max_lr", "min_lr", "dtype", "log_interval", "checkpoint_path", "checkpoint_interval")
TRAIN_SAVED = [f.name for f in dataclasses.fields(TrainConfig) if "checkpoint" not in f.name]
# GPTConfig fields set by the size or by the corpus.
MODEL_SKIP = ("n_layer", "n_head", "n_embd", "block_size", "vocab_size", "n_hidden")


def peak_flops(device, override=None):
    """(peak bf16 FLOP/s, what it is) for the device, or (None, why)."""
    if override:
        return override, "given with --peak-flops"
    if device.type != "cuda":
        return None, "not a GPU: no MFU"
    name = torch.cuda.get_device_name(device)
    for key, flops in PEAK_BF16:
        if key in name:
            return flops, f"{key} datasheet dense bf16"
    return None, f"unknown device {name!r}: no MFU"


def matmul_rate(device, n=8192, repeats=10):
    """Measured bf16 matmul FLOP/s: what the card does on one large GEMM."""
    a, b = torch.randn(2, n, n, device=device, dtype=torch.bfloat16)
    sync = partial(torch.cuda.synchronize, device)
    seconds = interleaved({"matmul": lambda: a @ b}, 3, repeats, sync)["matmul"]
    return 2 * n**3 * repeats / sum(seconds)


def model_record(model):
    """The model's config and its parameter counts, for the JSON file."""
    params = model.num_params(non_embedding=False)
    return dict(
        dataclasses.asdict(model.config), params=params, params_non_embedding=model.num_params()
    )


def dtype_for(device):
    return "bfloat16" if device.type == "cuda" else "float32"


# --- 1. throughput ------------------------------------------------------------


def throughput(args, device, peak):
    """Tokens/s and MFU of Trainer's loop and of the reference loop."""
    shape, batch = (SMOKE_SHAPE, 2) if args.smoke else (GPT2_SMALL, 16)
    warmup, steps, rounds = args.bench_warmup, args.bench_steps, args.bench_rounds
    T, V = shape["block_size"], shape["vocab_size"]
    model_config = GPTConfig(**shape, dropout=0.0)
    # A schedule far longer than the run, and no evaluation or record to time.
    quiet = dict(max_steps=10**6, warmup_steps=10, eval_interval=10**9, log_interval=10**9)
    run = dict(device=str(device), dtype=dtype_for(device), compile=args.compile)
    config = TrainConfig(batch_size=batch, block_size=T, **quiet, **run)
    tokens = np.random.default_rng(0).integers(0, V, size=4_000_000, dtype=np.uint16)

    torch._dynamo.reset()
    ours = make_model(model_config, seed=config.seed)
    trainer = Trainer(ours, tokens, tokens[:100_000], config)
    ref_model = make_model(model_config, seed=config.seed).to(device).train()
    ref_model = torch.compile(ref_model) if args.compile else ref_model
    # The same schedule, optimizer and bf16 autocast for both.
    ref = Reference(ref_model, random_tokens(V, T, batch, device), config, trainer.autocast)
    loops = {"ours": lambda n: trainer.run(until=trainer.step + n), "reference": ref.run}
    sync = partial(torch.cuda.synchronize, device) if device.type == "cuda" else None
    # One untimed-for-the-result round of warm-up each, then the timed rounds.
    warm = interleaved({k: partial(f, warmup) for k, f in loops.items()}, 0, 1, sync)
    times = interleaved({k: partial(f, steps) for k, f in loops.items()}, 0, rounds, sync)

    flops_per_token = ours.flops_per_token(T)
    tokens_per_step = batch * T
    rows = {}
    for name, seconds in times.items():
        ms = [1000 * t / steps for t in seconds]
        tps = tokens_per_step / (statistics.median(ms) / 1000)
        rows[name] = dict(
            ms_per_step=round(statistics.median(ms), 2),
            ms_per_step_rounds=[round(m, 2) for m in ms],
            tokens_per_s=round(tps),
            mfu=round(flops_per_token * tps / peak, 4) if peak else None,
            warmup_s=round(warm[name][0], 1),
        )
        print(f"[throughput] {name}: {rows[name]}", flush=True)
    return dict(
        model=model_record(ours),
        vocab_note=VOCAB_NOTE if shape is GPT2_SMALL else f"vocab {V}",
        batch_size=batch,
        grad_accum_steps=1,
        tokens_per_step=tokens_per_step,
        dtype=config.dtype,
        compile=args.compile,
        fused_adamw=device.type == "cuda",
        flops_per_token=flops_per_token,
        warmup_steps=warmup,
        timed_steps_per_round=steps,
        rounds=rounds,
        method="each loop warmed up (compilation included), then timed in alternating rounds "
        "of the given steps between device syncs (bench/results.interleaved); the median round",
        loops=LOOPS,
        results=rows,
        ours_over_reference=round(
            rows["ours"]["tokens_per_s"] / rows["reference"]["tokens_per_s"], 3
        ),
    )


# --- 2. pretraining -----------------------------------------------------------


def bytes_per_token(tokenizer, tokens):
    """UTF-8 bytes of text per token: special tokens (<|endoftext|>) count as
    tokens but add no bytes, so bits per byte measure the text alone."""
    special = set(tokenizer.special_tokens.values())
    ids, counts = np.unique(np.asarray(tokens), return_counts=True)
    n_bytes = sum(
        len(tokenizer.vocab[int(i)]) * int(c)
        for i, c in zip(ids, counts, strict=True)
        if int(i) not in special
    )
    return n_bytes / len(tokens)


def size_name(size):
    return "{}L-{}H-{}d".format(*size[:3])


def make_trainer(args, size, device, splits):
    """A Trainer for one model size, its configs from the flags."""
    n_layer, n_head, n_embd, max_lr = size
    shape = dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=args.block_size)
    model_config = GPTConfig(
        **field_values(args, GPTConfig, MODEL_SKIP), **shape, vocab_size=splits["vocab_size"]
    )
    lrs = dict(max_lr=max_lr, min_lr=max_lr / 10)
    own = dict(dtype=dtype_for(device), log_interval=args.eval_interval)
    config = TrainConfig(**field_values(args, TrainConfig, TRAIN_SKIP), **lrs, **own)
    torch._dynamo.reset()  # each size compiles afresh, with static shapes
    model = make_model(model_config, config.seed)
    return Trainer(model, splits["train"], splits["val"], config)


def train_until_stale(trainer, patience, deadline, name):
    """Train in rounds of eval_interval steps until max_steps, until
    `patience` evaluations bring no better validation loss, or until the
    deadline; keeps the best weights.  Returns (why it stopped, best)."""
    every = trainer.config.eval_interval
    best = dict(val_loss=math.inf, step=None, state=None)

    def keep_best(record):
        if record["val_loss"] is not None and record["val_loss"] < best["val_loss"]:
            weights = trainer.raw_model.state_dict().items()
            state = {k: v.detach().to("cpu", copy=True) for k, v in weights}
            best.update(val_loss=record["val_loss"], step=record["step"], state=state)

    while trainer.step < trainer.config.max_steps:
        trainer.run(until=trainer.step + every, callback=keep_best)
        last = trainer.history[-1]
        losses = f"train {last['train_loss']:.4f} val {last['val_loss']:.4f}"
        speed = f"{last['tokens_per_s']:,.0f} tok/s ({last['elapsed']:.0f} s)"
        print(f"[{name}] step {last['step']}: {losses} {speed}", flush=True)
        if best["step"] is not None and trainer.step - best["step"] >= patience * every:
            return f"early stop: no better validation loss for {patience} evaluations", best
        if time.perf_counter() > deadline:
            return "time budget for this size spent", best
    return "max_steps", best


def train_size(args, size, device, splits, deadline):
    """Train one model size; returns its record and its Trainer, whose
    model holds the best-validation weights."""
    name = size_name(size)
    trainer = make_trainer(args, size, device, splits)
    start = time.perf_counter()
    stop, best = train_until_stale(trainer, args.patience, deadline, name)
    seconds = time.perf_counter() - start
    curve = [
        dict(
            step=r["step"],
            train_loss=round(r["train_loss"], 4),
            val_loss=round(r["val_loss"], 4),
            lr=r["lr"],
            grad_norm=round(r["grad_norm"], 3),
            tokens_per_s=round(r["tokens_per_s"]),
            elapsed_s=round(r["elapsed"], 1),
        )
        for r in trainer.history
        if r["val_loss"] is not None
    ]
    model, config = trainer.raw_model, trainer.config
    record = dict(
        name=name,
        model=model_record(model),
        train_config={k: v for k, v in dataclasses.asdict(config).items() if k in TRAIN_SAVED},
        steps_run=trainer.step,
        stopped=stop,
        epochs=round(trainer.step * config.tokens_per_step / len(splits["train"]), 2),
        train_seconds=round(seconds, 1),
        best_step=best["step"],
        best_val_loss_sampled=round(best["val_loss"], 4),
        curve=curve,
    )
    model.load_state_dict(best["state"])
    return record, trainer


def evaluate_best(trainer, splits, bpt):
    """Loss, perplexity and bits per byte over every target of val and test."""
    config, out = trainer.config, {}
    for split in ("val", "test"):
        windows = config.block_size, config.batch_size
        batches = sequential_batches(splits[split], *windows, device=trainer.device)
        loss = estimate_loss(trainer.raw_model, batches, trainer.autocast, weighted=True)
        out[split] = dict(
            loss=round(loss, 4),
            perplexity=round(math.exp(loss), 2),
            bits_per_byte=round(loss / math.log(2) / bpt[split], 4),
            tokens=len(splits[split]),
        )
    return out


def samples(model, tokenizer, args, device):
    """One continuation per prompt, the i-th sampled with seed + i."""
    options = dict(temperature=args.temperature, top_k=args.top_k, device=device, new_only=True)
    out = []
    for seed, prompt in enumerate(args.prompts, start=args.seed):
        text = complete(model, tokenizer, prompt, args.sample_tokens, seed=seed, **options)
        out.append(dict(prompt=prompt, seed=seed, text=text))
    return out


def pretraining(args, device, splits, bpt, start):
    """Yields the records of the model sizes, trained one after another,
    each with its full evaluation, and the Trainer of each."""
    sizes = SMOKE_SIZES if args.smoke else SIZES
    train_deadline = start + args.deadline
    for i, size in enumerate(sizes):
        left = train_deadline - time.perf_counter()
        budget = min(args.train_seconds, left / (len(sizes) - i))
        if budget <= 5:
            yield dict(name=size_name(size), skipped="no time left"), None
            continue
        record, trainer = train_size(args, size, device, splits, time.perf_counter() + budget)
        record["full_eval"] = evaluate_best(trainer, splits, bpt)
        val = record["full_eval"]["val"]["loss"]
        print(f"[{size_name(size)}] best step {record['best_step']}: val {val:.4f}", flush=True)
        yield record, trainer


def final(chosen):
    ev = chosen["full_eval"]
    return dict(
        model=chosen["name"],
        params=chosen["model"]["params"],
        best_step=chosen["best_step"],
        val_loss=ev["val"]["loss"],
        val_perplexity=ev["val"]["perplexity"],
        val_bits_per_byte=ev["val"]["bits_per_byte"],
        test_loss=ev["test"]["loss"],
        test_bits_per_byte=ev["test"]["bits_per_byte"],
        note="losses over every token of the split with the best-validation weights; the "
        "curves' val_loss is the mean over eval_batches random windows",
    )


# --- main ---------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", required=True, help="dir with train.bin ...")
    p.add_argument("--tokenizer", required=True, help="tokenizer.model")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--smoke", action="store_true", help="tiny settings, to test on a CPU")
    p.add_argument("--skip-throughput", action="store_true")
    add_fields(p, TrainConfig, skip=TRAIN_SKIP)
    add_fields(p, GPTConfig, skip=MODEL_SKIP)
    p.set_defaults(device="cuda", compile=True, batch_size=64, max_steps=2500, dropout=0.1)
    p.add_argument("--patience", type=int, default=5, help="evaluations without progress")
    p.add_argument("--train-seconds", type=float, default=100, help="most per model size")
    p.add_argument("--deadline", type=float, default=530, help="end training by then (s)")
    p.add_argument("--bench-warmup", type=int, default=15)
    p.add_argument("--bench-steps", type=int, default=20)
    p.add_argument("--bench-rounds", type=int, default=3)
    p.add_argument("--peak-flops", type=float, default=None)
    p.add_argument("--git-commit", default=None, help="for a copy without git history")
    p.add_argument("--prompts", nargs="*", default=PROMPTS)
    p.add_argument("--sample-tokens", type=int, default=120)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=40)
    args = p.parse_args(argv)
    if args.smoke:
        args.batch_size, args.block_size = 4, 32
        args.max_steps, args.warmup_steps = 40, 5
        args.eval_interval, args.eval_batches = 10, 2
        args.patience, args.sample_tokens = 2, 20
        args.bench_warmup, args.bench_steps, args.bench_rounds = 2, 3, 2
    return args


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 outside autocast
    from scratchllm.tokenizer import BPETokenizer  # needs the regex package

    tokenizer = BPETokenizer().load(args.tokenizer)
    tokens_dir = Path(args.tokens)
    splits = {s: open_tokens(tokens_dir / f"{s}.bin") for s in ("train", "val", "test")}
    splits["vocab_size"] = token_vocab_size(tokens_dir / "train.bin")
    assert splits["vocab_size"] == tokenizer.vocab_size
    what = "scripts/gpu_pretrain.py: pretraining on the book's corpus, throughput at GPT-2 small"
    report = Report(args.out, what, device, args.seed, args.git_commit, smoke=args.smoke)
    peak, peak_note = peak_flops(device, args.peak_flops)
    report.data["peak_flops"] = dict(value=peak, source=peak_note)
    counts = {s: len(splits[s]) for s in ("train", "val", "test")}
    corpus = dict(tokens_dir=str(tokens_dir), tokenizer=str(args.tokenizer))
    report.data["corpus"] = dict(corpus, vocab_size=splits["vocab_size"], tokens=counts)
    if device.type == "cuda" and not args.smoke:
        rate = matmul_rate(device)
        report.data["peak_flops"]["measured_bf16_matmul_8192"] = round(rate)
        print(f"bf16 8192^3 matmul: {rate / 1e12:.0f} TFLOP/s", flush=True)
    report.write()

    if not args.skip_throughput:
        report.data["throughput"] = throughput(args, device, peak)
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the GPT-2 models are gone
        report.write()

    bpt = {s: bytes_per_token(tokenizer, splits[s]) for s in ("val", "test")}
    report.data["corpus"]["bytes_per_token"] = {s: round(b, 4) for s, b in bpt.items()}
    runs, best = [], None
    report.data["pretraining"] = dict(runs=runs)
    for record, trainer in pretraining(args, device, splits, bpt, report.start):
        runs.append(record)
        if trainer is not None and (
            best is None or record["full_eval"]["val"]["loss"] < best[0]["full_eval"]["val"]["loss"]
        ):
            best = record, trainer.raw_model  # only the best model stays in memory
        report.write()

    chosen, model = best
    report.data["pretraining"]["chosen"] = chosen["name"]
    report.data["final"] = final(chosen)
    report.data["samples"] = dict(
        model=chosen["name"],
        temperature=args.temperature,
        top_k=args.top_k,
        max_new_tokens=args.sample_tokens,
        texts=samples(model, tokenizer, args, device),
    )
    report.write()
    print(f"wrote {args.out} after {report.data['provenance']['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
