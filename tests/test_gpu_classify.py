"""scripts/gpu_classify.py, end to end on the CPU with --smoke: a tiny
labelled dataset, random pretraining tokens, and the JSON file the
classification chapter reads (provenance, the dataset's digest, the
pretraining record, the probes, the ablation and the learning curve, each
with its predictions)."""

import re

import numpy as np
import pytest
from gpu_smoke import run_smoke

from scratchllm import classify
from scratchllm.classify import Passage
from scratchllm.dataset import write_tokens
from scratchllm.tokenizer import BPETokenizer

LABELS = ["Text Processing Services", "Data Types", "Internet Protocols"]
WORDS = [
    ["string", "pattern", "match", "format", "regular"],
    ["array", "heap", "calendar", "enum", "queue"],
    ["socket", "http", "server", "request", "port"],
]
# Passages per label of each split; train's 90 in all are more than --smoke's 40.
SIZES = {"train": 30, "val": 3, "test": 4, "heldout": 2}

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_dataset(seed=0):
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in SIZES.items():
        splits[split] = [
            Passage(
                text=" ".join(rng.choice(WORDS[label], 40)),
                label=label,
                module=f"{split}-{label}-{i % 3}",
                source="python-docs",
            )
            for label in range(len(LABELS))
            for i in range(n)
        ]
    return splits


def smoke_splits(splits):
    """The passages --smoke keeps: a few of every split."""
    return {s: ps[:: max(1, len(ps) // 40)] for s, ps in splits.items()}


def test_gpu_classify_smoke_run(tmp_path):
    splits = tiny_dataset()
    dataset = tmp_path / "classify.json"
    classify.save_dataset(dataset, splits, LABELS)
    text = "\n".join(p.text for ps in splits.values() for p in ps[:6])
    tokenizer = BPETokenizer().train(text, 300)
    tokenizer.save(tmp_path / "tokenizer.model")
    rng = np.random.default_rng(0)
    for split, n in (("train", 6000), ("val", 1500), ("test", 800)):
        write_tokens(tmp_path / f"{split}.bin", rng.integers(0, 256, n), tokenizer.vocab_size)
    out = tmp_path / "out" / "gpu_classify.json"
    args = ["--tokens", str(tmp_path), "--tokenizer", str(tmp_path / "tokenizer.model")]
    args += ["--dataset", str(dataset), "--seeds", "0"]
    data = run_smoke("gpu_classify.py", args, out)

    prov = data["provenance"]
    assert "--smoke" in prov["command"] and prov["smoke"] is True and prov["seed"] == 0
    assert prov["device"]["type"] == "cpu" and prov["wall_time_s"] > 0

    # The digest of the passages the runs used: --smoke's few, not the file's all.
    used = smoke_splits(splits)
    assert len(used["train"]) == 45 and used["test"] == splits["test"]
    info = data["dataset"]
    assert re.fullmatch(r"[0-9a-f]{64}", info["digest"])
    assert info["digest"] == classify.dataset_digest(used, LABELS)
    assert info["digest"] != classify.dataset_digest(splits, LABELS)
    assert info["labels"] == LABELS and info["file"] == str(dataset)
    assert info["passages"] == {s: len(ps) for s, ps in used.items()}

    pre = data["pretraining"]
    for split in ("val", "test"):
        ev = pre["full_eval"][split]
        assert np.isfinite(ev["loss"]) and ev["perplexity"] > 1 and ev["bits_per_byte"] > 0
    assert pre["model"]["vocab_size"] == tokenizer.vocab_size

    config = data["finetune_config"]
    assert config["epochs"] == 1 and config["min_steps"] == 2 and config["device"] == "cpu"
    assert config["max_len"] == pre["model"]["block_size"]

    K = len(LABELS)
    networks = ("pretrained", "random init")

    def check_predictions(record):
        for split in ("test", "heldout"):
            predicted = record[split] if split in record else record["predicted"][split]
            assert len(predicted) == len(used[split]), split
            assert all(isinstance(k, int) and 0 <= k < K for k in predicted)

    check = data["check"]
    assert len(check["random_init_last"]) == min(check["rows"], len(used["test"]))
    check_predictions({"predicted": check["bag_of_words"]})

    probes = data["probes"]
    expected = [
        (net, how, n)
        for net in networks
        for how in classify.POOLING
        for n in ((*classify.CURVE, None) if how == "last" else (None,))
    ]
    assert [(p["network"], p["pooling"], p["per_class"]) for p in probes] == expected
    for probe in probes:
        check_predictions(probe)

    runs = data["runs"]
    assert [(r["name"], r["network"], r["fields"], r["seed"]) for r in runs] == [
        (*ablation, 0) for ablation in classify.ABLATIONS
    ]
    for run in runs:
        check_predictions(run)
        assert run["trainable"] > 0 and run["seconds"] > 0
        # 45 passages in batches of 16 make 3 steps: min_steps 2 adds no epoch.
        assert [h["epoch"] for h in run["history"]] == [1]
    trainable = {r["fields"].get("trainable", "all"): r["trainable"] for r in runs}
    assert trainable["lora"] < trainable["last"] < trainable["all"]

    curve = data["curve"]
    names = ["all layers", "all layers, head from the probe", "all layers"]
    nets = ["pretrained", "pretrained", "random init"]
    assert [(c["name"], c["network"], c["per_class"], c["seed"]) for c in curve] == [
        (name, net, n, 0) for n in classify.CURVE for name, net in zip(names, nets, strict=True)
    ]
    for point in curve:
        check_predictions(point)
