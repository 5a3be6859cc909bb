"""The book's pretraining run on a GPU, and the trainer's speed there.

    python3 scripts/gpu_pretrain.py --tokens build/artifacts/tokens \
        --tokenizer build/artifacts/tokenizer/tokenizer.model \
        --out OUT/gpu_pretrain.json

One process, three parts, one JSON file (rewritten after each part, so a run
cut short still leaves what it measured):

1. Throughput at GPT-2 small's shape (12 layers, 12 heads, 768 dimensions,
   block 1024, vocabulary 50304 as in nanoGPT's benchmarks; batch 16, no
   gradient accumulation, bfloat16 autocast, torch.compile, fused AdamW), for
   scratchllm.train.Trainer's loop and for a minimal nanoGPT-style reference
   loop over the same GPT class, in alternating timed rounds after a warm-up
   that includes compilation.  MFU is flops_per_token * tokens/s over the
   GPU's peak dense bfloat16 rate (datasheet figure, recorded).
2. Pretraining on the book's corpus with Trainer, for a few model sizes
   (dropout 0.1, bfloat16, compile), each with a step budget, early stopping
   when the validation loss stops improving, and its best-validation weights
   kept.  The size with the lowest validation loss is "the largest model the
   corpus supports well".
3. For each size's best weights, the loss over the whole validation and test
   splits (perplexity, bits per byte), and a few samples from the best model
   (scratchllm.sampling.generate, fixed seeds).

--smoke shrinks everything to run on a CPU in a minute, to test the script.
"""

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "code"))

from scratchllm.config import GPTConfig  # noqa: E402
from scratchllm.dataset import open_tokens, sequential_batches  # noqa: E402
from scratchllm.sampling import generate  # noqa: E402
from scratchllm.train import (  # noqa: E402
    TrainConfig,
    Trainer,
    cosine_lr,
    make_model,
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

# Model sizes tried on the corpus: (n_layer, n_head, n_embd, max_lr).
SIZES = [(4, 4, 256, 1e-3), (6, 6, 384, 1e-3), (8, 8, 512, 6e-4)]
SMOKE_SIZES = [(2, 2, 32, 1e-3), (2, 2, 48, 1e-3)]

PROMPTS = ["<|endoftext|>", "The os module", "def __init__(self"]


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")


def git_commit(given):
    if given:
        return given
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_version(name):
    try:
        from importlib import metadata
        return metadata.version(name)
    except Exception:  # noqa: BLE001 - absent or unreadable: say so
        return None


def device_info(device):
    info = {"type": device.type}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(name=torch.cuda.get_device_name(device),
                    capability=f"{props.major}.{props.minor}",
                    multiprocessors=props.multi_processor_count,
                    memory_gib=round(props.total_memory / 2**30, 1))
    else:
        info.update(name=platform.processor() or platform.machine(),
                    cpus=os.cpu_count())
    return info


def peak_flops(device_name, override=None):
    """(peak bf16 FLOP/s, what it is) for the device, or (None, why)."""
    if override:
        return override, "given with --peak-flops"
    for key, flops in PEAK_BF16:
        if key in device_name:
            return flops, f"{key} datasheet dense bf16"
    return None, f"unknown device {device_name!r}: no MFU"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(device, n=8192, repeats=10):
    """Measured bf16 matmul FLOP/s: what the card does on one large GEMM."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)


class Report:
    """The JSON document, written atomically after every part."""

    def __init__(self, path, data):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.data = data

    def write(self, start):
        self.data["provenance"]["wall_time_s"] = round(
            time.perf_counter() - start, 1)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1) + "\n")
        os.replace(tmp, self.path)


# --- 1. throughput ------------------------------------------------------------


def reference_loop(model, optimizer, steps, shape, device, autocast,
                   max_lr, grad_clip):
    """nanoGPT's training loop, reduced to what one step does: random token
    batches made on the device, autocast forward, backward, clip, AdamW."""
    B, T, V = shape
    for it in range(steps):
        lr = cosine_lr(it, max_lr, max_lr / 10, 10, 10**6)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = torch.randint(V, (B, T), device=device)
        y = torch.randint(V, (B, T), device=device)
        with autocast():
            logits, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return loss


def nanogpt_optimizer(model, weight_decay, lr, betas, device):
    """nanoGPT's configure_optimizers: decay 2-D tensors, fused on CUDA."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2],
         "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas,
                             fused=device.type == "cuda")


