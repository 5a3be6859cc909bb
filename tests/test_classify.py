"""Fine-tuning for classification, scratchllm.classify: the labels read from
the Library Reference's table of contents, the passages split by module, the
classifier and its pooling, what each trainable part trains, batches, that
fine-tuning learns a separable toy task, the measures against scikit-learn,
the cluster bootstrap, saving and loading, and the command line."""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from scratchllm import classify
from scratchllm.classify import (
    DatasetConfig,
    FinetuneConfig,
    GPTClassifier,
    Passage,
)
from scratchllm.config import GPTConfig
from scratchllm.data.corpus import SPLITS
from scratchllm.lora import LoRALinear
from scratchllm.model import GPT
from scratchllm.tokenizer import BPETokenizer

ROOT = Path(__file__).resolve().parent.parent
V = 64
TINY = dict(block_size=16, vocab_size=V, n_layer=2, n_head=2, n_embd=16)
MODERN = dict(norm="rmsnorm", mlp="swiglu", position="rope", bias=False, tie_embeddings=False)
VARIANTS = {"gpt2": {}, "modern": MODERN}

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_gpt(seed=0, **fields):
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **fields})).eval()


def tiny_classifier(n_classes=3, pooling="last", seed=0, **fields):
    gpt = tiny_gpt(seed, **fields)
    torch.manual_seed(seed + 1)
    return GPTClassifier(gpt, n_classes, pooling).eval()


def random_ids(lengths, seed=0, low=1, high=V):
    g = np.random.default_rng(seed)
    return [g.integers(low, high, n).tolist() for n in lengths]


def toy(n, seed):
    """A separable task: class 0 reads token ids 1..31, class 1 ids 32..63."""
    g = np.random.default_rng(seed)
    ids, labels = [], []
    for i in range(n):
        label = i % 2
        low, high = ((1, 32), (32, V))[label]
        ids.append(g.integers(low, high, int(g.integers(4, 17))).tolist())
        labels.append(label)
    return ids, labels


def fast_config(**fields):
    base = dict(epochs=3, min_steps=30, batch_size=16, max_lr=1e-2, min_lr=1e-3, max_len=16)
    return FinetuneConfig(**{**base, "seed": 0, **fields})


# --- a fake documentation and corpus ----------------------------------------------


def entry(href, title, sub=()):
    """A first-level table-of-contents entry as Sphinx writes it, with
    second-level entries under it (which are not chapters or modules)."""
    inner = "".join(
        f'<li class="toctree-l2"><a class="reference internal" href="{h}">{t}</a></li>'
        for h, t in sub
    )
    nested = f"<ul>{inner}</ul>" if sub else ""
    return f'<li class="toctree-l1"><a class="reference internal" href="{href}">{title}</a>{nested}</li>'


def page(entries):
    body = "\n".join(entries)
    return (
        "<!DOCTYPE html><html><head><title>x</title></head><body>"
        f'<div class="toctree-wrapper compound"><ul>\n{body}\n</ul></div></body></html>'
    )


def write_doc_root(root, chapters):
    """chapters: (page, title, module pages) in the Library Reference's order."""
    library = Path(root) / "library"
    library.mkdir(parents=True)
    index = [entry(p, title, [(f"{p}#overview", "Overview")]) for p, title, _ in chapters]
    (library / "index.html").write_text(page(index))
    for p, _, modules in chapters:
        items = []
        for module_page in modules:
            stem = module_page.removesuffix(".html")
            title = (
                f'<code class="xref py py-mod docutils literal notranslate">'
                f'<span class="pre">{stem}</span></code> — about {stem}'
            )
            sub = [(f"{module_page}#functions", "Functions"), ("elsewhere.html", "Elsewhere")]
            items.append(entry(module_page, title, sub))
        (library / p).write_text(page(items))
    return Path(root)


