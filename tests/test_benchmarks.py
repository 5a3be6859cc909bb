"""scratchllm.data.benchmarks on a small fake standard library and corpus
written in tmp_path.  Pinned: heldout_documents (held-out documents of the
two sources only, openings cut at a line end within DOC_CHARS);
function_questions (four distinct choices from the same module, the gold
at its seeded place, modules with too few functions left out, the same
output on every call, no wrong choice that the query also describes);
cloze_questions (the query ends right before the called ".name", ten
distinct names the file calls, at most CLOZE_PER_MODULE a module, every
call found); _capped; classification_questions' shape (on a stubbed
build_dataset: the real one reads the Python documentation);
build_tasks' task names and sources; save_tasks/load_tasks and digest."""

import json
import re
from pathlib import Path

import pytest

from scratchllm.classify import Passage
from scratchllm.data import benchmarks as bm
from scratchllm.data.corpus import SPLITS

SHAPES = '''\
"""Shapes."""


def area(width, height):
    """Return the area of a rectangle.  Width times height."""


def perimeter(width, height):
    """Compute the perimeter of a rectangle."""


def diagonal(width, height=1):
    """Measure the diagonal."""


def grow(factor, *rest):
    """Make a shape bigger."""


def shrink(factor, *, by=2):
    """Make a shape smaller."""


def sized(n):
    """sized(n) -> shape, of size n."""


def arrow(x):
    """Turn x into a shape -> a drawing."""


def undocumented(x):
    return x


class Box:
    """A box: classes are not asked about."""

    def resize(self, width):
        """Resize the box."""

    @property
    def volume(self):
        """The volume, a property: no signature."""
'''
# (query's summary, gold choice): what doc_to_func must ask of shapes.
SHAPES_FUNCTIONS = {
    "Return the area of a rectangle.": "area(width, height):",
    "Compute the perimeter of a rectangle.": "perimeter(width, height):",
    "Measure the diagonal.": "diagonal(width, height=1):",
    "Make a shape bigger.": "grow(factor, *rest):",
    "Make a shape smaller.": "shrink(factor, *, by=2):",
    "Resize the box.": "resize(width):",
}
TALLY = "".join(f'def t{i}(x):\n    """Tally {i} things."""\n\n\n' for i in range(3))
OTHER = "".join(f'def o{i}(x):\n    """Other {i} things."""\n\n\n' for i in range(5))


def write_tree(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def stdlib(tmp_path):
    return write_tree(tmp_path / "lib", {"shapes.py": SHAPES, "tally.py": TALLY, "other.py": OTHER})


def write_corpus(folder, docs):
    """docs: {split: [(source, group, text)]}; every split gets its file."""
    folder.mkdir(parents=True)
    for split in SPLITS:
        rows = [
            dict(id=f"{source}/{group}/{i}", source=source, group=group, title=group, text=text)
            for i, (source, group, text) in enumerate(docs.get(split, []))
        ]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def lines_text(n, width=70, seed="x"):
    return "".join(f"{seed} line {i:04} ".ljust(width, "-") + "\n" for i in range(n))


# --- documents --------------------------------------------------------------------


def test_heldout_documents_are_openings_of_the_two_sources(tmp_path):
    long_doc, one_line = lines_text(200), "y" * (bm.DOC_CHARS + 500)
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            "heldout": [
                ("python-docs", "json", long_doc),
                ("python-docs", "struct", "A short page.\n"),
                ("stdlib-code", "json", one_line),
                ("stdlib", "json", "Docstrings are not a benchmark."),
                ("python-docs-source", "json", "Nor is the reST source."),
            ],
            "train": [("python-docs", "os", "Trained on.")],
        },
    )
    found = bm.heldout_documents(corpus)
    assert set(found) == {"docs", "code"}
    assert [d["group"] for d in found["docs"]] == ["json", "struct"]
    opening = found["docs"][0]["text"]
    assert long_doc.startswith(opening) and len(opening) <= bm.DOC_CHARS
    assert long_doc[len(opening)] == "\n" and "\n" not in long_doc[len(opening) + 1 : bm.DOC_CHARS]
    assert found["docs"][1]["text"] == "A short page.\n"
    assert found["code"] == [{"text": one_line[: bm.DOC_CHARS], "group": "json"}]  # no line end