def throughput(args, device, peak):
    """Tokens/s and MFU of Trainer's loop and of the reference loop."""
    if args.smoke:
        shape = dict(n_layer=2, n_head=2, n_embd=64, block_size=64,
                     vocab_size=4096)
        batch, warmup, steps, rounds = 2, 2, 3, 2
    else:
        shape = dict(n_layer=12, n_head=12, n_embd=768, block_size=1024,
                     vocab_size=50304)
        batch, warmup, steps, rounds = 16, args.bench_warmup, \
            args.bench_steps, args.bench_rounds
    T, V = shape["block_size"], shape["vocab_size"]
    model_config = GPTConfig(**shape, dropout=0.0)
    dtype = "bfloat16" if device.type == "cuda" else "float32"
    config = TrainConfig(batch_size=batch, block_size=T, grad_accum_steps=1,
                         max_steps=10**6, warmup_steps=10, max_lr=6e-4,
                         min_lr=6e-5, eval_interval=10**9,
                         log_interval=10**9, device=str(device), dtype=dtype,
                         compile=args.compile, seed=1337)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, V, size=4_000_000, dtype=np.uint16)

    torch._dynamo.reset()
    ours = make_model(model_config, seed=1337)
    trainer = Trainer(ours, tokens, tokens[:100_000], config)
    ref_model = make_model(model_config, seed=1337).to(device).train()
    ref = torch.compile(ref_model) if args.compile else ref_model
    ref_opt = nanogpt_optimizer(ref_model, 0.1, 6e-4, (0.9, 0.95), device)
    autocast = trainer.autocast  # the same bf16 autocast for both

    def run_ours(n):
        trainer.run(until=trainer.step + n)

    def run_ref(n):
        reference_loop(ref, ref_opt, n, (batch, T, V), device, autocast,
                       6e-4, 1.0)

    loops = {"ours": run_ours, "reference": run_ref}
    warm_s = {}
    for name, fn in loops.items():
        start = time.perf_counter()
        fn(warmup)
        sync(device)
        warm_s[name] = time.perf_counter() - start
        print(f"[throughput] {name}: warm-up {warmup} steps "
              f"{warm_s[name]:.1f} s", flush=True)
    times = {name: [] for name in loops}
    for r in range(rounds):
        order = list(loops) if r % 2 == 0 else list(loops)[::-1]
        for name in order:
            sync(device)
            start = time.perf_counter()
            loops[name](steps)
            sync(device)
            times[name].append(time.perf_counter() - start)
    flops_per_token = ours.flops_per_token(T)
    tokens_per_step = batch * T
    rows = {}
    for name, ts in times.items():
        ms = sorted(1000 * t / steps for t in ts)
        median_ms = ms[len(ms) // 2]
        tps = tokens_per_step / (median_ms / 1000)
        rows[name] = dict(
            ms_per_step=round(median_ms, 2),
            ms_per_step_rounds=[round(1000 * t / steps, 2) for t in ts],
            tokens_per_s=round(tps),
            mfu=round(flops_per_token * tps / peak, 4) if peak else None,
            warmup_s=round(warm_s[name], 1))
        print(f"[throughput] {name}: {median_ms:.1f} ms/step, {tps:,.0f} "
              f"tok/s, MFU {rows[name]['mfu']}", flush=True)
    result = dict(
        model=dict(shape, params=ours.num_params(non_embedding=False),
                   params_non_embedding=ours.num_params(),
                   dropout=0.0),
        vocab_note="50304: GPT-2's 50257 padded to a multiple of 64, as in "
                   "nanoGPT's benchmarks" if V == 50304 else f"vocab {V}",
        batch_size=batch, grad_accum_steps=1, tokens_per_step=tokens_per_step,
        dtype=dtype, compile=args.compile,
        fused_adamw=device.type == "cuda",
        flops_per_token=flops_per_token,
        warmup_steps=warmup, timed_steps_per_round=steps, rounds=rounds,
        method="each loop warmed up (compilation included), then timed in "
               "alternating rounds of the given steps between "
               "torch.cuda.synchronize calls; the median round is reported",
        loops=dict(
            ours="scratchllm.train.Trainer.run: cosine lr, batches of random "
                 "windows of a host token array (numpy) copied to the GPU "
                 "through pinned memory, autocast forward, backward, "
                 "clip_grad_norm_, fused AdamW, and loss.item() and "
                 "grad_norm.item() every step",
            reference="nanoGPT-style loop written in this script: the same "
                      "GPT class, torch.compile, random token batches drawn "
                      "on the GPU, autocast forward, backward, "
                      "clip_grad_norm_, fused AdamW; no host sync per step"),
        results=rows,
        ours_over_reference=round(rows["ours"]["tokens_per_s"]
                                  / rows["reference"]["tokens_per_s"], 3))
    return result


# --- 2. pretraining -----------------------------------------------------------


def bytes_per_token(tokenizer, tokens):
    """UTF-8 bytes of text per token: special tokens (<|endoftext|>) count as
    tokens but add no bytes, so bits per byte measure the text alone."""
    special = set(tokenizer.special_tokens.values())
    ids, counts = np.unique(np.asarray(tokens), return_counts=True)
    n_bytes = sum(len(tokenizer.vocab[int(i)]) * int(c)
                  for i, c in zip(ids, counts, strict=True)
                  if int(i) not in special)
    return n_bytes / len(tokens)


@torch.no_grad()
def full_loss(model, tokens, block_size, batch_size, device, autocast):
    """Mean loss over every target of a split (non-overlapping windows)."""
    model.eval()
    total, count = 0.0, 0
    for x, y in sequential_batches(tokens, block_size, batch_size,
                                   device=device):
        with autocast():
            _, loss = model(x, y)
        total += loss.float().item() * y.numel()
        count += y.numel()
    return total / count


def train_size(args, size, device, splits, deadline):
    """Train one model size; returns its record and its best weights."""
    n_layer, n_head, n_embd, max_lr = size
    name = f"{n_layer}L-{n_head}H-{n_embd}d"
    model_config = GPTConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                             block_size=args.block_size,
                             vocab_size=splits["vocab_size"],
                             dropout=args.dropout)
    config = TrainConfig(
        batch_size=args.batch_size, block_size=args.block_size,
        max_steps=args.max_steps, warmup_steps=args.warmup_steps,
        max_lr=max_lr, min_lr=max_lr / 10, eval_interval=args.eval_interval,
        eval_batches=args.eval_batches, log_interval=args.eval_interval,
        device=str(device),
        dtype="bfloat16" if device.type == "cuda" else "float32",
        compile=args.compile, seed=1337)
    torch._dynamo.reset()  # each size compiles afresh, with static shapes
    model = make_model(model_config, config.seed)
    trainer = Trainer(model, splits["train"], splits["val"], config)
    best = dict(val_loss=math.inf, step=None, state=None)

    def keep_best(record):
        if record["val_loss"] is not None and record["val_loss"] < best[
                "val_loss"]:
            best.update(val_loss=record["val_loss"], step=record["step"],
                        state={k: v.detach().to("cpu", copy=True)
                               for k, v in trainer.raw_model.state_dict()
                               .items()})

    start = time.perf_counter()
    stop = "max_steps"
    while trainer.step < config.max_steps:
        trainer.run(until=trainer.step + config.eval_interval,
                    callback=keep_best)
        last = trainer.history[-1]
        print(f"[{name}] step {last['step']}: train {last['train_loss']:.4f}"
              f" val {last['val_loss']:.4f} "
              f"{last['tokens_per_s']:,.0f} tok/s "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        if best["step"] is not None and (
                trainer.step - best["step"]
                >= args.patience * config.eval_interval):
            stop = (f"early stop: no better validation loss for "
                    f"{args.patience} evaluations")
            break
        if time.perf_counter() > deadline:
            stop = "time budget for this size spent"
            break
    seconds = time.perf_counter() - start
    curve = [dict(step=r["step"], train_loss=round(r["train_loss"], 4),
                  val_loss=round(r["val_loss"], 4), lr=r["lr"],
                  grad_norm=round(r["grad_norm"], 3),
                  tokens_per_s=round(r["tokens_per_s"]),
                  elapsed_s=round(r["elapsed"], 1))
             for r in trainer.history if r["val_loss"] is not None]
    record = dict(
        name=name,
        model=dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                   block_size=args.block_size,
                   vocab_size=splits["vocab_size"], dropout=args.dropout,
                   params=model.num_params(non_embedding=False),
                   params_non_embedding=model.num_params()),
        train_config={k: v for k, v in vars(config).items()
                      if k not in ("checkpoint_path", "checkpoint_interval")},
        steps_run=trainer.step, stopped=stop,
        epochs=round(trainer.step * config.tokens_per_step
                     / len(splits["train"]), 2),
        train_seconds=round(seconds, 1),
        best_step=best["step"], best_val_loss_sampled=round(best["val_loss"], 4),
        curve=curve)
    model.load_state_dict(best["state"])
    return record, model