def write_corpus(folder, docs):
    """docs: {split: [document dicts]}; every split gets its file."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    for split in SPLITS:
        lines = [json.dumps(d) for d in docs.get(split, [])]
        (folder / f"{split}.jsonl").write_text("".join(line + "\n" for line in lines))
    return folder


def document(module, source, text, n=0):
    prefix = {"python-docs": "docs/library", "stdlib": "stdlib", "stdlib-code": "code"}
    doc_id = f"{prefix.get(source, source)}/{module}/{n}"
    return dict(id=doc_id, source=source, group=module, title=module, text=text)


def paragraph(words, marker, rng, length):
    """A paragraph of at least `length` characters, starting with its marker."""
    out = marker
    while len(out) < length:
        out += " " + str(rng.choice(words))
    return out


# --- the labels -------------------------------------------------------------------


@pytest.fixture
def small_doc_root(tmp_path):
    return write_doc_root(
        tmp_path / "html",
        [
            ("intro.html", "Introduction", []),
            ("text.html", "Text Processing", ["re.html", "string.html", "difflib.html"]),
            ("files.html", "File Access", ["os.path.html", "glob.html", "shutil.html"]),
            ("allos.html", "Generic OS", ["os.html", "time.html", "logging.handlers.html"]),
            ("superseded.html", "Superseded Modules", [f"old{i}.html" for i in range(6)]),
        ],
    )


def test_library_chapters_reads_the_titles_and_module_pages_in_order(small_doc_root):
    chapters = classify.library_chapters(small_doc_root)
    assert [(c.page, c.title) for c in chapters] == [
        ("intro.html", "Introduction"),
        ("text.html", "Text Processing"),
        ("files.html", "File Access"),
        ("allos.html", "Generic OS"),
        ("superseded.html", "Superseded Modules"),
    ]
    by_page = {c.page: c.modules for c in chapters}
    assert by_page["intro.html"] == ()
    assert by_page["text.html"] == ("difflib", "re", "string")  # sorted
    # A submodule's page is its top-level module's: logging.handlers -> logging.
    assert by_page["allos.html"] == ("logging", "time")
    # Second-level entries are neither chapters nor modules.
    assert not any("elsewhere" in c.modules or "overview" in c.title.lower() for c in chapters)


def test_a_module_listed_under_two_chapters_belongs_to_neither(small_doc_root):
    chapters = {c.page: c.modules for c in classify.library_chapters(small_doc_root)}
    # os.path.html is listed under File Access, os.html under Generic OS.
    assert chapters["files.html"] == ("glob", "shutil")
    assert "os" not in {m for modules in chapters.values() for m in modules}


def test_label_chapters_drops_superseded_and_chapters_with_too_few_modules(small_doc_root):
    chapters = classify.library_chapters(small_doc_root)
    names = lambda cs: [c.title for c in cs]  # noqa: E731
    # Superseded Modules has the most modules, and is never a label.
    assert names(classify.label_chapters(chapters, min_modules=2)) == [
        "Text Processing",
        "File Access",
        "Generic OS",
    ]
    assert names(classify.label_chapters(chapters, min_modules=3)) == ["Text Processing"]
    assert names(classify.label_chapters(chapters, min_modules=4)) == []
    assert names(classify.label_chapters(chapters, min_modules=1, present={"old1"})) == []
    # Only the modules present count.
    present = {"re", "string", "glob", "shutil", "time"}
    assert names(classify.label_chapters(chapters, 2, present=present)) == [
        "Text Processing",
        "File Access",
    ]
    assert classify.NOT_A_TOPIC == ("superseded.html",)


# --- the passages -----------------------------------------------------------------


def test_split_passages_respects_both_sizes():
    rng = np.random.default_rng(0)
    words = ["a", "module", "returns", "the", "value", "of", "its", "argument", "x" * 30]
    paragraphs = [paragraph(words, f"p{i}", rng, int(rng.integers(5, 1500))) for i in range(40)]
    text = "\n\n".join(paragraphs) + "\n\n\n  \n" + "tail"
    for size, min_size in ((600, 200), (300, 50), (1000, 1)):
        passages = classify.split_passages(text, size, min_size)
        assert passages
        assert all(min_size <= len(p) <= size for p in passages), (size, min_size)


def test_split_passages_cuts_short_paragraphs_at_paragraph_breaks():
    rng = np.random.default_rng(1)
    paragraphs = [paragraph(["word", "another"], f"p{i}", rng, 100)[:100] for i in range(9)]
    text = "\n\n".join(paragraphs)
    # Three paragraphs make 3 * 100 + 2 * 2 = 304 characters; a fourth would not fit.
    passages = classify.split_passages(text, size=350, min_size=50)
    assert passages == ["\n\n".join(paragraphs[i : i + 3]) for i in (0, 3, 6)]


def test_split_passages_cuts_a_long_paragraph_at_spaces():
    rng = np.random.default_rng(2)
    words = ["alpha", "be", "gamma", "delta", "epsilon", "z"]
    long = paragraph(words, "start", rng, 1900)
    passages = classify.split_passages(long, size=600, min_size=1)
    assert len(passages) == 4 and all(len(p) <= 600 for p in passages)
    # No word is cut: the passages, joined by the spaces they were cut at, are the paragraph.
    assert " ".join(passages) == long
    assert all(len(p) > 600 - len(max(words, key=len)) - 1 for p in passages[:-1])


def test_split_passages_cuts_a_paragraph_without_spaces_at_size():
    assert classify.split_passages("x" * 1300, size=600, min_size=50) == ["x" * 600] * 2 + [
        "x" * 100
    ]


def test_split_passages_drops_a_lone_heading_and_a_short_tail():
    body = ("words of the body " * 40)[:595]
    # The heading and the tail do not fit beside the body: passages of their own, too short.
    text = f"Heading\n\n{body}\n\nThe end."
    assert classify.split_passages(text, size=600, min_size=200) == [body]
    # A heading that fits joins the paragraph after it.
    short = body[:300]
    assert classify.split_passages(f"Heading\n\n{short}", 600, 200) == [f"Heading\n\n{short}"]


def test_split_modules_puts_every_label_on_every_side_with_three_modules_or_more():
    modules = {
        0: [f"a{i}" for i in range(10)],
        1: ["b0", "b1", "b2"],
        2: [f"c{i}" for i in range(21)],
        3: [f"d{i}" for i in range(4)],
    }
    split = classify.split_modules(modules)
    assert len(split) == sum(map(len, modules.values()))  # each module, once
    for label, names in modules.items():
        sides = [split[m] for m in names]
        assert set(sides) == {"train", "val", "test"}, label
        n = len(names)
        assert sides.count("test") == max(1, round(0.25 * n))
        assert sides.count("val") == max(1, round(0.15 * n))


def test_split_modules_is_deterministic_and_independent_of_order():
    modules = {0: [f"m{i}" for i in range(30)], 1: [f"n{i}" for i in range(12)]}
    split = classify.split_modules(modules)
    assert classify.split_modules(modules) == split
    shuffled = {k: list(reversed(v)) for k, v in reversed(list(modules.items()))}
    assert classify.split_modules(shuffled) == split
    assert classify.split_modules(modules, salt="other") != split  # the hash decides


# --- the dataset ------------------------------------------------------------------


@pytest.fixture
def fake_setup(tmp_path):
    """Two labels (Alpha, Beta) of six modules each plus one held out; a
    chapter with too few prose modules; Superseded Modules; a module listed
    in two chapters; code documents that must not be used."""
    chapters = [
        ("alpha.html", "Alpha Services", [f"a{i}.html" for i in range(6)] + ["aheld.html"]),
        ("beta.html", "Beta Tools", [f"b{i}.html" for i in range(6)] + ["bheld.html", "os.html"]),
        ("gamma.html", "Gamma Things", ["c0.html", "c1.html", "c2.html", "c3.html"]),
        ("superseded.html", "Superseded Modules", [f"s{i}.html" for i in range(6)]),
        ("delta.html", "Delta", ["os.path.html"]),
    ]
    doc_root = write_doc_root(tmp_path / "html", chapters)
    rng = np.random.default_rng(0)
    words = ["function", "returns", "value", "object", "module", "class", "method"]
    docs = {split: [] for split in SPLITS}
    modules = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    modules += ["c0", "c1", "c2", "os"] + [f"s{i}" for i in range(6)]
    for k, module in enumerate(modules + ["aheld", "bheld"]):
        split = "heldout" if module.endswith("held") else ("train", "val", "test")[k % 3]
        # Paragraphs of ~160 characters: each is one passage of at most 300.
        n_docs = 5 if k % 2 else 1  # odd modules: 5 + 2 passages, over the cap of 3
        text = "\n\n".join(paragraph(words, f"{module}-doc-{i}", rng, 160) for i in range(n_docs))
        docs[split].append(document(module, "python-docs", text))
        if k % 2:
            text = "\n\n".join(paragraph(words, f"{module}-str-{i}", rng, 160) for i in range(2))
            docs[split].append(document(module, "stdlib", text))
        code = paragraph(words, f"{module}-CODE", rng, 400)
        docs[split].append(document(module, "stdlib-code", code))
    # c3 has only code: Gamma has three prose modules, one short of the four asked.
    docs["train"].append(document("c3", "stdlib-code", paragraph(words, "c3-CODE", rng, 400)))
    corpus = write_corpus(tmp_path / "corpus", docs)
    return corpus, doc_root


DATASET = DatasetConfig(size=300, min_size=100, per_module=3, min_modules=4)


def test_build_dataset_labels_and_splits_by_module(fake_setup):
    corpus, doc_root = fake_setup
    splits, labels = classify.build_dataset(corpus, doc_root, DATASET)
    assert labels == ["Alpha Services", "Beta Tools"]
    assert set(splits) == {"train", "val", "test", "heldout"}
    sides = {}
    for name, passages in splits.items():
        for p in passages:
            assert sides.setdefault(p.module, name) == name, f"{p.module} on two splits"
            assert p.label == (0 if p.module.startswith("a") else 1)
            assert p.text.startswith(f"{p.module}-")  # the module's own text
    assert {m for m, s in sides.items() if s == "heldout"} == {"aheld", "bheld"}
    assert set(sides) == {f"{c}{i}" for c in "ab" for i in range(6)} | {"aheld", "bheld"}
    for name in ("train", "val", "test"):
        assert {p.label for p in splits[name]} == {0, 1}, name


def test_build_dataset_uses_prose_only_and_caps_each_module(fake_setup):
    corpus, doc_root = fake_setup
    splits, _ = classify.build_dataset(corpus, doc_root, DATASET)
    passages = [p for ps in splits.values() for p in ps]
    assert {p.source for p in passages} == {"python-docs", "stdlib"}
    assert set(classify.PROSE_SOURCES) >= {"python-docs", "stdlib"}
    assert not any("CODE" in p.text for p in passages)
    per_module = {}
    for p in passages:
        per_module.setdefault(p.module, []).append(p)
    assert {len(ps) for ps in per_module.values()} == {1, 3}  # 1 found, or 7 capped at 3
    # The three kept of seven are spread evenly: the first, the fourth, the last.
    a1 = [p.text.split()[0] for p in per_module["a1"]]
    assert a1 == ["a1-doc-0", "a1-doc-3", "a1-str-1"]


def test_dataset_round_trips_through_json(fake_setup, tmp_path):
    splits, labels = classify.build_dataset(*fake_setup, DATASET)
    path = tmp_path / "out" / "dataset.json"
    path.parent.mkdir()
    classify.save_dataset(path, splits, labels)
    again, again_labels = classify.load_dataset(path)
    assert again == splits and again_labels == labels
    assert classify.dataset_digest(again, again_labels) == classify.dataset_digest(splits, labels)


def test_dataset_digest_changes_with_any_label_or_side():
    p = [Passage("some text", 0, "m", "stdlib"), Passage("more text", 1, "n", "python-docs")]
    splits, labels = {"train": p, "test": []}, ["A", "B"]
    digest = classify.dataset_digest(splits, labels)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert classify.dataset_digest({"train": list(p), "test": []}, ["A", "B"]) == digest
    relabelled = [p[0], dataclasses.replace(p[1], label=0)]
    assert classify.dataset_digest({"train": relabelled, "test": []}, labels) != digest
    assert classify.dataset_digest(splits, ["A", "C"]) != digest
    assert classify.dataset_digest({"train": p[:1], "test": p[1:]}, labels) != digest
    moved = [p[0], dataclasses.replace(p[1], module="o")]
    assert classify.dataset_digest({"train": moved, "test": []}, labels) != digest


# --- pooling and the classifier -------------------------------------------------------


def test_pool_reads_last_real_token_first_token_and_mean_of_real_tokens():
    torch.manual_seed(0)
    hidden = torch.randn(4, 9, 5)
    lengths = torch.tensor([1, 9, 4, 6])
    last = classify.pool(hidden, lengths, "last")
    first = classify.pool(hidden, lengths, "first")
    mean = classify.pool(hidden, lengths, "mean")
    for i, n in enumerate(lengths.tolist()):
        assert torch.equal(last[i], hidden[i, n - 1])
        assert torch.equal(first[i], hidden[i, 0])
        torch.testing.assert_close(mean[i], hidden[i, :n].mean(dim=0))
    assert classify.POOLING == ("last", "first", "mean")


def test_unknown_pooling_is_a_value_error():
    with pytest.raises(ValueError, match="pooling"):
        classify.pool(torch.zeros(1, 2, 3), torch.tensor([2]), "max")
    with pytest.raises(ValueError, match="pooling"):
        GPTClassifier(tiny_gpt(), 3, pooling="max")


def pad(rows, width, pad_id):
    idx = torch.full((len(rows), width), pad_id)
    for i, row in enumerate(rows):
        idx[i, : len(row)] = torch.tensor(row)
    return idx, torch.tensor([len(r) for r in rows])


@pytest.mark.parametrize("pooling", classify.POOLING)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_pooling_reads_no_padding_whatever_its_length_or_id(pooling, variant):
    classifier = tiny_classifier(pooling=pooling, **VARIANTS[variant])
    rows = random_ids([3, 11, 1, 7], seed=4)
    with torch.no_grad():
        alone = torch.cat([classifier(*pad([r], len(r), 0)) for r in rows])
        for width, pad_id in ((11, 0), (16, 0), (16, 63), (13, 5)):
            logits = classifier(*pad(rows, width, pad_id))
            torch.testing.assert_close(logits, alone, rtol=1e-5, atol=1e-5)


def test_classifier_is_the_head_over_the_pooled_hidden_states():
    classifier = tiny_classifier(n_classes=4, pooling="mean")
    idx, lengths = pad(random_ids([5, 9], seed=5), 9, 0)
    with torch.no_grad():
        hidden = classifier.gpt.hidden_states(idx)
        expected = classifier.head(classify.pool(hidden, lengths, "mean"))
        torch.testing.assert_close(classifier(idx, lengths), expected)
        # hidden_states is what lm_head reads.
        torch.testing.assert_close(classifier.gpt.lm_head(hidden), classifier.gpt(idx)[0])
    assert classifier.head.out_features == 4 and classifier.head.in_features == TINY["n_embd"]


# --- what trains ----------------------------------------------------------------------


def expected_trainable(classifier, part):
    names = [n for n, _ in classifier.named_parameters()]
    last = f"gpt.transformer.h.{TINY['n_layer'] - 1}."
    keep = {
        "head": lambda n: n.startswith("head."),
        "last": lambda n: n.startswith(("head.", last, "gpt.transformer.ln_f.")),
        "all": lambda n: not n.startswith("gpt.lm_head."),
        "lora": lambda n: n.startswith("head.") or n.endswith((".lora_A", ".lora_B")),
    }[part]
    return {n for n in names if keep(n)}


@pytest.mark.parametrize("part", classify.TRAINABLE)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_set_trainable_trains_exactly_its_part_and_counts_it(part, variant):
    classifier = tiny_classifier(**VARIANTS[variant])
    n = classify.set_trainable(classifier, part, rank=2, alpha=4)
    trainable = {name for name, p in classifier.named_parameters() if p.requires_grad}
    assert trainable == expected_trainable(classifier, part)
    params = dict(classifier.named_parameters())
    assert n == sum(params[name].numel() for name in trainable)
    if part == "all" and variant == "gpt2":
        # Tied embeddings: the token table is lm_head, and trains as the table.
        assert n == sum(p.numel() for p in classifier.parameters())
    if part == "lora":
        layers = [m for m in classifier.modules() if isinstance(m, LoRALinear)]
        assert len(layers) == TINY["n_layer"] * (4 if variant == "gpt2" else 5)
        lora = sum(2 * (m.base.in_features + m.base.out_features) for m in layers)
        head = sum(p.numel() for p in classifier.head.parameters())
        assert n == lora + head


@pytest.mark.parametrize("part", classify.TRAINABLE)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_finetune_changes_the_trainable_part_and_no_frozen_bit(part, variant):
    classifier = tiny_classifier(n_classes=2, **VARIANTS[variant])
    classify.set_trainable(classifier, part, rank=2, alpha=4)
    before = {n: p.detach().clone() for n, p in classifier.named_parameters()}
    train = toy(8, seed=1)
    config = fast_config(epochs=1, min_steps=3, batch_size=4, trainable=part)
    classify.finetune(classifier, train, toy(4, seed=2), config)
    for name, p in classifier.named_parameters():
        if p.requires_grad:
            assert not torch.equal(p, before[name]), f"{name} did not train"
        else:
            assert torch.equal(p, before[name]), f"{name} is frozen but changed"


def test_unknown_trainable_part_is_a_value_error():
    with pytest.raises(ValueError, match="trainable"):
        classify.set_trainable(tiny_classifier(), "middle")


# --- batches --------------------------------------------------------------------------


def collect(ids, labels, batch_size, seed=None, pad_id=0):
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return list(classify.batches(ids, labels, batch_size, generator, pad_id))


@pytest.mark.parametrize("seed", [None, 0, 7])
def test_batches_give_every_row_once_padded_to_the_longest_of_its_batch(seed):
    ids = random_ids(np.random.default_rng(3).integers(1, 12, 23).tolist(), seed=1)
    labels = [i % 3 for i in range(23)]
    out = collect(ids, labels, 5, seed, pad_id=-1)
    rows = [i for *_, chunk in out for i in chunk]
    assert sorted(rows) == list(range(23))
    assert [len(chunk) for *_, chunk in out].count(5) == 4  # 5+5+5+5+3, in some order
    for idx, lengths, y, chunk in out:
        assert lengths.tolist() == [len(ids[i]) for i in chunk]
        assert idx.shape == (len(chunk), max(lengths.tolist())) and idx.dtype == torch.int64
        assert y.tolist() == [labels[i] for i in chunk]
        for row, i in enumerate(chunk):
            n = len(ids[i])
            assert idx[row, :n].tolist() == ids[i]
            assert (idx[row, n:] == -1).all()
    # Rows are cut into batches in order of length: no two batches interleave.
    spans = [(min(ls.tolist()), max(ls.tolist())) for _, ls, _, _ in out]
    for a in spans:
        for b in spans:
            assert a == b or a[1] <= b[0] or b[1] <= a[0]
    if seed is None:  # without a generator, in order of length
        flat = [n for _, ls, _, _ in out for n in ls.tolist()]
        assert flat == sorted(flat)


def test_batches_repeat_with_the_same_seed_and_differ_with_another():
    ids = random_ids(np.random.default_rng(4).integers(1, 12, 40).tolist())
    labels = [0] * 40
    order = lambda seed: [c for *_, chunk in collect(ids, labels, 4, seed) for c in chunk]  # noqa: E731
    assert order(3) == order(3)
    assert order(3) != order(4)


# --- fine-tuning ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_data():
    return {"train": toy(64, 0), "val": toy(32, 1), "test": toy(32, 2), "heldout": toy(16, 3)}


def test_run_learns_a_separable_task(toy_data):
    config = fast_config(trainable="all", pooling="last")
    result = classify.run(tiny_gpt(), 2, toy_data, config)
    assert set(result) == {"classifier", "trainable", "history", "seconds", "predicted"}
    assert isinstance(result["classifier"], GPTClassifier)
    for split in ("test", "heldout"):
        predicted = result["predicted"][split]
        assert len(predicted) == len(toy_data[split][0])
        assert np.mean(predicted == np.array(toy_data[split][1])) >= 0.9, split
    history = result["history"]
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert result["trainable"] == sum(p.numel() for p in tiny_gpt().parameters()) + 16 * 2 + 2
    assert result["seconds"] > 0


def test_run_trains_on_the_rows_asked_and_min_steps_adds_epochs(toy_data):
    # 64 rows, batches of 16: 4 steps an epoch; 30 steps make 8 epochs.
    result = classify.run(tiny_gpt(), 2, toy_data, fast_config(epochs=3, min_steps=30))
    assert len(result["history"]) == 8
    # 6 rows: one step an epoch, so 30 epochs.
    rows = [0, 1, 2, 3, 4, 5]
    result = classify.run(tiny_gpt(), 2, toy_data, fast_config(epochs=3, min_steps=30), rows)
    assert len(result["history"]) == 30
    result = classify.run(tiny_gpt(), 2, toy_data, fast_config(epochs=2, min_steps=0), rows)
    assert len(result["history"]) == 2


def test_finetune_takes_min_steps_steps_over_the_cosine_schedule(monkeypatch):
    calls = []
    real = classify.cosine_lr

    def spy(step, max_lr, min_lr, warmup, max_steps):
        calls.append((step, warmup, max_steps))
        return real(step, max_lr, min_lr, warmup, max_steps)

    monkeypatch.setattr(classify, "cosine_lr", spy)
    classifier = tiny_classifier(n_classes=2)
    # 10 rows in batches of 4: 3 steps an epoch; 20 steps need 7 epochs (21 steps).
    config = fast_config(epochs=2, min_steps=20, batch_size=4, warmup_fraction=0.1)
    history = classify.finetune(classifier, toy(10, 0), toy(4, 1), config)
    assert len(history) == 7
    assert calls == [(step, 2, 21) for step in range(21)]


def test_finetune_keeps_the_weights_of_the_first_best_validation_epoch(monkeypatch):
    """The validation accuracies are scripted (0.5, 0.9, 0.9, 0.3): the
    weights of epoch 2 must come back, not those of 3 or 4."""
    real_predict = classify.predict
    scripted = iter([5, 9, 9, 3])  # right answers of 10 per epoch
    states = []

    def scripted_predict(classifier, ids, batch_size=64, device="cpu"):
        states.append({k: v.clone() for k, v in classifier.state_dict().items()})
        real_predict(classifier, ids, batch_size, device)
        right = next(scripted)
        return np.array([0] * right + [1] * (len(ids) - right)), None

    monkeypatch.setattr(classify, "predict", scripted_predict)
    classifier = tiny_classifier(n_classes=2)
    val = (toy(10, 1)[0], [0] * 10)
    config = fast_config(epochs=4, min_steps=0, batch_size=4)
    history = classify.finetune(classifier, toy(12, 0), val, config)
    assert [h["val_accuracy"] for h in history] == [0.5, 0.9, 0.9, 0.3]
    final = classifier.state_dict()
    for k, v in final.items():
        assert torch.equal(v, states[1][k]), k
    assert any(not torch.equal(final[k], states[3][k]) for k in final)


def test_predict_and_features_keep_the_order_of_their_inputs():
    classifier = tiny_classifier(n_classes=3, pooling="last")
    ids = random_ids([9, 2, 14, 5, 2, 11, 1], seed=6)
    predicted, logits = classify.predict(classifier, ids, batch_size=3)
    with torch.no_grad():
        alone = torch.cat([classifier(*pad([r], len(r), 0)) for r in ids])
    torch.testing.assert_close(logits, alone, rtol=1e-5, atol=1e-5)
    assert predicted.tolist() == alone.argmax(dim=1).tolist()
    feats = classify.features(classifier.gpt, ids, batch_size=3)
    assert set(feats) == set(classify.POOLING)
    for i, row in enumerate(ids):
        with torch.no_grad():
            hidden = classifier.gpt.hidden_states(torch.tensor([row]))[0]
        np.testing.assert_allclose(feats["last"][i], hidden[-1].numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(feats["first"][i], hidden[0].numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(feats["mean"][i], hidden.mean(0).numpy(), rtol=1e-5, atol=1e-5)


def test_linear_models_fit_separable_inputs():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (40, 4)), rng.normal(2, 1, (40, 4))])
    y = np.repeat([0, 1], 40)
    probe = classify.logistic_regression().fit(x, y)
    assert (probe.predict(x) == y).mean() >= 0.95
    texts = [f"socket {w} connection port" for w in "abcdefgh"]
    texts += [f"matrix {w} vector sum" for w in "abcdefgh"]
    words = classify.bag_of_words().fit(texts, np.repeat([0, 1], 8))
    assert words.predict(["a port and a socket", "the vector of a matrix"]).tolist() == [0, 1]


def test_subsample_takes_at_most_per_class_and_larger_samples_contain_smaller():
    labels = [0] * 30 + [1] * 4 + [2] * 12
    samples = {n: classify.subsample(labels, n, seed=3) for n in (1, 3, 5, 10, 100)}
    for n, rows in samples.items():
        assert rows == sorted(set(rows))
        counts = np.bincount([labels[i] for i in rows], minlength=3)
        assert counts.tolist() == [min(n, 30), min(n, 4), min(n, 12)]
    for small, large in ((1, 3), (3, 5), (5, 10), (10, 100)):
        assert set(samples[small]) <= set(samples[large])
    assert samples[100] == list(range(len(labels)))
    assert classify.subsample(labels, 5, seed=3) == samples[5]
    assert classify.subsample(labels, 5, seed=4) != samples[5]


# --- measures and intervals -----------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_measures_agree_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    K = 6
    present = [0, 1, 3, 4, 5] if seed % 2 else list(range(K))
    y = rng.choice(present, 200)
    predicted = np.where(rng.random(200) < 0.6, y, rng.integers(0, K, 200))
    counts = classify.confusion(y, predicted, K)
    assert counts.shape == (K, K)
    assert np.array_equal(counts, confusion_matrix(y, predicted, labels=range(K)))
    assert classify.accuracy(counts) == pytest.approx(accuracy_score(y, predicted))
    expected = f1_score(y, predicted, labels=np.unique(y), average="macro")
    assert classify.macro_f1(counts) == pytest.approx(expected)


def test_macro_f1_of_a_perfect_and_of_a_constant_prediction():
    y = np.array([0, 0, 1, 2, 2, 2])
    assert classify.macro_f1(classify.confusion(y, y, 4)) == 1.0
    # Always 2: F1 of class 2 is 2*3 / (2*3 + 3) = 2/3, of 0 and 1 zero.
    constant = classify.confusion(y, np.full(6, 2), 4)
    assert classify.macro_f1(constant) == pytest.approx(2 / 9)
    assert classify.accuracy(constant) == 0.5


def test_bootstrap_resamples_whole_modules():
    """Module m1 (three passages) all right, m2 (one passage) all wrong:
    resampling two modules gives 1 (m1 twice), 0 (m2 twice) or 3/4, and
    nothing that resampling single passages would give (1/4, 1/2)."""
    y = np.array([0, 1, 0, 1])
    predicted = np.array([0, 1, 0, 0])
    groups = ["m1", "m1", "m1", "m2"]
    out = classify.bootstrap(y, {"a": predicted}, groups, 2, resamples=300, seed=0)
    values = out["a"]["accuracy"]
    assert values.shape == (300,)
    assert set(np.round(values, 6)) == {0.0, 0.75, 1.0}
    # m2 twice: one example, of class 1, predicted 0: macro-F1 over class 1 alone is 0.
    assert set(np.round(out["a"]["macro_f1"][values == 0.0], 6)) == {0.0}


def test_bootstrap_pairs_predictions_on_the_same_resamples():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 60)
    groups = [f"m{i // 5}" for i in range(60)]
    a = np.where(rng.random(60) < 0.7, y, (y + 1) % 3)
    better = a.copy()
    better[:10] = y[:10]  # right on the first two modules as well
    predictions = {"a": a, "same": a.copy(), "better": better}
    out = classify.bootstrap(y, predictions, groups, 3, resamples=200, seed=5)
    assert set(out) == {"a", "same", "better"} and set(out["a"]) == {"accuracy", "macro_f1"}
    for measure in ("accuracy", "macro_f1"):
        assert np.all(out["same"][measure] - out["a"][measure] == 0)
    difference = out["better"]["accuracy"] - out["a"]["accuracy"]
    assert np.all(difference >= 0) and np.any(difference > 0)
    again = classify.bootstrap(y, predictions, groups, 3, resamples=200, seed=5)
    assert np.array_equal(again["a"]["accuracy"], out["a"]["accuracy"])
    other = classify.bootstrap(y, predictions, groups, 3, resamples=200, seed=6)
    assert not np.array_equal(other["a"]["accuracy"], out["a"]["accuracy"])
    # The mean over resamples is near the accuracy on the whole test set.
    assert abs(out["a"]["accuracy"].mean() - np.mean(a == y)) < 0.05


# --- saving and loading ---------------------------------------------------------------


@pytest.mark.parametrize("part", ["all", "lora"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_save_and_load_classifier_give_the_same_logits(tmp_path, part, variant):
    classifier = tiny_classifier(n_classes=3, pooling="mean", **VARIANTS[variant])
    classify.set_trainable(classifier, part, rank=2, alpha=4)
    g = torch.Generator().manual_seed(9)
    with torch.no_grad():  # weights a fine-tuning could have left, LoRA's B included
        for p in classifier.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    idx, lengths = pad(random_ids([4, 12, 7], seed=7), 12, 0)
    with torch.no_grad():
        expected = classifier(idx, lengths)
    path = tmp_path / "classifier.pt"
    classify.save_classifier(path, classifier, ["x", "y", "z"])
    # Saving merged a copy: the classifier itself keeps its LoRA layers.
    assert any(isinstance(m, LoRALinear) for m in classifier.modules()) == (part == "lora")
    loaded, labels = classify.load_classifier(path)
    assert labels == ["x", "y", "z"] and loaded.pooling == "mean" and not loaded.training
    assert not any(isinstance(m, LoRALinear) for m in loaded.modules())
    assert loaded.gpt.config == classifier.gpt.config
    with torch.no_grad():
        torch.testing.assert_close(loaded(idx, lengths), expected, rtol=1e-5, atol=1e-5)


def not_a_classifier(tmp_path, kind):
    path = tmp_path / f"{kind}.file"
    if kind == "text":
        path.write_text("not a model at all\n")
    elif kind == "json":
        BPETokenizer().train("a tokenizer file, which is JSON text " * 5, 260).save(path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "checkpoint":
        gpt = tiny_gpt()
        config = dataclasses.asdict(gpt.config)
        torch.save(dict(model=gpt.state_dict(), model_config=config), path)
    return path


@pytest.mark.parametrize("kind", ["text", "json", "empty", "checkpoint"])
def test_load_classifier_refuses_a_file_that_is_no_classifier(tmp_path, kind):
    path = not_a_classifier(tmp_path, kind)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        classify.load_classifier(path)


# --- the command line -----------------------------------------------------------------


def scratchllm_classify(*args, cwd):
    """`python -m scratchllm.classify ARGS` started as a reader starts it;
    communicate() on the process gives (stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "scratchllm.classify", *map(str, args)]
    pipe = subprocess.PIPE
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=pipe, stderr=pipe, text=True)


