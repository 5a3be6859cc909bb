"""Fine-tuning for classification: which chapter of the Library Reference
a passage of the documentation comes from.

    passage -> token ids -> the GPT's blocks -> the hidden state of the last
        real token -> a new linear head -> one logit per chapter

The pieces, top to bottom: the labels (read from the documentation's own
table of contents), the passages (split by module), the classifier and its
pooling, batches, fine-tuning (reusing scratchllm.train's optimizer and
schedule), the measures and their bootstrap intervals, a bag-of-words
baseline, and a command line:

    python -m scratchllm.classify train --model ckpt.pt --tokenizer tok.model \\
        --corpus corpus/ --out classifier.pt
    python -m scratchllm.classify predict --classifier classifier.pt "text"
"""

import argparse
import copy
import dataclasses
import hashlib
import json
import pickle
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.nn import functional as F

from scratchllm import lora
from scratchllm.cli import at_least, existing, load_tokenizer, run_command
from scratchllm.config import GPTConfig
from scratchllm.data import read_split
from scratchllm.data.corpus import SPLITS
from scratchllm.data.sources import find_doc_root, module_group
from scratchllm.dataset import length_buckets
from scratchllm.io import atomic_write
from scratchllm.model import GPT
from scratchllm.stats import cluster_resamples
from scratchllm.train import (
    configure_optimizer,
    cosine_lr,
    load_model,
    reading_checkpoint,
)

# --- the labels: the chapters of the Library Reference ------------------------


class _Toctree(HTMLParser):
    """The first-level entries of a Sphinx page's table of contents:
    (href, title) for each <li class="toctree-l1"><a href=...>title</a>."""

    def __init__(self):
        super().__init__()
        self.entries, self._href, self._title = [], None, []
        self._in_entry = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li":
            self._in_entry = "toctree-l1" in (attrs.get("class") or "")
        elif tag == "a" and self._in_entry:
            self._href, self._title = attrs.get("href", ""), []

    def handle_data(self, data):
        if self._href is not None:
            self._title.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            page = self._href.split("#")[0]
            self.entries.append((page, "".join(self._title).strip()))
            self._href, self._in_entry = None, False


def toctree(path):
    parser = _Toctree()
    parser.feed(Path(path).read_text(errors="replace"))
    return parser.entries


@dataclass(frozen=True)
class Chapter:
    page: str  # "text.html"
    title: str  # "Text Processing Services"
    modules: tuple  # the split groups of its pages: ("difflib", "re", ...)


def library_chapters(doc_root=None):
    """The chapters of the Library Reference (library/index.html), each
    with the modules its own table of contents lists.  A module listed
    under two chapters (os: its page in one, os.path in another) belongs to
    neither: a label must not depend on which page a passage came from."""
    library = Path(doc_root or find_doc_root()) / "library"
    chapters, seen = [], defaultdict(set)
    for page, title in toctree(library / "index.html"):
        pages = [p for p, _ in toctree(library / page)]
        modules = sorted(
            {module_group(Path(p).stem.split(".")[0]) for p in pages}
        )
        chapters.append(Chapter(page, title, tuple(modules)))
        for module in modules:
            seen[module].add(page)
    shared = {m for m, pages in seen.items() if len(pages) > 1}
    return [
        dataclasses.replace(
            c, modules=tuple(m for m in c.modules if m not in shared)
        )
        for c in chapters
    ]


# A chapter is a label when it has enough modules for each split to get
# some; "Superseded Modules" gathers modules by age, not by topic.
MIN_MODULES = 8
NOT_A_TOPIC = ("superseded.html",)


def label_chapters(chapters, min_modules=MIN_MODULES, present=None):
    """The chapters that make the label set: those with at least
    min_modules modules (of those in `present`, if given)."""

    def count(c):
        return sum(1 for m in c.modules if present is None or m in present)

    return [
        c
        for c in chapters
        if c.page not in NOT_A_TOPIC and count(c) >= min_modules
    ]


# --- the passages --------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    text: str
    label: int  # index into the label set
    module: str  # the split group it came from
    source: str  # the corpus source: "python-docs", "stdlib", ...