def evaluate_best(model, args, device, splits, bpt):
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) \
        if device.type == "cuda" else contextlib.nullcontext
    out = {}
    for split in ("val", "test"):
        loss = full_loss(model, splits[split], args.block_size,
                         args.batch_size, device, autocast)
        out[split] = dict(loss=round(loss, 4), perplexity=round(math.exp(loss),
                                                                 2),
                          bits_per_byte=round(loss / math.log(2) / bpt[split],
                                              4),
                          tokens=len(splits[split]))
    return out


def samples(model, tokenizer, args, device):
    eot = tokenizer.special_tokens.get("<|endoftext|>")
    model.eval()
    out = []
    for i, prompt in enumerate(args.prompts):
        ids = tokenizer.encode(prompt)
        idx = torch.tensor([ids], dtype=torch.long, device=device)
        gen = torch.Generator().manual_seed(args.seed + i)
        result = generate(model, idx, args.sample_tokens,
                          temperature=args.temperature, top_k=args.top_k,
                          eos_id=eot, generator=gen)
        new = result[0, len(ids):].tolist()
        out.append(dict(prompt=prompt, seed=args.seed + i,
                        text=tokenizer.decode(new),
                        tokens=len(new)))
    return out


# --- main ---------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", required=True, help="dir with train.bin ...")
    p.add_argument("--tokenizer", required=True, help="tokenizer.model")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--device", default="cuda")
    p.add_argument("--smoke", action="store_true",
                   help="tiny settings, to test the script on a CPU")
    p.add_argument("--compile", default=True,
                   action=argparse.BooleanOptionalAction)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--block-size", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--max-steps", type=int, default=2500)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--eval-interval", type=int, default=100)
    p.add_argument("--eval-batches", type=int, default=20)
    p.add_argument("--patience", type=int, default=5,
                   help="evaluations without a better val loss before "
                        "stopping")
    p.add_argument("--train-seconds", type=float, default=100,
                   help="most seconds of training per model size")
    p.add_argument("--deadline", type=float, default=530,
                   help="seconds after start by which training must end")
    p.add_argument("--bench-warmup", type=int, default=15)
    p.add_argument("--bench-steps", type=int, default=20)
    p.add_argument("--bench-rounds", type=int, default=3)
    p.add_argument("--peak-flops", type=float, default=None)
    p.add_argument("--git-commit", default=None)
    p.add_argument("--prompts", nargs="*", default=PROMPTS)
    p.add_argument("--sample-tokens", type=int, default=120)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=40)
    p.add_argument("--seed", type=int, default=1337)
    args = p.parse_args(argv)
    if args.smoke:
        args.batch_size, args.block_size = 4, 32
        args.max_steps, args.warmup_steps = 40, 5
        args.eval_interval, args.eval_batches = 10, 2
        args.patience, args.sample_tokens = 2, 20
    return args