def finished(process):
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return stdout, stderr


CLI_CHAPTERS = {
    "text.html": ("Text Processing Services", "t", ["string", "pattern", "match", "format"]),
    "datatypes.html": ("Data Types", "d", ["array", "heap", "calendar", "enum"]),
}


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory):
    """A corpus and documentation of two chapters with nine modules each and
    one held out (the default DatasetConfig needs eight), Superseded Modules,
    a tokenizer and a tiny GPT checkpoint."""
    tmp = tmp_path_factory.mktemp("classify_cli")
    chapters, docs = [], {split: [] for split in SPLITS}
    rng = np.random.default_rng(0)
    sample = []
    for p, (title, prefix, words) in CLI_CHAPTERS.items():
        modules = [f"{prefix}{i}" for i in range(9)] + [f"{prefix}held"]
        chapters.append((p, title, [f"{m}.html" for m in modules]))
        for k, module in enumerate(modules):
            split = "heldout" if module.endswith("held") else ("train", "val", "test")[k % 3]
            text = "\n\n".join(paragraph(words, module, rng, 250) for _ in range(4))
            docs[split].append(document(module, "python-docs", text))
            sample.append(text)
    chapters.append(("superseded.html", "Superseded Modules", [f"s{i}.html" for i in range(9)]))
    for i in range(9):
        docs["train"].append(document(f"s{i}", "stdlib", "old " * 150))
    write_doc_root(tmp / "html", chapters)
    write_corpus(tmp / "corpus", docs)
    tokenizer = BPETokenizer().train("\n".join(sample[::4]), 300)
    tokenizer.save(tmp / "tokenizer.model")
    config = GPTConfig(**{**TINY, "vocab_size": tokenizer.vocab_size, "n_layer": 1})
    torch.manual_seed(0)
    gpt = GPT(config)
    torch.save(
        dict(model=gpt.state_dict(), model_config=dataclasses.asdict(config)), tmp / "ckpt.pt"
    )
    return tmp