# Prose only: the documentation's pages and the modules' docstrings.
PROSE_SOURCES = ("python-docs", "python-docs-source", "stdlib")


def split_passages(text, size=600, min_size=200):
    """The text cut into passages of at most `size` characters, at
    paragraph breaks where it can, inside a paragraph at a space where a
    paragraph is longer; passages shorter than min_size (a lone heading,
    the tail of a page) are dropped."""
    pieces = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        while len(paragraph) > size:
            cut = paragraph.rfind(" ", 0, size)
            cut = size if cut <= 0 else cut
            pieces.append(paragraph[:cut])
            paragraph = paragraph[cut:].strip()
        if paragraph:
            pieces.append(paragraph)
    passages, current = [], ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > size:
            passages.append(current)
            current = ""
        current = f"{current}\n\n{piece}" if current else piece
    passages.append(current)
    return [p for p in passages if len(p) >= min_size]


def _rank(name, salt):
    digest = hashlib.sha256(f"{salt}:{name}".encode()).hexdigest()
    return int(digest[:12], 16)


# Of each label's modules: the fractions for test and for validation.
SPLIT_FRACTIONS = (0.25, 0.15)


def split_modules(modules_by_label, fractions=SPLIT_FRACTIONS, salt="classify"):
    """train / val / test by module, within each label, so that every label
    has modules on every side: the first round(fractions[0] * n) modules
    (at least one) in a hash order go to test, the next to val."""
    split = {}
    for modules in modules_by_label.values():
        ordered = sorted(modules, key=lambda m: _rank(m, salt))
        n_test = max(1, round(fractions[0] * len(ordered)))
        n_val = max(1, round(fractions[1] * len(ordered)))
        for i, module in enumerate(ordered):
            split[module] = (
                "test"
                if i < n_test
                else "val"
                if i < n_test + n_val
                else "train"
            )
    return split


@dataclass
class DatasetConfig:
    size: int = 600  # characters per passage, at most
    min_size: int = 200
    per_module: int = 40  # passages per module, at most, evenly spaced
    min_modules: int = MIN_MODULES


def build_dataset(corpus, doc_root=None, config=None):
    """The labelled passages, by split, and the label names.

    Returns (splits, labels): splits maps "train", "val", "test" and
    "heldout" to lists of Passages; "heldout" holds the modules that the
    corpus held out of pretraining, which neither the language model nor
    the classifier saw.  The others are split by split_modules.  A module
    gives at most config.per_module passages, spread evenly over its
    documents, so that a large module (multiprocessing, logging) does not
    become its label.
    """
    config = config or DatasetConfig()
    texts, heldout = defaultdict(list), set()
    for name in SPLITS:
        for doc in read_split(corpus, name):
            if doc["source"] in PROSE_SOURCES:
                texts[doc["group"]].append(
                    (doc["id"], doc["source"], doc["text"])
                )
                if name == "heldout":
                    heldout.add(doc["group"])
    chapters = label_chapters(
        library_chapters(doc_root), config.min_modules, present=texts
    )
    labels = [c.title for c in chapters]
    by_label = {
        i: [m for m in c.modules if m in texts and m not in heldout]
        for i, c in enumerate(chapters)
    }
    split = split_modules(by_label)
    splits = {name: [] for name in ("train", "val", "test", "heldout")}
    for label, chapter in enumerate(chapters):
        for module in chapter.modules:
            if module not in texts:
                continue
            side = "heldout" if module in heldout else split[module]
            splits[side].extend(
                _module_passages(texts[module], label, module, config)
            )
    return splits, labels


def _module_passages(documents, label, module, config):
    found = [
        (text, source)
        for _, source, document in sorted(documents)
        for text in split_passages(document, config.size, config.min_size)
    ]
    if len(found) > config.per_module:
        keep = np.linspace(0, len(found) - 1, config.per_module).round()
        found = [found[int(i)] for i in keep]
    return [Passage(text, label, module, source) for text, source in found]


