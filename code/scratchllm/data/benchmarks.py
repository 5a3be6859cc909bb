"""Benchmarks made from the modules pretraining held out.

Every item here but one task's comes from a module of the corpus's
"heldout" split, which no model of the book trained on: its documentation
pages, its code, its docstrings.  The exception is chapter 9's test set,
kept as that chapter measured it: its modules were held out of the
classifier's training, not of pretraining (the contamination check of
scratchllm.evaluate shows it).  Each item is a plain dict, a line of a JSONL task file, in
the shapes scratchllm.evaluate scores (and lm-evaluation-harness reads):

- bits per byte: {"text", "group"}: a document's opening, documentation
  or code;
- multiple choice: {"query", "choices", "gold", "group"}: which of four
  functions of one module a docstring describes ("doc_to_func"), which of
  four docstrings a function has ("func_to_doc"), which method a call in
  the module's code names ("api_cloze", ten candidates), which chapter of
  the Library Reference a passage is from ("classification": chapter 9's
  test set, asked of a language model).

"group" is the module: the items of one module are alike, and the
intervals resample modules, not items.
"""

import ast
import hashlib
import json
import random
import re
from pathlib import Path

from ..classify import build_dataset
from . import sources
from .corpus import read_split
from .instructions import _summary, documented

DOC_CHARS = 4000  # each document's opening, cut at a line end
CHOICES = 4  # functions or docstrings per question
CLOZE_CHOICES = 10  # candidate names per call
PER_MODULE = 50  # questions at most per module and task
CLOZE_PER_MODULE = 30  # calls at most per module: each reads its context
CLOZE_CONTEXT = 400  # characters of code before the call
PASSAGES_PER_MODULE = 20  # chapter 9's test passages asked, per module

BITS_PER_BYTE = ("docs", "code")
MULTIPLE_CHOICE = ("doc_to_func", "func_to_doc", "api_cloze", "classification")
# What separates a query from its choice (lm-eval's target_delimiter).
DELIMITER = {
    "doc_to_func": " ",
    "func_to_doc": "",
    "api_cloze": "",
    "classification": " ",
}
CHAPTER_QUESTION = (
    "\n\nThis passage is from the chapter of the Library Reference:"
)
SOURCES = {"docs": "python-docs", "code": "stdlib-code"}