# --- which function, which docstring ----------------------------------------------


def test_function_questions_ask_within_the_module(stdlib):
    tasks = bm.function_questions(stdlib, {"shapes", "tally"})
    assert set(tasks) == {"doc_to_func", "func_to_doc"}
    asked = tasks["doc_to_func"]
    # tally has three functions, too few; other is not held out.
    assert {q["group"] for q in asked} == {"shapes"} and len(asked) == len(SHAPES_FUNCTIONS)
    for q in asked:
        summary = q["query"].removeprefix("# ").removesuffix("\ndef")
        assert q["query"] == f"# {summary}\ndef"
        assert len(q["choices"]) == len(set(q["choices"])) == bm.CHOICES
        assert q["choices"][q["gold"]] == SHAPES_FUNCTIONS[summary]
        assert set(q["choices"]) <= set(SHAPES_FUNCTIONS.values())
    summaries = {gold: s for s, gold in SHAPES_FUNCTIONS.items()}
    for q in tasks["func_to_doc"]:
        header = q["query"].removeprefix("def ").removesuffix(':\n    """') + ":"
        assert q["query"] == f'def {header}\n    """' and q["group"] == "shapes"
        assert q["choices"][q["gold"]] == summaries[header]
        assert len(set(q["choices"])) == bm.CHOICES and set(q["choices"]) <= set(SHAPES_FUNCTIONS)
    assert len(tasks["func_to_doc"]) == len(asked)


def test_function_questions_put_the_gold_at_a_seeded_place(stdlib):
    tasks = bm.function_questions(stdlib, {"shapes"})
    assert tasks == bm.function_questions(stdlib, {"shapes"})  # deterministic
    for task, questions in tasks.items():
        golds = []
        for q in questions:
            if task == "doc_to_func":
                name = SHAPES_FUNCTIONS[q["query"][2:-4]].split("(")[0]
            else:
                name = q["query"].removeprefix("def ").split("(")[0]
            name = "shapes." + ("Box." if name == "resize" else "") + name
            assert q["gold"] == bm._rng("gold", task, name).randrange(bm.CHOICES)
            golds.append(q["gold"])
        assert len(set(golds)) > 1  # not always the same place


def test_no_wrong_choice_fits_the_query_too(tmp_path):
    """Two functions with one summary (f, g) and two methods with one
    signature (A.close, B.close): a wrong choice that the query describes
    as well as the gold makes the question unanswerable."""
    source = (
        'def f(x):\n    """Do it."""\n\n\ndef g(y):\n    """Do it."""\n\n\n'
        + "".join(f'def h{i}(z{i}):\n    """Job {i}."""\n\n\n' for i in range(3))
        + 'class A:\n    def close(self):\n        """Close the file."""\n\n\n'
        + 'class B:\n    def close(self):\n        """Tidy everything up."""\n'
    )
    tasks = bm.function_questions(write_tree(tmp_path / "lib", {"same.py": source}), {"same"})
    assert tasks["doc_to_func"] and tasks["func_to_doc"]
    functions = [("Do it.", "f(x):"), ("Do it.", "g(y):"), ("Close the file.", "close():")]
    functions += [("Tidy everything up.", "close():")]
    functions += [(f"Job {i}.", f"h{i}(z{i}):") for i in range(3)]
    for q in tasks["doc_to_func"]:
        summary = q["query"][2:-4]
        fits = [i for i, c in enumerate(q["choices"]) if (summary, c) in functions]
        assert fits == [q["gold"]], (summary, q["choices"])
    for q in tasks["func_to_doc"]:
        header = q["query"][4:].split("\n")[0]
        fits = [i for i, c in enumerate(q["choices"]) if (c, header) in functions]
        assert fits == [q["gold"]], (header, q["choices"])