def save_dataset(path, splits, labels):
    """The passages and label names as JSON, for a machine without the
    documentation (the GPU track)."""
    data = dict(
        labels=list(labels),
        splits={
            name: [dataclasses.asdict(p) for p in passages]
            for name, passages in splits.items()
        },
    )
    text = json.dumps(data, indent=1).encode()
    atomic_write(path, lambda f: f.write(text))


def load_dataset(path):
    """(splits, labels) as build_dataset returns them, from save_dataset's
    file."""
    data = json.loads(Path(path).read_text())
    splits = {
        name: [Passage(**p) for p in passages]
        for name, passages in data["splits"].items()
    }
    return splits, data["labels"]


def dataset_digest(splits, labels):
    """A SHA-256 of the passages, their labels and modules: two machines
    that print the same digest trained and tested on the same data."""
    h = hashlib.sha256(json.dumps(labels).encode())
    for name in sorted(splits):
        for p in splits[name]:
            h.update(json.dumps([name, *dataclasses.astuple(p)]).encode())
    return h.hexdigest()


# --- the classifier --------------------------------------------------------------

POOLING = ("last", "first", "mean")


def pool(hidden, lengths, how="last"):
    """One vector per sequence from hidden (B, T, C) of right-padded
    sequences with `lengths` real tokens each.

    last:  the last real token's state; under causal attention it is the
           only one that has read the whole passage, and, sequences being
           padded on the right, it has read no padding
    first: the first token's, which has read one token
    mean:  the mean over the real tokens
    """
    if how == "last":
        rows = torch.arange(hidden.size(0), device=hidden.device)
        return hidden[rows, lengths - 1]
    if how == "first":
        return hidden[:, 0]
    if how == "mean":
        T = hidden.size(1)
        real = (
            torch.arange(T, device=hidden.device) < lengths[:, None]
        )  # (B, T)
        summed = (hidden * real[..., None]).sum(dim=1)
        return summed / lengths[:, None].to(hidden.dtype)
    raise ValueError(
        f"pooling must be one of {', '.join(POOLING)}, not {how!r}"
    )


class GPTClassifier(nn.Module):
    """A pretrained GPT's blocks and final norm, with a linear head that maps
    the pooled hidden state to one logit per class, in place of lm_head."""

    def __init__(self, gpt, n_classes, pooling="last"):
        super().__init__()
        if pooling not in POOLING:
            raise ValueError(f"pooling must be one of {', '.join(POOLING)}")
        self.gpt, self.pooling = gpt, pooling
        self.head = nn.Linear(gpt.config.n_embd, n_classes)
        # The language model's output layer is not used: it must not train
        # (with tied embeddings it is the token table, which trains as such).
        if not gpt.config.tie_embeddings:
            gpt.lm_head.requires_grad_(False)

    def forward(self, idx, lengths):
        """idx (B, T) right-padded token ids, lengths (B,) -> logits (B, K)."""
        hidden = self.gpt.hidden_states(idx)  # (B, T, C), after ln_f
        return self.head(pool(hidden, lengths, self.pooling))


TRAINABLE = ("head", "last", "all", "lora")


def set_trainable(classifier, part, rank=8, alpha=16):
    """Freeze all but `part`:

    head:  the new head alone (a linear probe of the pretrained features)
    last:  the last block, the final norm and the head
    all:   everything
    lora:  low-rank corrections of every linear layer, and the head
    Returns the number of trainable parameters."""
    gpt = classifier.gpt
    if part not in TRAINABLE:
        raise ValueError(
            f"trainable part must be one of {', '.join(TRAINABLE)}"
        )
    if part == "lora":
        lora.add_lora(gpt, rank, alpha)
    else:
        gpt.requires_grad_(part == "all")
        if part == "last":
            gpt.transformer.h[-1].requires_grad_(True)
            gpt.transformer.ln_f.requires_grad_(True)
    classifier.head.requires_grad_(True)
    if not gpt.config.tie_embeddings:
        gpt.lm_head.requires_grad_(False)
    return sum(p.numel() for p in classifier.parameters() if p.requires_grad)