def test_cli_builds_the_dataset_trains_and_predicts(cli_setup, capsys):
    tmp = cli_setup
    where = ["--corpus", tmp / "corpus", "--doc-root", tmp / "html"]
    model = ["--model", tmp / "ckpt.pt", "--tokenizer", tmp / "tokenizer.model"]
    out = tmp / "run" / "classifier.pt"
    # train in its own process, as a reader runs it; meanwhile dataset, in this
    # one (the same main(); train builds the same dataset itself).
    train = scratchllm_classify("train", *model, *where, "--out", out, "--epochs", "1", cwd=tmp)
    dataset_file = tmp / "out" / "dataset.json"
    classify.main(["dataset", *map(str, where), "--out", str(dataset_file)])
    splits, labels = classify.load_dataset(dataset_file)
    assert labels == ["Text Processing Services", "Data Types"]
    assert {p.module for p in splits["heldout"]} == {"theld", "dheld"}
    assert all(splits[name] for name in ("train", "val", "test"))
    counts = ", ".join(f"{name} {len(ps)}" for name, ps in splits.items())
    assert capsys.readouterr().out.splitlines() == [
        f"2 labels; passages: {counts}",
        f"digest {classify.dataset_digest(splits, labels)}",
    ]

    stdout, stderr = finished(train)
    assert out.exists()
    test_line = r"^test: accuracy [0-9.]+, macro-F1 [0-9.]+ \((\d+) passages\)$"
    assert int(re.search(test_line, stdout, re.M).group(1)) == len(splits["test"])
    assert re.search(r"^heldout: accuracy ", stdout, re.M)
    n_train = len(splits["train"])
    assert f"2 labels, {n_train} training passages" in stderr
    # min_steps: the epochs that make 100 steps of 16 passages.
    assert stderr.count("\nepoch ") == -(-100 // -(-n_train // 16)) > 1

    # predict, in this process: one line per text, a label of the dataset's.
    texts = ["string pattern match format string", "array heap calendar enum heap"]
    tokenizer = tmp / "tokenizer.model"
    classify.main(["predict", "--classifier", str(out), "--tokenizer", str(tokenizer), *texts])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, text in zip(lines, texts, strict=True):
        label, probability, shown = line.split("\t")
        assert label in labels and 0 <= float(probability) <= 1 and shown == text
    loaded, saved_labels = classify.load_classifier(out)
    assert saved_labels == labels and loaded.head.out_features == 2


def refused(capsys, argv, words):
    """classify.main(argv) exits 1 with one error line naming the problem; run
    in this process, so that a traceback would be an exception here."""
    with pytest.raises(SystemExit) as exit:
        classify.main([str(arg) for arg in argv])
    assert exit.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0]


