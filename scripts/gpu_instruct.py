"""The instruction-tuning chapter's runs on a GPU, with the pretraining
chapter's GPU model (chapter 10).

    python3 -c "from scratchllm.data import instructions as i; \
        i.save_examples('.gpu_in/instructions.jsonl', i.build_examples())"
    python3 scripts/gpu_instruct.py --tokens build/artifacts/tokens \
        --tokenizer build/artifacts/tokenizer/tokenizer.model \
        --examples .gpu_in/instructions.jsonl --out OUT/gpu_instruct.json

One process, one JSON file rewritten after every part:

1. Pretraining, as scripts/gpu_classify.py does it (gpu_pretrain's
   largest size, best-validation weights kept).
2. The pretrained model's answers to the test questions, then each run of
   scratchllm.instruct.RUNS from a fresh copy of it: its history (losses,
   seconds per step, AdamW's bytes), its trainable parameters and its
   answers.

The file keeps the answers, not only their scores, so that the chapter
scores them itself, on the CPU (doctests are run there), against the same
questions, whose digest the file records.  --smoke shrinks everything to
run on a CPU in a minute.
"""

import argparse
import copy
import dataclasses
import sys
from pathlib import Path

import torch
from provenance import Report

# The GPU machine runs this file from a bare copy of the repository, with
# scratchllm not installed: the library comes from the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "code")]

import gpu_classify  # noqa: E402

from scratchllm import instruct, lora  # noqa: E402
from scratchllm.cli import load_tokenizer  # noqa: E402
from scratchllm.data import instructions  # noqa: E402

WHAT = "scripts/gpu_instruct.py: chapter 10's fine-tuning runs and their answers"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", required=True, help="dir with train.bin, val.bin, test.bin")
    p.add_argument("--tokenizer", required=True, help="tokenizer.model")
    p.add_argument("--examples", required=True, help="instructions.save_examples' file")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--pretrain-seconds", type=float, default=90)
    p.add_argument(
        "--lr-scale",
        type=float,
        default=0.1,
        help="times every run's learning rates: the CPU runs' diverge on this larger model",
    )
    p.add_argument("--device", default="cuda")
    p.add_argument("--smoke", action="store_true", help="tiny settings, to test on a CPU")
    p.add_argument("--git-commit", default=None, help="for a copy without git history")
    return p.parse_args(argv)


def run_all(args, report, model, tokenizer, splits, device):
    """The base model's answers, then every run's; each lands in report.data."""
    context = model.config.block_size
    train, dropped = instruct.encode_all(tokenizer, splits["train"], context)
    val, _ = instruct.encode_all(tokenizer, splits["val"], context)
    test = splits["test"]
    report.data["dropped"] = dropped

    def answers(net):
        return [instruct.answer(net, tokenizer, ex.instruction, device=device) for ex in test]

    report.data["runs"] = {"pretrained": dict(answers=answers(model))}
    report.write()
    for name, config in instruct.RUNS.items():
        fields = dict(
            device=str(device),
            epochs=1 if args.smoke else config.epochs,
            max_lr=config.max_lr * args.lr_scale,
            min_lr=config.min_lr * args.lr_scale,
        )
        config = dataclasses.replace(config, **fields)
        net = instruct.prepare(copy.deepcopy(model), config)
        history = instruct.finetune(net, train, val, config)
        report.data["runs"][name] = dict(
            config=dataclasses.asdict(config),
            trainable=lora.trainable_parameters(net),
            history=history,
            answers=answers(net),
        )
        report.write()
        print(f"{name}: validation loss {history['val_loss']}", flush=True)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32, as in pretraining
    report = Report(args.out, WHAT, device, 0, args.git_commit, smoke=args.smoke)
    splits = instructions.load_examples(args.examples)
    if args.smoke:  # a few examples of every split
        splits = {s: exs[:: max(1, len(exs) // 30)] for s, exs in splits.items()}
    report.data["examples"] = dict(
        file=args.examples,
        digest=instructions.digest(splits),
        counts=instructions.counts(splits),
    )
    record, model = gpu_classify.pretrain(args, device)
    report.data["pretraining"] = record
    report.write()
    tokenizer = load_tokenizer(args.tokenizer)
    run_all(args, report, model, tokenizer, splits, device)
    report.write()
    print(f"wrote {args.out} after {report.data['provenance']['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