# The book's ablation (chapter and GPU track): a name, the network, and the
# FinetuneConfig fields that differ from the defaults; and the labelled
# passages per label of its learning curve, besides all of them.
ABLATIONS = (
    ("last block + norm + head", "pretrained", dict(trainable="last")),
    ("all layers", "pretrained", dict(trainable="all")),
    ("all layers, head from the probe", "pretrained", dict(head_init="probe")),
    ("LoRA + head", "pretrained", dict(trainable="lora")),
    ("all layers", "random init", dict(trainable="all")),
)
CURVE = (25, 50, 100)

# --- batches ----------------------------------------------------------------------


def encode(tokenizer, passages, max_len):
    """Token ids of each passage's text, the first max_len of them."""
    return [tokenizer.encode_ordinary(p.text)[:max_len] for p in passages]


def batches(ids, labels, batch_size, generator=None, pad_id=0):
    """(idx, lengths, labels, rows) batches of similar length
    (dataset.length_buckets), right-padded to their longest row."""
    lengths = [len(row) for row in ids]
    for chunk in length_buckets(lengths, batch_size, generator):
        lengths = torch.tensor([len(ids[i]) for i in chunk])
        idx = torch.full((len(chunk), int(lengths.max())), pad_id)
        for row, i in enumerate(chunk):
            idx[row, : len(ids[i])] = torch.tensor(ids[i])
        yield idx, lengths, torch.tensor([labels[i] for i in chunk]), chunk


# --- fine-tuning ------------------------------------------------------------------


@dataclass
class FinetuneConfig:
    trainable: str = "all"  # head, last, all or lora
    pooling: str = "last"
    head_init: str = "random"  # or "probe": the linear probe's optimum
    epochs: int = 3
    min_steps: int = 100  # more epochs when a small training set needs them
    batch_size: int = 16
    max_lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    lora_rank: int = 8
    lora_alpha: int = 16
    max_len: int = 256  # tokens per passage, at most (the model's context)
    seed: int = 1234
    device: str = "cpu"


@torch.no_grad()
def predict(classifier, ids, batch_size=64, device="cpu"):
    """The predicted class of each token sequence, and the logits."""
    classifier.eval()
    logits = torch.zeros(len(ids), classifier.head.out_features)
    for idx, lengths, _, rows in batches(ids, [0] * len(ids), batch_size):
        out = classifier(idx.to(device), lengths.to(device))
        logits[rows] = out.float().cpu()
    return logits.argmax(dim=1).numpy(), logits