def _rng(*key):
    """A generator seeded by the key, the same on every machine."""
    digest = hashlib.sha256(":".join(map(str, key)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _opening(text, budget=DOC_CHARS):
    if len(text) <= budget:
        return text
    cut = text.rfind("\n", 0, budget)
    return text[: cut if cut > 0 else budget]


def heldout_documents(corpus):
    """{"docs": [...], "code": [...]}: the openings of the held-out
    documentation pages and code files."""
    return _openings(read_split(corpus, "heldout"))


def _openings(documents):
    found = {name: [] for name in BITS_PER_BYTE}
    for doc in documents:
        for name, source in SOURCES.items():
            if doc["source"] == source:
                found[name].append(
                    {"text": _opening(doc["text"]), "group": doc["group"]}
                )
    return found


def _question(query, gold, others, group, key):
    """A multiple-choice item, the gold choice at a place drawn by key."""
    choices = list(others)
    at = _rng("gold", *key).randrange(len(choices) + 1)
    choices.insert(at, gold)
    return {"query": query, "choices": choices, "gold": at, "group": group}


def _capped(items, key, cap=PER_MODULE):
    """At most `cap` items per module, drawn by key."""
    by_module = {}
    for item in items:
        by_module.setdefault(item["group"], []).append(item)
    kept = []
    for group in sorted(by_module):
        found = by_module[group]
        if len(found) > cap:
            found = _rng(key, group).sample(found, cap)
        kept.extend(found)
    return kept


def _functions(stdlib_root, groups):
    """Held-out functions and methods with a signature and a summary
    sentence, by module, each once: (name, "def ...:", summary)."""
    by_module = {}
    for d in documented(Path(stdlib_root)):
        if d.group not in groups or d.kind == "class" or not d.signature:
            continue
        summary = _summary(d)
        # "od.clear() -> None." restates a signature; it says nothing.
        if summary and "->" not in summary:
            entry = (d.name, f"def {d.signature}:", summary)
            by_module.setdefault(d.group, []).append(entry)
    return by_module


def function_questions(stdlib_root, groups):
    """{"doc_to_func": [...], "func_to_doc": [...]}: a docstring's summary
    and four functions of its module, and the reverse.  The wrong choices
    are other functions of the same module, so that knowing which module
    a sentence is about is not enough."""
    tasks = {"doc_to_func": [], "func_to_doc": []}
    for group, entries in sorted(_functions(stdlib_root, groups).items()):
        for name, header, summary in entries:
            # No wrong choice may fit the query as well as the right one:
            # another function with the same summary, or the same header.
            headers = sorted(
                {e[1] for e in entries}
                - {e[1] for e in entries if e[2] == summary}
            )
            summaries = sorted(
                {e[2] for e in entries}
                - {e[2] for e in entries if e[1] == header}
            )
            if min(len(headers), len(summaries)) < CHOICES - 1:
                continue
            rng = _rng("functions", name)
            wrong = rng.sample(headers, CHOICES - 1)
            tasks["doc_to_func"].append(
                _question(
                    f"# {summary}\ndef",
                    header.removeprefix("def "),
                    [w.removeprefix("def ") for w in wrong],
                    group,
                    ("doc_to_func", name),
                )
            )
            docs = rng.sample(summaries, CHOICES - 1)
            tasks["func_to_doc"].append(
                _question(
                    f'{header}\n    """',
                    summary,
                    docs,
                    group,
                    ("func_to_doc", name),
                )
            )
    return {name: _capped(items, name) for name, items in tasks.items()}


def _calls(source):
    """(offset of the dot, name) of each attribute call `x.name(...)` in
    the source, in order; the offset counts characters."""
    tree = ast.parse(source)
    # ast's lines end at \n, \r\n or \r only (str.splitlines also ends
    # them at a form feed), and its columns count UTF-8 bytes.
    lines = re.split(r"(?<=\n)|(?<=\r)(?!\n)", source)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func
            # The name ends where the attribute does; both on one line.
            line = lines[attr.end_lineno - 1].encode()
            column = len(line[: attr.end_col_offset].decode())
            end = starts[attr.end_lineno - 1] + column
            dot = end - len(attr.attr) - 1
            if source[dot:end] == "." + attr.attr:
                found.append((dot, attr.attr))
    return sorted(found)


def cloze_questions(documents):
    """API cloze: the code before an attribute call, up to its dot, and
    ten names, each with its dot: the called one and nine others the same
    file calls.  (The dot goes with the name because our tokenizer's
    pattern joins them, ".split", as the model read them in training.)
    The model must rank the right one first; "greedy" asks more: that it
    would write the name itself."""
    items = []
    for doc in documents:
        source = doc["text"]
        try:
            calls = _calls(source)
        except (SyntaxError, ValueError):
            continue
        names = sorted({name for _, name in calls})
        if len(names) < CLOZE_CHOICES:
            continue
        for offset, name in calls:
            start = source.rfind("\n", 0, max(0, offset - CLOZE_CONTEXT)) + 1
            rng = _rng("cloze", doc["group"], offset)
            others = rng.sample(
                [n for n in names if n != name], CLOZE_CHOICES - 1
            )
            items.append(
                _question(
                    source[start:offset],
                    "." + name,
                    ["." + n for n in others],
                    doc["group"],
                    ("cloze", doc["group"], offset),
                )
            )
    return _capped(items, "api_cloze", CLOZE_PER_MODULE)


def classification_questions(corpus, doc_root=None):
    """Chapter 9's test passages as questions for a language model: the
    passage, then which chapter it is from, every label a choice."""
    splits, labels = build_dataset(corpus, doc_root)
    items = [
        {
            "query": p.text + CHAPTER_QUESTION,
            "choices": list(labels),
            "gold": p.label,
            "group": p.module,
        }
        for p in splits["test"]
    ]
    return _capped(items, "classification", PASSAGES_PER_MODULE)


def build_tasks(corpus, stdlib_root=None, doc_root=None):
    """{task name: items}: the bits-per-byte documents and the
    multiple-choice questions, all from the corpus's held-out modules."""
    corpus = Path(corpus)
    documents = list(read_split(corpus, "heldout"))
    texts = _openings(documents)
    groups = {d["group"] for docs in texts.values() for d in docs}
    code = [
        {"text": doc["text"], "group": doc["group"]}
        for doc in documents
        if doc["source"] == SOURCES["code"]
    ]
    root = stdlib_root or sources.stdlib_root()
    return {
        **texts,
        **function_questions(root, groups),
        "api_cloze": cloze_questions(code),
        "classification": classification_questions(corpus, doc_root),
    }


def _jsonl(items):
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)


def save_tasks(folder, tasks):
    """One JSONL file per task: folder/<name>.jsonl."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, items in tasks.items():
        (folder / f"{name}.jsonl").write_text(_jsonl(items))


def digest(tasks):
    """sha256 of the tasks as save_tasks writes them, by name: a GPU run's
    file names the tasks it scored."""
    h = hashlib.sha256()
    for name in sorted(tasks):
        h.update(name.encode() + b"\0" + _jsonl(tasks[name]).encode())
    return h.hexdigest()


def load_tasks(folder):
    """The tasks save_tasks wrote, {name: items}."""
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines()]
        for path in sorted(Path(folder).glob("*.jsonl"))
    }
