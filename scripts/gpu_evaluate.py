"""The evaluation chapter's benchmarks on a GPU, for the pretraining
chapter's GPU model (chapter 11).

    python3 -m scratchllm.evaluate tasks --corpus build/artifacts/corpus \
        --out .gpu_in/tasks
    python3 scripts/gpu_evaluate.py --tokens build/artifacts/tokens \
        --tokenizer build/artifacts/tokenizer/tokenizer.model \
        --tasks .gpu_in/tasks --examples .gpu_in/instructions.jsonl \
        --out OUT/gpu_evaluate.json

One process, one JSON file rewritten after every part:

1. Pretraining, as scripts/gpu_classify.py does it (gpu_pretrain's
   largest size, best-validation weights kept).
2. The untrained network of that shape (its seed's weights) and the
   pretrained one, on every task of the folder and on the reference
   responses of chapter 10's test questions: the per-item results
   (log-likelihoods and bytes, or acc, acc_norm, rank, greedy), so that
   the chapter computes every score and interval itself.
3. HumanEval: the canonical solutions' log-likelihoods (both networks),
   then, of the pretrained one, --samples samples a problem at
   temperature 0.8, run in the sandbox of
   scratchllm.humaneval; the file keeps each problem's count of passes
   and, for the chapter to run again on the CPU, the samples and verdicts
   of the first CHECK_PROBLEMS problems.

--smoke shrinks everything to run on a CPU in a minute.
"""

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from provenance import Report

# The GPU machine runs this file from a bare copy of the repository, with
# scratchllm not installed: the library comes from the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "code")]

import gpu_classify  # noqa: E402

from scratchllm import evaluate, humaneval  # noqa: E402
from scratchllm.cli import load_tokenizer  # noqa: E402
from scratchllm.data import benchmarks, instructions  # noqa: E402
from scratchllm.train import make_model  # noqa: E402

WHAT = "scripts/gpu_evaluate.py: chapter 11's benchmarks on the GPU model"
CHECK_PROBLEMS = 4  # problems whose samples the file keeps, to run again
TEMPERATURE = 0.8  # Chen et al. sample at 0.8 for pass@100
MAX_NEW_TOKENS = 128


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", required=True, help="dir with train.bin, val.bin, test.bin")
    p.add_argument("--tokenizer", required=True, help="tokenizer.model")
    p.add_argument("--tasks", required=True, help="python -m scratchllm.evaluate tasks' folder")
    p.add_argument("--examples", required=True, help="instructions.save_examples' file")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--pretrain-seconds", type=float, default=90)
    p.add_argument("--samples", type=int, default=100, help="HumanEval samples a problem")
    p.add_argument("--device", default="cuda")
    p.add_argument("--smoke", action="store_true", help="tiny settings, to test on a CPU")
    p.add_argument("--git-commit", default=None, help="for a copy without git history")
    return p.parse_args(argv)


def as_lists(items):
    return {k: np.asarray(v).tolist() for k, v in items.items()}


def task_items(lm, tasks):
    """Per-item results of every task, as lists."""
    found = {}
    for name, docs in tasks.items():
        if name in benchmarks.BITS_PER_BYTE:
            found[name] = as_lists(evaluate.bits_per_byte_items(lm, docs))
        else:
            delimiter = benchmarks.DELIMITER[name]
            found[name] = as_lists(evaluate.multiple_choice_items(lm, docs, delimiter))
    return found


def humaneval_record(items, problems):
    """What the file keeps of humaneval_items: the canonical solutions'
    likelihoods and, where there are samples, their counts and the first
    problems' samples."""
    record = dict(loglikelihood=items["loglikelihood"].tolist(), bytes=items["bytes"].tolist())
    if "verdicts" not in items:
        return record
    return record | dict(
        samples=items["verdicts"].shape[1],
        temperature=TEMPERATURE,
        max_new_tokens=MAX_NEW_TOKENS,
        passed=items["passed"].tolist(),
        verdicts=dict(Counter(items["verdicts"].ravel().tolist())),
        check=[
            dict(
                task_id=p["task_id"],
                completions=items["completions"][i],
                verdicts=items["verdicts"][i].tolist(),
            )
            for i, p in enumerate(problems[:CHECK_PROBLEMS])
        ],
    )


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32, as in pretraining
    report = Report(args.out, WHAT, device, 0, args.git_commit, smoke=args.smoke)
    tasks = benchmarks.load_tasks(args.tasks)
    report.data["tasks"] = dict(
        digest=benchmarks.digest(tasks), counts={k: len(v) for k, v in tasks.items()}
    )
    test = instructions.load_examples(args.examples)["test"]
    report.data["examples"] = dict(file=args.examples, digest=instructions.digest({"test": test}))
    problems = humaneval.problems()
    samples = args.samples
    if args.smoke:  # a few items of every task, two problems, two samples
        tasks = {k: v[:4] for k, v in tasks.items()}
        test, problems, samples = test[:4], problems[:2], 2
    record, model = gpu_classify.pretrain(args, device)
    report.data["pretraining"] = record
    report.write()
    tokenizer = load_tokenizer(args.tokenizer)
    untrained = make_model(model.config, seed=0).to(device).eval()
    report.data["models"] = {}
    for name, net in (("untrained", untrained), ("pretrained", model)):
        lm = evaluate.LM(net, tokenizer, str(device))
        report.data["models"][name] = dict(
            tasks=task_items(lm, tasks),
            instructions=as_lists(evaluate.instruction_items(lm, test)),
        )
        report.write()
        print(f"{name}: tasks scored", flush=True)
        # Samples of the pretrained network only: the untrained one's
        # would be noise, and cost the most.
        n = samples if name == "pretrained" else 0
        items = evaluate.humaneval_items(lm, problems, n, TEMPERATURE, MAX_NEW_TOKENS, seed=0)
        report.data["models"][name]["humaneval"] = humaneval_record(items, problems)
        report.write()
    print(f"wrote {args.out} after {report.data['provenance']['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