def main(argv=None):
    start = time.perf_counter()
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 outside autocast
    from scratchllm.tokenizer import BPETokenizer  # needs the regex package
    tokenizer = BPETokenizer().load(args.tokenizer)
    tokens_dir = Path(args.tokens)
    splits = {s: open_tokens(tokens_dir / f"{s}.bin")
              for s in ("train", "val", "test")}
    splits["vocab_size"] = json.loads(
        (tokens_dir / "train.bin.json").read_text())["vocab_size"]
    assert splits["vocab_size"] == tokenizer.vocab_size
    dev = device_info(device)
    peak, peak_note = peak_flops(dev["name"], args.peak_flops)
    if device.type != "cuda" and not args.peak_flops:
        peak, peak_note = None, "not a GPU: no MFU"
    report = Report(args.out, dict(
        what="scripts/gpu_pretrain.py: pretraining on the book's corpus and "
             "training throughput at GPT-2 small's shape",
        provenance=dict(
            command="python3 " + " ".join(
                [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
            device=dev, date_utc=now_utc(), git_commit=git_commit(
                args.git_commit),
            git_note="HEAD of the checkout the run was made from; its "
                     "working tree may have held uncommitted changes",
            python=platform.python_version(), platform=platform.platform(),
            torch=torch.__version__, cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version()
            if torch.backends.cudnn.is_available() else None,
            triton=package_version("triton"), numpy=np.__version__,
            smoke=args.smoke),
        peak_flops=dict(value=peak, source=peak_note),
        corpus=dict(tokens_dir=str(tokens_dir), tokenizer=str(args.tokenizer),
                    vocab_size=splits["vocab_size"],
                    tokens={s: len(splits[s]) for s in ("train", "val",
                                                         "test")})))
    if device.type == "cuda" and not args.smoke:
        rate = matmul_rate(device)
        report.data["peak_flops"]["measured_bf16_matmul_8192"] = round(rate)
        print(f"bf16 8192^3 matmul: {rate / 1e12:.0f} TFLOP/s", flush=True)
    report.write(start)

    if not args.skip_throughput:
        report.data["throughput"] = throughput(args, device, peak)
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the GPT-2 models are gone
        report.write(start)

    bpt = {s: bytes_per_token(tokenizer, splits[s]) for s in ("val", "test")}
    report.data["corpus"]["bytes_per_token"] = {
        s: round(b, 4) for s, b in bpt.items()}
    sizes = SMOKE_SIZES if args.smoke else SIZES
    runs, best_model, best_loss = [], None, math.inf
    train_deadline = start + args.deadline
    for i, size in enumerate(sizes):
        left = train_deadline - time.perf_counter()
        budget = min(args.train_seconds, left / (len(sizes) - i))
        if budget <= 5:
            runs.append(dict(name=str(size), skipped="no time left"))
            continue
        record, model = train_size(args, size, device, splits,
                                   time.perf_counter() + budget)
        record["full_eval"] = evaluate_best(model, args, device, splits, bpt)
        runs.append(record)
        val = record["full_eval"]["val"]["loss"]
        print(f"[{record['name']}] best step {record['best_step']}: full val "
              f"loss {val:.4f}", flush=True)
        if val < best_loss:
            best_model, best_loss = model, val
        else:
            del model
        report.data["pretraining"] = dict(runs=runs)
        report.write(start)

    chosen = min((r for r in runs if "full_eval" in r),
                 key=lambda r: r["full_eval"]["val"]["loss"])
    report.data["pretraining"]["chosen"] = chosen["name"]
    report.data["final"] = dict(
        model=chosen["name"], params=chosen["model"]["params"],
        best_step=chosen["best_step"],
        val_loss=chosen["full_eval"]["val"]["loss"],
        val_perplexity=chosen["full_eval"]["val"]["perplexity"],
        val_bits_per_byte=chosen["full_eval"]["val"]["bits_per_byte"],
        test_loss=chosen["full_eval"]["test"]["loss"],
        test_bits_per_byte=chosen["full_eval"]["test"]["bits_per_byte"],
        note="losses over every token of the split with the best-validation "
             "weights; the curves' val_loss is the mean over eval_batches "
             "random windows")
    report.data["samples"] = dict(
        model=chosen["name"], temperature=args.temperature, top_k=args.top_k,
        max_new_tokens=args.sample_tokens,
        texts=samples(best_model, tokenizer, args, device))
    report.write(start)
    print(f"wrote {args.out} after {time.perf_counter() - start:.0f} s",
          flush=True)


if __name__ == "__main__":
    main()
