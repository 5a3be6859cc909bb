"""The classification chapter's runs on a GPU, with the pretraining chapter's
GPU model (chapter 9).

    python3 -m scratchllm.classify dataset --corpus build/artifacts/corpus \
        --out .gpu_in/classify.json
    python3 scripts/gpu_classify.py --tokens build/artifacts/tokens \
        --tokenizer build/artifacts/tokenizer/tokenizer.model \
        --dataset .gpu_in/classify.json --out OUT/gpu_classify.json

One process, one JSON file rewritten after every part:

1. Pretraining, as scripts/gpu_pretrain.py trains its largest size (its
   flags, its defaults; best-validation weights kept).
2. For that network and a randomly initialised one of the same shape: the
   linear probes (every pooling), the chapter's ablation
   (scratchllm.classify.ABLATIONS) and its learning curve (CURVE and all
   passages, probes and fine-tuning of all layers), each fine-tuning with
   every --seeds.

The file keeps each classifier's predictions on the test and held-out
passages, not only its scores, so that the chapter computes every measure
and interval itself, on the CPU, from the same passages (whose digest the
file records).  --smoke shrinks everything to run on a CPU in a minute.
"""

import argparse
import copy
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
from provenance import Report

# The GPU machine runs this file from a bare copy of the repository, with
# scratchllm not installed: the library comes from the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "code")]

import gpu_pretrain  # noqa: E402

from scratchllm import classify  # noqa: E402
from scratchllm.cli import load_tokenizer  # noqa: E402
from scratchllm.dataset import open_tokens  # noqa: E402
from scratchllm.train import make_model, token_vocab_size  # noqa: E402

WHAT = "scripts/gpu_classify.py: chapter 9's probes, ablation and learning curve"
CHECK_ROWS = 8  # test passages whose random-network vectors the file keeps


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", required=True, help="dir with train.bin, val.bin, test.bin")
    p.add_argument("--tokenizer", required=True, help="tokenizer.model")
    p.add_argument("--dataset", required=True, help="python -m scratchllm.classify dataset's file")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--pretrain-seconds", type=float, default=90)
    p.add_argument("--device", default="cuda")
    p.add_argument("--smoke", action="store_true", help="tiny settings, to test on a CPU")
    p.add_argument("--git-commit", default=None, help="for a copy without git history")
    return p.parse_args(argv)


def pretrain(args, device):
    """gpu_pretrain's largest size, trained as that script trains it;
    returns (record, model with the best-validation weights)."""
    flags = ["--tokens", args.tokens, "--tokenizer", args.tokenizer, "--out", "-"]
    flags += ["--device", args.device] + (["--smoke"] if args.smoke else [])
    if device.type != "cuda":
        flags.append("--no-compile")  # torch.compile is for GPUs
    pre = gpu_pretrain.parse_args(flags)
    size = (gpu_pretrain.SMOKE_SIZES if args.smoke else gpu_pretrain.SIZES)[-1]
    folder = Path(args.tokens)
    splits = {s: open_tokens(folder / f"{s}.bin") for s in ("train", "val", "test")}
    splits["vocab_size"] = token_vocab_size(folder / "train.bin")
    deadline = time.perf_counter() + args.pretrain_seconds
    record, trainer = gpu_pretrain.train_size(pre, size, device, splits, deadline)
    tokenizer = load_tokenizer(args.tokenizer)
    bpt = {s: gpu_pretrain.bytes_per_token(tokenizer, splits[s]) for s in ("val", "test")}
    record["full_eval"] = gpu_pretrain.evaluate_best(trainer, splits, bpt)
    return record, trainer.raw_model.float().eval()


def as_lists(predicted):
    return {split: [int(k) for k in p] for split, p in predicted.items()}