# --- API cloze --------------------------------------------------------------------

NAMES = [f"m{i}" for i in range(12)]


def code(calls, names=NAMES, head=""):
    """Source with `calls` attribute calls obj.<name>(...), names in turn,
    among lines that call nothing by attribute; (source, dot offsets)."""
    text, offsets = head + 'import obj\n\nlabel = "a.fake(1)"  # a string\nprint(obj.attr)\n', []
    for i in range(calls):
        name = names[i % len(names)]
        line = (
            f"value_{i} = obj.{name}({i})\n" if i % 5 else f"value_{i} = (obj\n    .{name}({i}))\n"
        )
        text += f"# step {i}: " + "-" * 60 + "\n"
        offsets.append(len(text) + line.index("." + name))
        text += line
    return text, offsets


def test_cloze_queries_end_right_before_the_called_name():
    source, offsets = code(20)
    items = bm.cloze_questions([{"text": source, "group": "alpha"}])
    assert len(items) == 20
    for item in items:
        query = item["query"]
        [at] = [o for o in offsets if source[:o].endswith(query)]
        start = at - len(query)
        gold = item["choices"][item["gold"]]
        assert source[at : at + len(gold)] == gold and source[at + len(gold)] == "("
        assert start == 0 or source[start - 1] == "\n"  # from a line's start
        assert len(query) >= min(at, bm.CLOZE_CONTEXT)
        if start:  # the latest line start at least CLOZE_CONTEXT characters back
            assert "\n" not in query[: len(query) - bm.CLOZE_CONTEXT]
        assert len(set(item["choices"])) == len(item["choices"]) == bm.CLOZE_CHOICES
        assert set(item["choices"]) <= {"." + n for n in NAMES} and item["group"] == "alpha"
    assert len({i["gold"] for i in items}) > 1
    assert items == bm.cloze_questions([{"text": source, "group": "alpha"}])


def test_cloze_skips_files_with_few_names_or_bad_syntax_and_caps_modules():
    docs = [
        {"text": code(40)[0], "group": "alpha"},
        {"text": code(8)[0], "group": "alpha"},  # the cap counts the module
        {"text": code(15)[0], "group": "beta"},
        {"text": code(30, NAMES[: bm.CLOZE_CHOICES - 1])[0], "group": "gamma"},
        {"text": code(30)[0] + "def broken(:\n", "group": "delta"},
    ]
    items = bm.cloze_questions(docs)
    counts = {g: sum(i["group"] == g for i in items) for g in ("alpha", "beta", "gamma", "delta")}
    assert counts == {"alpha": bm.CLOZE_PER_MODULE, "beta": 15, "gamma": 0, "delta": 0}


@pytest.mark.parametrize(
    "old, new",
    [
        ("value_3 = obj.", 'value_3 = "naïve" + obj.'),  # before a call on its line
        ("print(obj.attr)\n", "print(obj.attr)\n\x0c\n"),  # a page break, as in email/*.py
    ],
    ids=["accented", "form-feed"],
)
def test_cloze_finds_every_call_after_a_form_feed_or_accented_text(old, new):
    """ast's column offsets count UTF-8 bytes, and its lines end only at
    line breaks, while str.splitlines also breaks at a form feed: no call
    may be lost to either."""
    source = code(15)[0].replace(old, new)
    assert len(bm.cloze_questions([{"text": source, "group": "alpha"}])) == 15


def test_capped_keeps_at_most_the_cap_per_module_deterministically():
    items = [{"group": "b", "k": k} for k in range(3)] + [{"group": "a", "k": k} for k in range(9)]
    kept = bm._capped(items, "task", cap=5)
    assert [i["group"] for i in kept] == ["a"] * 5 + ["b"] * 3  # modules in order
    assert kept[5:] == items[:3]  # under the cap: all, as they came
    assert len({i["k"] for i in kept[:5]}) == 5 and all(i in items for i in kept)
    assert kept == bm._capped(items, "task", cap=5)
    assert any(bm._capped(items, key, cap=5)[:5] != kept[:5] for key in ("other", "third"))


