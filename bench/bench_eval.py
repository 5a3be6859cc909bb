"""Scoring speed of scratchllm.evaluate against one request at a time.

Run by hand (not in CI):  .venv/bin/python bench/bench_eval.py [--write]

The book's CPU-pretrained model (build/artifacts/model/ckpt.pt) scores the
multiple-choice requests of two of chapter 11's tasks, built from the
corpus artifact: doc->func (4 choices a question) and the API cloze (10).
Ours is LM.loglikelihood: the choices of a question share their context,
read once into a KV cache, and the output layer runs only where a
prediction is read.  The reference scores each request alone with one
full forward pass, as lm-evaluation-harness's Hugging Face model does
(without its batching): the whole context and continuation, logits at
every position.  Both give the same log-likelihoods (the largest
difference is printed).  The two take turns, task by task, in an order
that alternates (bench/results.interleaved); each time is the median.
"""

import argparse
import os
import statistics
from importlib import metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from results import interleaved, machine, record, today

from scratchllm import evaluate
from scratchllm.cli import load_tokenizer
from scratchllm.data import benchmarks
from scratchllm.train import load_model

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "build" / "artifacts"
TASKS = ("doc_to_func", "api_cloze")


@torch.no_grad()
def one_at_a_time(lm, requests):
    """Each request alone: one forward pass over context + continuation."""
    out = []
    for context, continuation in requests:
        ctx, cont = lm.encode_pair(context, continuation)
        whole = (ctx + cont)[-(lm.block_size + 1) :]
        logits, _ = lm.model(torch.tensor([whole[:-1]]))
        logprobs = F.log_softmax(logits[0, -len(cont) :].float(), dim=-1)
        out.append(float(logprobs.gather(1, torch.tensor(cont)[:, None]).sum()))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    tokenizer = load_tokenizer(ARTIFACTS / "tokenizer" / "tokenizer.model")
    model = load_model(ARTIFACTS / "model" / "ckpt.pt")
    tasks = benchmarks.build_tasks(ARTIFACTS / "corpus")
    load_before = os.getloadavg()
    rows = ["| task | requests | ours (s) | one at a time (s) | speed-up | largest difference |"]
    rows.append("|---|---:|---:|---:|---:|---:|")
    for name in TASKS:
        delimiter = benchmarks.DELIMITER[name]
        requests = [(d["query"], delimiter + c) for d in tasks[name] for c in d["choices"]]
        ours = evaluate.LM(model, tokenizer)
        reference = evaluate.LM(model, tokenizer)
        diff = max(
            abs(a[0] - b)
            for a, b in zip(
                ours.loglikelihood(requests), one_at_a_time(reference, requests), strict=True
            )
        )
        times = interleaved(
            {
                "ours": lambda r=requests: evaluate.LM(model, tokenizer).loglikelihood(r),
                "reference": lambda r=requests: one_at_a_time(evaluate.LM(model, tokenizer), r),
            },
            warmup=1,
            repeats=args.repeats,
        )
        a, b = (statistics.median(times[k]) for k in ("ours", "reference"))
        rows.append(
            f"| {name} | {len(requests):,} | {a:.2f} | {b:.2f} | {b / a:.1f} | {diff:.1e} |"
        )
    load_after = os.getloadavg()
    record(
        "bench_eval",
        [
            "## Evaluator scoring against one request at a time (`bench/bench_eval.py`)",
            "",
            f"Command: `.venv/bin/python bench/bench_eval.py --write` on {today()}; machine: "
            f"{machine()}, torch {metadata.version('torch')} on {threads} threads; load "
            f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after.",
            "",
            "The book's CPU-pretrained model (2 layers, n_embd 96, block 256) scores every "
            "request of two of chapter 11's multiple-choice tasks. Ours: `LM.loglikelihood` "
            "(a question's context read once into a KV cache, the output layer only where a "
            "prediction is read). Reference: each request alone, one full forward pass, as "
            "lm-evaluation-harness's Hugging Face model scores it (without its batching). "
            f"Median of {args.repeats} runs each, taking turns after one warm-up run; a fresh "
            "`LM` each run, so no encoding is cached between runs.",
            "",
            *rows,
        ],
        args.write,
    )


if __name__ == "__main__":
    main()