def classify_runs(args, report, nets, splits, data, y, K, device):
    """Probes, ablation and curve; every result lands in report.data."""
    config = classify.FinetuneConfig(
        max_len=nets["pretrained"].config.block_size,
        device=str(device),
        epochs=1 if args.smoke else classify.FinetuneConfig.epochs,
        min_steps=2 if args.smoke else classify.FinetuneConfig.min_steps,
    )
    report.data["finetune_config"] = dataclasses.asdict(config)
    probes, runs, curve = [], [], []
    report.data.update(probes=probes, runs=runs, curve=curve)
    feats = {
        (net, s): classify.features(model, data[s][0], device=device)
        for net, model in nets.items()
        for s in ("train", "test", "heldout")
    }
    # For the chapter to re-check on the CPU: the random network's vectors
    # of a few test passages (its weights come from the seed alone), and
    # the bag of words, which does not depend on the GPU at all.
    texts = {s: [p.text for p in ps] for s, ps in splits.items()}
    bow = classify.bag_of_words().fit(texts["train"], y["train"])
    report.data["check"] = dict(
        rows=CHECK_ROWS,
        random_init_last=feats["random init", "test"]["last"][:CHECK_ROWS].tolist(),
        bag_of_words={s: bow.predict(texts[s]).tolist() for s in ("test", "heldout")},
    )
    sizes = (*classify.CURVE, None)
    for net in nets:
        for how in classify.POOLING:
            for n in sizes if how == "last" else (None,):
                rows = classify.subsample(y["train"].tolist(), n) if n else slice(None)
                probe = classify.logistic_regression().fit(
                    feats[net, "train"][how][rows], y["train"][rows]
                )
                predicted = {s: probe.predict(feats[net, s][how]) for s in ("test", "heldout")}
                probes.append(dict(network=net, pooling=how, per_class=n, **as_lists(predicted)))
        report.write()

    def finetune(net, fields, seed, rows=None):
        cfg = dataclasses.replace(config, **fields, seed=seed)
        result = classify.run(copy.deepcopy(nets[net]), K, data, cfg, rows)
        del result["classifier"]  # its weights stay on the GPU machine
        result["predicted"] = as_lists(result["predicted"])
        return result

    # The curve's fine-tunings: from a random head, and from the probe's.
    curve_runs = [
        ("all layers", "pretrained", {}),
        ("all layers, head from the probe", "pretrained", dict(head_init="probe")),
        ("all layers", "random init", {}),
    ]
    for seed in args.seeds:
        for name, net, fields in classify.ABLATIONS:
            result = finetune(net, fields, seed)
            runs.append(dict(name=name, network=net, fields=fields, seed=seed, **result))
            print(f"[seed {seed}] {name}, {net}: {result['seconds']:.1f} s", flush=True)
            report.write()
        for n in classify.CURVE:
            rows = classify.subsample(y["train"].tolist(), n)
            for name, net, fields in curve_runs:
                result = finetune(net, fields, seed, rows)
                curve.append(dict(name=name, network=net, per_class=n, seed=seed, **result))
            report.write()


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32, as in pretraining
    report = Report(args.out, WHAT, device, args.seeds[0], args.git_commit, smoke=args.smoke)
    splits, labels = classify.load_dataset(args.dataset)
    if args.smoke:  # a few passages per label, from every split
        splits = {s: ps[:: max(1, len(ps) // 40)] for s, ps in splits.items()}
    K = len(labels)
    report.data["dataset"] = dict(
        file=args.dataset,
        digest=classify.dataset_digest(splits, labels),
        labels=labels,
        passages={s: len(ps) for s, ps in splits.items()},
    )
    record, model = pretrain(args, device)
    report.data["pretraining"] = record
    report.write()

    tokenizer = load_tokenizer(args.tokenizer)
    context = model.config.block_size
    y = {s: np.array([p.label for p in ps]) for s, ps in splits.items()}
    data = {s: (classify.encode(tokenizer, ps, context), y[s].tolist()) for s, ps in splits.items()}
    nets = {"pretrained": model, "random init": make_model(model.config, seed=0).to(device)}
    classify_runs(args, report, nets, splits, data, y, K, device)
    report.write()
    print(f"wrote {args.out} after {report.data['provenance']['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