# --- chapter 9's test set, and all of them ------------------------------------------


def test_classification_questions_ask_for_the_chapter(monkeypatch, tmp_path):
    splits = {
        "train": [Passage("trained on", 0, "os", "python-docs")],
        "test": [
            Passage("json text", 1, "json", "python-docs"),
            Passage("os text", 0, "os", "stdlib"),
        ],
    }
    monkeypatch.setattr(
        bm, "build_dataset", lambda corpus, doc_root=None: (splits, ["Files", "Data"])
    )
    assert bm.classification_questions(tmp_path) == [
        {
            "query": "json text" + bm.CHAPTER_QUESTION,
            "choices": ["Files", "Data"],
            "gold": 1,
            "group": "json",
        },
        {
            "query": "os text" + bm.CHAPTER_QUESTION,
            "choices": ["Files", "Data"],
            "gold": 0,
            "group": "os",
        },
    ]


def test_build_tasks_reads_only_held_out_modules(stdlib, tmp_path, monkeypatch):
    long_code, _ = code(60)
    assert len(long_code) > bm.DOC_CHARS
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            "heldout": [
                ("python-docs", "shapes", "Shapes page.\n"),
                ("stdlib-code", "beta", long_code),
            ],
            "train": [("python-docs", "other", "Other page.\n")],
        },
    )
    monkeypatch.setattr(bm, "classification_questions", lambda corpus, doc_root=None: ["chapter 9"])
    tasks = bm.build_tasks(corpus, stdlib_root=stdlib)
    assert set(tasks) == set(bm.BITS_PER_BYTE + bm.MULTIPLE_CHOICE)
    assert tasks["classification"] == ["chapter 9"]
    assert {q["group"] for q in tasks["doc_to_func"]} == {"shapes"}  # not other: trained on
    opening = tasks["code"][0]["text"]
    assert len(opening) <= bm.DOC_CHARS and len(tasks["api_cloze"]) == bm.CLOZE_PER_MODULE
    assert any(q["query"] not in opening for q in tasks["api_cloze"])  # the whole file's calls


# --- files ------------------------------------------------------------------------


def some_tasks():
    return {
        "docs": [{"text": "naïve\ncafé\n", "group": "json"}, {"text": "", "group": "os"}],
        "doc_to_func": [
            {"query": "# Q\ndef", "choices": ["a():", "b():"], "gold": 1, "group": "json"}
        ],
        "api_cloze": [],
    }


def test_save_and_load_tasks_round_trip(tmp_path):
    bm.save_tasks(tmp_path / "tasks", some_tasks())
    assert sorted(p.name for p in Path(tmp_path / "tasks").iterdir()) == [
        "api_cloze.jsonl",
        "doc_to_func.jsonl",
        "docs.jsonl",
    ]
    assert "naïve" in (tmp_path / "tasks" / "docs.jsonl").read_text(encoding="utf-8")
    assert bm.load_tasks(tmp_path / "tasks") == some_tasks()


def test_digest_names_the_tasks_as_saved(tmp_path):
    tasks = some_tasks()
    bm.save_tasks(tmp_path / "tasks", tasks)
    assert bm.digest(bm.load_tasks(tmp_path / "tasks")) == bm.digest(tasks)
    assert bm.digest(dict(reversed(tasks.items()))) == bm.digest(tasks)
    assert re.fullmatch("[0-9a-f]{64}", bm.digest(tasks))
    changed = some_tasks()
    changed["doc_to_func"][0]["gold"] = 0
    assert bm.digest(changed) != bm.digest(tasks)
    moved = some_tasks()
    moved["api_cloze"] = moved.pop("doc_to_func")  # the same items under another name
    assert bm.digest(moved) != bm.digest(tasks)