@pytest.mark.parametrize("kind", ["text", "json", "checkpoint"])
def test_cli_predict_refuses_a_file_that_is_no_classifier(cli_setup, tmp_path, capsys, kind):
    path = not_a_classifier(tmp_path, kind)
    argv = ["predict", "--classifier", path, "--tokenizer", cli_setup / "tokenizer.model", "x"]
    refused(capsys, argv, [f"{path} is not a classifier"])


def test_cli_predict_refuses_an_empty_text(cli_setup, tmp_path, capsys):
    path = tmp_path / "classifier.pt"
    classify.save_classifier(path, tiny_classifier(n_classes=2), ["a", "b"])
    argv = ["predict", "--classifier", path, "--tokenizer", cli_setup / "tokenizer.model"]
    refused(capsys, [*argv, "some text", ""], ["empty text"])


def test_cli_train_refuses_a_model_that_is_no_checkpoint(cli_setup, tmp_path, capsys):
    tokenizer = cli_setup / "tokenizer.model"
    argv = ["train", "--model", tokenizer, "--tokenizer", tokenizer, "--out", tmp_path / "c.pt"]
    argv += ["--corpus", cli_setup / "corpus", "--doc-root", cli_setup / "html"]
    refused(capsys, argv, [str(tokenizer)])
    assert not (tmp_path / "c.pt").exists()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_probe_head_predicts_as_the_probe_on_the_frozen_features(n_classes):
    g = np.random.default_rng(0)
    ids = random_ids([int(n) for n in g.integers(3, 17, 60)], seed=1)
    labels = [i % n_classes for i in range(60)]
    classifier = tiny_classifier(n_classes)
    x = classify.features(classifier.gpt, ids)["last"]
    probe = classify.logistic_regression().fit(x, labels)
    classify.probe_head(classifier, ids, labels)
    predicted, logits = classify.predict(classifier, ids)
    assert (predicted == probe.predict(x)).all()
    expected = probe.predict_proba(x)
    assert np.allclose(logits.softmax(dim=1).numpy(), expected, atol=1e-4)


def test_probe_head_keeps_the_row_of_a_label_it_never_saw():
    classifier = tiny_classifier(3)
    before = classifier.head.weight[2].clone()
    ids = random_ids([5] * 20, seed=2)
    classify.probe_head(classifier, ids, [i % 2 for i in range(20)])
    assert torch.equal(classifier.head.weight[2], before)
    assert not torch.equal(classifier.head.weight[0], before)