def finetune(classifier, train, val, config):
    """Train `classifier` on train = (ids, labels), keeping the weights of
    the epoch with the best accuracy on val = (ids, labels).  AdamW with
    train's two parameter groups, cosine_lr over all steps; config.epochs
    epochs, or more if they would make fewer than config.min_steps steps.
    Returns the history: one dict per epoch (epoch, train_loss,
    val_accuracy)."""
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    classifier.to(device)
    optimizer = configure_optimizer(
        classifier,
        config.weight_decay,
        config.max_lr,
        (0.9, 0.999),
        device.type,
    )
    generator = torch.Generator().manual_seed(config.seed)
    per_epoch = -(-len(train[0]) // config.batch_size)
    epochs = max(config.epochs, -(-config.min_steps // per_epoch))
    max_steps = epochs * per_epoch
    warmup = int(config.warmup_fraction * max_steps)
    history, best, step = [], (-1.0, None), 0
    for epoch in range(1, epochs + 1):
        classifier.train()
        losses = []
        for idx, lengths, y, _ in batches(*train, config.batch_size, generator):
            lr = cosine_lr(
                step, config.max_lr, config.min_lr, warmup, max_steps
            )
            for group in optimizer.param_groups:
                group["lr"] = lr
            logits = classifier(idx.to(device), lengths.to(device))
            loss = F.cross_entropy(logits, y.to(device))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            step += 1
        predicted, _ = predict(classifier, val[0], device=device)
        accuracy = float(np.mean(predicted == np.asarray(val[1])))
        history.append(
            dict(
                epoch=epoch,
                train_loss=float(np.mean(losses)),
                val_accuracy=accuracy,
            )
        )
        if accuracy > best[0]:
            best = (accuracy, copy.deepcopy(classifier.state_dict()))
    classifier.load_state_dict(best[1])
    return history


def probe_head(classifier, ids, labels, device="cpu"):
    """Set the head to the linear probe's optimum on the frozen network's
    features: linear probing, then fine-tuning (LP-FT, Kumar et al., 2022).
    A random head sends large, random gradients into the network at the
    start and distorts the features it was meant to read; a fitted one does
    not.  The probe standardises its inputs, x' = (x - mean) / scale, which
    folds into the weights: w' = w / scale, b' = b - w' . mean."""
    x = features(classifier.gpt, ids, device=device)[classifier.pooling]
    probe = logistic_regression().fit(x, labels)
    scaler, regression = probe[0], probe[-1]
    weight = regression.coef_ / scaler.scale_
    bias = regression.intercept_ - weight @ scaler.mean_
    if len(regression.classes_) == 2:  # one logit: class 1 against class 0
        weight = np.stack([-weight[0], weight[0]]) / 2
        bias = np.array([-bias[0], bias[0]]) / 2
    head, rows = classifier.head, torch.as_tensor(regression.classes_)
    with torch.no_grad():  # a label absent from `labels` keeps its row
        head.weight[rows] = torch.as_tensor(weight).to(head.weight)
        head.bias[rows] = torch.as_tensor(bias).to(head.bias)


def run(gpt, n_classes, data, config, train_rows=None):
    """Fine-tune a classifier on `gpt` as config says and predict the other
    splits: data maps split names to (ids, labels); train_rows, if given,
    picks the training examples.  Returns a dict: the classifier, trainable
    (its number of trainable parameters), history, seconds, and predicted
    {split: array} for test and heldout."""
    start = time.perf_counter()
    torch.manual_seed(config.seed)  # the head's initial weights
    classifier = GPTClassifier(gpt, n_classes, config.pooling)
    trainable = set_trainable(
        classifier, config.trainable, config.lora_rank, config.lora_alpha
    )
    ids, labels = data["train"]
    if train_rows is not None:
        ids, labels = (
            [ids[i] for i in train_rows],
            [labels[i] for i in train_rows],
        )
    if config.head_init == "probe":
        probe_head(classifier, ids, labels, config.device)
    history = finetune(classifier, (ids, labels), data["val"], config)
    predicted = {
        split: predict(classifier, data[split][0], device=config.device)[0]
        for split in ("test", "heldout")
    }
    seconds = time.perf_counter() - start
    return dict(
        classifier=classifier,
        trainable=trainable,
        history=history,
        seconds=seconds,
        predicted=predicted,
    )


def subsample(labels, per_class, seed=0):
    """Indices of at most per_class examples of each label, drawn at random
    (seeded): the first per_class of each label in one permutation, so that
    a larger sample contains every smaller one."""
    order = torch.randperm(
        len(labels), generator=torch.Generator().manual_seed(seed)
    )
    taken, keep = defaultdict(int), []
    for i in order.tolist():
        if taken[labels[i]] < per_class:
            taken[labels[i]] += 1
            keep.append(i)
    return sorted(keep)


# --- frozen features and linear models ---------------------------------------------


@torch.no_grad()
def features(gpt, ids, batch_size=64, device="cpu"):
    """Each sequence's pooled hidden state, every pooling from one pass:
    {pooling: array (N, C)}."""
    gpt.eval().to(device)
    out = {how: torch.zeros(len(ids), gpt.config.n_embd) for how in POOLING}
    for idx, lengths, _, rows in batches(ids, [0] * len(ids), batch_size):
        hidden = gpt.hidden_states(idx.to(device))
        for how in POOLING:
            out[how][rows] = pool(hidden, lengths.to(device), how).float().cpu()
    return {how: x.numpy() for how, x in out.items()}


def logistic_regression(C=1.0):
    """Multinomial logistic regression on standardised inputs: the linear
    probe of frozen features, trained to its optimum by L-BFGS."""
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=5000)
    )


def bag_of_words(C=10.0):
    """The baseline without any pretraining: TF-IDF weights of the words
    (sublinear counts, words seen in at least two passages) into a
    logistic regression."""
    return make_pipeline(
        TfidfVectorizer(sublinear_tf=True, min_df=2),
        LogisticRegression(C=C, max_iter=5000),
    )


# --- measures and their intervals ---------------------------------------------------


def confusion(y, predicted, n_classes):
    """counts[i, j]: examples of class i predicted as class j."""
    y, predicted = np.asarray(y), np.asarray(predicted)
    flat = np.bincount(y * n_classes + predicted, minlength=n_classes**2)
    return flat.reshape(n_classes, n_classes)


def accuracy(counts):
    return np.trace(counts) / counts.sum()


def macro_f1(counts):
    """The mean over the classes present (a row with examples) of each
    class's F1 = 2 TP / (2 TP + FP + FN)."""
    tp = np.diag(counts).astype(float)
    fp = counts.sum(axis=0) - tp
    fn = counts.sum(axis=1) - tp
    present = counts.sum(axis=1) > 0
    return np.mean(2 * tp[present] / (2 * tp + fp + fn)[present])


MEASURES = dict(accuracy=accuracy, macro_f1=macro_f1)


def bootstrap(y, predictions, groups, n_classes, resamples=1000, seed=0):
    """Each measure of each prediction, on `resamples` cluster resamples
    of the test set (modules drawn with replacement, all their passages
    taken; scratchllm.stats): {name: {measure: array (resamples,)}}.
    Every prediction is measured on the same resamples, so the difference
    of two is the difference on each resample: a paired comparison."""
    y = np.asarray(y)
    out = {
        name: {m: np.empty(resamples) for m in MEASURES} for name in predictions
    }
    for r, sample in enumerate(cluster_resamples(groups, resamples, seed)):
        for name, predicted in predictions.items():
            counts = confusion(
                y[sample], np.asarray(predicted)[sample], n_classes
            )
            for m, measure in MEASURES.items():
                out[name][m][r] = measure(counts)
    return out


# --- saving, loading, and the command line ------------------------------------------


def save_classifier(path, classifier, labels):
    """The classifier's weights (LoRA merged into its layers), the GPT's
    config, the pooling and the label names, in one file."""
    gpt = lora.merge_lora(copy.deepcopy(classifier.gpt))
    state = dict(
        gpt=gpt.state_dict(),
        gpt_config=dataclasses.asdict(gpt.config),
        head=classifier.head.state_dict(),
        pooling=classifier.pooling,
        labels=list(labels),
    )
    atomic_write(path, lambda f: torch.save(state, f))


def load_classifier(path, device="cpu"):
    """(classifier in eval mode, label names) from save_classifier's file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        gpt = GPT(GPTConfig(**state["gpt_config"]))
        gpt.load_state_dict(state["gpt"])
        labels, pooling = state["labels"], state["pooling"]
        classifier = GPTClassifier(gpt, len(labels), pooling)
        classifier.head.load_state_dict(state["head"])
    except (
        pickle.UnpicklingError,
        RuntimeError,
        KeyError,
        TypeError,
        EOFError,
    ):
        msg = f"{path} is not a classifier python -m scratchllm.classify wrote"
        raise ValueError(msg) from None
    return classifier.to(device).eval(), labels


def _train(args):
    splits, labels = build_dataset(args.corpus, args.doc_root, DatasetConfig())
    tokenizer = load_tokenizer(args.tokenizer)
    with reading_checkpoint(args.model):
        gpt = load_model(args.model)
    config = FinetuneConfig(
        trainable=args.trainable,
        pooling=args.pooling,
        epochs=args.epochs,
        max_lr=args.max_lr,
        min_lr=args.max_lr / 10,
        max_len=gpt.config.block_size,
        seed=args.seed,
        device=args.device,
    )
    data = {
        name: (
            encode(tokenizer, passages, config.max_len),
            [p.label for p in passages],
        )
        for name, passages in splits.items()
    }
    torch.manual_seed(config.seed)
    classifier = GPTClassifier(gpt, len(labels), config.pooling)
    n = set_trainable(
        classifier, config.trainable, config.lora_rank, config.lora_alpha
    )
    print(
        f"{len(labels)} labels, {len(data['train'][0])} training passages, "
        f"{n:,} trainable parameters",
        file=sys.stderr,
    )
    for record in finetune(classifier, data["train"], data["val"], config):
        print(
            f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, "
            f"val accuracy {record['val_accuracy']:.3f}",
            file=sys.stderr,
        )
    for name in ("test", "heldout"):
        ids, y = data[name]
        if ids:
            predicted, _ = predict(classifier, ids, device=config.device)
            counts = confusion(y, predicted, len(labels))
            print(
                f"{name}: accuracy {accuracy(counts):.3f}, "
                f"macro-F1 {macro_f1(counts):.3f} ({len(y)} passages)"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_classifier(args.out, classifier.cpu(), labels)


def _dataset(args):
    splits, labels = build_dataset(args.corpus, args.doc_root)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_dataset(args.out, splits, labels)
    counts = ", ".join(f"{name} {len(ps)}" for name, ps in splits.items())
    print(f"{len(labels)} labels; passages: {counts}")
    print(f"digest {dataset_digest(splits, labels)}")


def _predict(args):
    classifier, labels = load_classifier(args.classifier)
    tokenizer = load_tokenizer(args.tokenizer)
    texts = args.text or [sys.stdin.read()]
    max_len = classifier.gpt.config.block_size
    ids = [tokenizer.encode_ordinary(t)[:max_len] for t in texts]
    if not all(ids):
        raise ValueError("an empty text has no token to classify")
    predicted, logits = predict(classifier, ids)
    probabilities = logits.softmax(dim=1)
    for text, k, p in zip(texts, predicted, probabilities, strict=True):
        print(f"{labels[k]}\t{p[k]:.2f}\t{' '.join(text.split())[:60]}")


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.classify",
        description="Fine-tune a pretrained GPT to tell which chapter of the "
        "Library Reference a passage comes from, and classify text with it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    doc_root = dict(
        type=existing,
        default=None,
        help="the HTML documentation (default: python3-doc's)",
    )
    dataset = commands.add_parser("dataset", help="write the passages as JSON")
    dataset.add_argument(
        "--corpus", required=True, type=existing, metavar="DIR"
    )
    dataset.add_argument("--doc-root", **doc_root)
    dataset.add_argument("--out", required=True, type=Path, help="dataset.json")
    dataset.set_defaults(run=_dataset)
    train = commands.add_parser("train", help="fine-tune from a checkpoint")
    train.add_argument("--model", required=True, type=existing, help="ckpt.pt")
    train.add_argument("--tokenizer", required=True, type=existing)
    train.add_argument("--corpus", required=True, type=existing, metavar="DIR")
    train.add_argument("--doc-root", **doc_root)
    train.add_argument("--out", required=True, type=Path, help="classifier.pt")
    train.add_argument("--trainable", choices=TRAINABLE, default="all")
    train.add_argument("--pooling", choices=POOLING, default="last")
    train.add_argument(
        "--epochs", type=at_least(1), default=FinetuneConfig.epochs
    )
    train.add_argument("--max-lr", type=float, default=FinetuneConfig.max_lr)
    train.add_argument("--seed", type=int, default=FinetuneConfig.seed)
    train.add_argument("--device", default="cpu")
    train.set_defaults(run=_train)
    predict_ = commands.add_parser("predict", help="classify text")
    predict_.add_argument("--classifier", required=True, type=existing)
    predict_.add_argument("--tokenizer", required=True, type=existing)
    predict_.add_argument(
        "text", nargs="*", help="texts (default: standard input)"
    )
    predict_.set_defaults(run=_predict)
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    run_command(parser, args.run, args)


if __name__ == "__main__":
    main()
