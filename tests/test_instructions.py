"""scratchllm.data.instructions on a small fake standard library written in
tmp_path: every kind's output, the doctest check, the splits, the caps,
determinism and the file format.  One test reads the real json package."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from scratchllm.data import instructions as ins
from scratchllm.data.instructions import Example, InstructionConfig

GEOMETRY = '''\
"""Shapes in the plane."""


def area(width, height=1, *rest, scale=1.0, **options):
    """Return the area of a rectangle.

    The width and the height are numbers, e.g. 2 or 3.5.  Returns width
    times height.

    >>> side = 3
    >>> area(side, 2)
    6
    """
    return width * height


def perimeter(width, height):
    """Compute the perimeter of a rectangle.  It is twice the sum."""
    return 2 * (width + height)


def diagonal(width, height):
    """Measure the diagonal of a rectangle."""


def grow(factor):
    """Make a shape bigger by a factor."""


def undocumented(x):
    return x


def _hidden():
    """Private: not read."""


class Point:
    """A point in the plane.  It has x and y."""

    def __init__(self, x, y=0):
        self.x, self.y = x, y

    def moved(self, dx, dy):
        """Move the point.  Returns a new point."""

    @property
    def norm(self):
        """The distance to the origin."""

    @staticmethod
    def origin(dim=2):
        """The origin of the plane."""
'''
TALLY = '''\
def area(counts):
    """Sum the areas of the counts."""


def count(items):
    """Count the items.

    >>> count([1, 2])
    2
    """
    return len(items)
'''
FILES = {
    "geometry.py": GEOMETRY,
    "tally.py": TALLY,
    # A package re-exports its submodule's class: shapes.Circle.
    "shapes/__init__.py": '"""Shapes as classes."""\n\nfrom .circle import Circle\n',
    "shapes/circle.py": 'class Circle:\n    """A circle around a center."""\n\n'
    "    def __init__(self, radius, /, center=None):\n        pass\n",
    # Not read: a private module, a test.
    "_private.py": 'def secret():\n    """Hidden."""\n',
    "test/test_geometry.py": 'def test_it():\n    """A test."""\n',
}


def write_tree(root: Path, files=FILES, extra_modules=0) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # Small modules of one function each, for the splits: mod00, mod01...
    for i in range(extra_modules):
        (root / f"mod{i:02}.py").write_text(
            f'def job{i}(x, y):\n    """Do job {i}.  Returns nothing."""\n'
        )
    return root


@pytest.fixture
def tree(tmp_path):
    return write_tree(tmp_path / "lib")


@pytest.fixture
def records(tree):
    return {d.name: d for d in ins.documented(tree)}


DEFAULT = InstructionConfig()


def ask(kind, record, config=DEFAULT):
    example = ins.ASK[kind](record, config)
    return example and (example.instruction, example.response)


# --- what the library documents ---------------------------------------------------------


def test_documented_reads_public_documented_functions_classes_methods(records):
    assert list(records) == [
        "geometry.area",
        "geometry.perimeter",
        "geometry.diagonal",
        "geometry.grow",
        "geometry.Point",
        "geometry.Point.moved",
        "geometry.Point.norm",
        "geometry.Point.origin",
        "shapes.Circle",
        "tally.area",
        "tally.count",
    ]
    area = records["geometry.area"]
    assert area.signature == "area(width, height=1, *rest, scale=1.0, **options)"
    assert area.parameters == ("width", "height", "*rest", "scale", "**options")
    assert area.doc.startswith("Return the area of a rectangle.\n\nThe width")
    assert (area.group, area.kind) == ("geometry", "function")
    assert area.siblings == ("diagonal", "grow", "perimeter")


def test_signatures_leave_out_self_but_not_a_static_methods_first(records):
    # A class's signature is its __init__'s, without self.
    assert records["geometry.Point"].signature == "Point(x, y=0)"
    assert records["geometry.Point.moved"].parameters == ("dx", "dy")
    assert records["geometry.Point.origin"].parameters == ("dim",)
    # A property has no signature to ask about.
    assert records["geometry.Point.norm"].signature is None
    assert records["geometry.Point.moved"].siblings == ("origin",)


def test_a_package_re_export_gives_the_public_name(records):
    circle = records["shapes.Circle"]
    assert (circle.module, circle.defined_in) == ("shapes", "shapes.circle")
    assert circle.signature == "Circle(radius, /, center=None)"
    assert circle.parameters == ("radius", "center")


def test_unique_means_bound_by_one_module_only(records):
    assert not records["geometry.area"].unique  # tally has an area too
    assert records["tally.count"].unique
    assert records["shapes.Circle"].unique


def test_sentences_and_excerpts():
    text = "One, e.g. two.  Three i.e. four.\nFive.\n\nSix 3.5 seven\nend"
    assert ins.sentences(text) == [
        "One, e.g. two.",
        "Three i.e. four.",
        "Five.",
        "Six 3.5 seven end",
    ]
    assert ins.excerpt("ab\ncd\nef", 6) == "ab\ncd"
    assert ins.excerpt("abcdef", 4) == "abcd"
    assert ins.excerpt("ab", 4) == "ab"


# --- the kinds ----------------------------------------------------------------------------


def test_open_book_kinds(records):
    area = records["geometry.area"]
    doc = area.doc
    assert ask("first_sentence", area) == (
        f"Docstring:\n{doc}\n\nWhat is its first sentence?",
        "Return the area of a rectangle.",
    )
    assert ask("parameters", area) == (
        "Signature: area(width, height=1, *rest, scale=1.0, **options)\n\n"
        "List its parameters, in order, separated by commas.",
        "width, height, *rest, scale, **options",
    )
    assert ask("returns", area) == (
        f"Docstring of `geometry.area`:\n{doc}\n\n"
        "What does it return? Answer with the sentence that says so.",
        "Returns width times height.",
    )
    assert ask("doctest", area) == (
        # The asked line's output is the answer, not in the prompt.
        "In the module `geometry`:\n>>> side = 3\n>>> area(side, 2)\n\n"
        "What does the last line print?",
        "6",
    )
    example = ins.ask_doctest(area, InstructionConfig())
    assert (example.module, example.setup, example.source) == (
        "geometry",
        ">>> side = 3",
        "area(side, 2)\n",
    )


def test_kinds_skip_what_they_cannot_ask(records):
    # One sentence only: nothing to cut.
    assert ask("first_sentence", records["geometry.diagonal"]) is None
    # The only Return sentence is the first: no search.
    assert ask("returns", records["tally.area"]) is None
    # No parameters; no signature.
    assert ask("parameters", records["geometry.Point.norm"]) is None
    assert ask("signature", records["geometry.Point.norm"]) is None
    # No doctest.
    assert ask("doctest", records["geometry.grow"]) is None


def test_name_offers_four_names_in_a_hashed_order(records):
    assert ask("name", records["geometry.grow"]) == (
        "def ?(factor)\nMake a shape bigger by a factor.\n\n"
        "Which function is it: perimeter, diagonal, area, grow?",
        "grow",
    )
    # The summary gives the name away ("the diagonal"): not asked.
    assert ask("name", records["geometry.diagonal"]) is None
    # Fewer than three other functions in the class.
    assert ask("name", records["geometry.Point.moved"]) is None


def test_closed_book_kinds(records):
    area, point = records["geometry.area"], records["geometry.Point"]
    assert ask("summary", area) == (
        "What does `geometry.area` do?",
        "Return the area of a rectangle.",
    )
    assert ask("summary", point) == ("What is `geometry.Point`?", "A point in the plane.")
    assert ask("signature", records["geometry.Point.moved"]) == (
        "What is the signature of `geometry.Point.moved`?",
        "geometry.Point.moved(dx, dy)",
    )
    assert ask("module", records["shapes.Circle"]) == (
        "Which module provides `Circle`?",
        "shapes",
    )
    # area is in two modules; a method is provided by its class.
    assert ask("module", area) is None
    assert ask("module", records["geometry.Point.moved"]) is None


def test_a_signature_line_is_no_summary(tmp_path):
    files = {"cmod.py": 'def spin(n):\n    """spin(n) -> int\n\nTurn n times."""\n'}
    (spin,) = ins.documented(write_tree(tmp_path, files))
    assert ask("summary", spin) is None
    assert ask("signature", spin) == ("What is the signature of `cmod.spin`?", "cmod.spin(n)")


def test_limits_of_the_config(records):
    area = records["geometry.area"]
    assert ask("summary", area, InstructionConfig(max_response=10)) is None
    assert ask("returns", area, InstructionConfig(max_example=100)) is None
    # A docstring cut to its first line shows no Returns sentence.
    assert ask("returns", area, InstructionConfig(doc_chars=40)) is None
    shown, _ = ask("first_sentence", area, InstructionConfig(doc_chars=40))
    assert shown == "Docstring:\nReturn the area of a rectangle.\n\nWhat is its first sentence?"
    # Outputs longer than max_output are not asked.
    assert ask("doctest", area, InstructionConfig(max_output=0)) is None


# --- the doctest check --------------------------------------------------------------------


def session(source, setup="", module="math"):
    return Example("doctest", "math", "math.x", "", "", module, setup, source)


def test_check_doctest_true_and_wrong_answers():
    example = session("sqrt(x)\n", ">>> x = 16")
    assert ins.check_doctest(example, "4.0")
    assert ins.check_doctest(example, "  4.0\n")
    assert not ins.check_doctest(example, "4")
    assert not ins.check_doctest(example, "...")  # no ELLIPSIS
    # Whitespace is normalized.
    assert ins.check_doctest(session("[1, 2]\n"), "[1,\n 2]")


def test_check_doctest_fails_on_an_exception_a_timeout_a_crash():
    assert not ins.check_doctest(session("1 / 0\n"), "0")
    assert not ins.check_doctest(session("while True: pass\n"), "", timeout=0.3)
    assert not ins.check_doctest(session("import os; os._exit(3)\n"), "")
    assert not ins.check_doctest(session("1\n", module="no_such_module"), "1")


def test_check_doctests_in_one_batch_survive_a_crash():
    pairs = [
        (session("pi > 3\n"), "True"),
        (session("import os; os._exit(3)\n"), ""),
        (session("floor(2.5)\n"), "3"),
        (session("floor(2.5)\n"), "2"),
    ]
    assert ins.check_doctests(pairs) == [True, False, False, True]


def test_check_doctest_runs_a_fake_tree_module(tree):
    (example,) = [e for e in built(tree)["train"] if e.kind == "doctest"]
    assert example.name == "geometry.area"
    assert ins.check_doctest(example, "6", path=[tree])
    assert not ins.check_doctest(example, "7", path=[tree])


def test_a_doctest_whose_output_is_not_reproduced_is_dropped(tmp_path):
    files = {"wrong.py": 'def f():\n    """Do f.\n\n    >>> 1 + 1\n    3\n    """\n'}
    root = write_tree(tmp_path, files)
    (f,) = ins.documented(root)
    assert ins.ask_doctest(f, InstructionConfig())  # a candidate...
    assert not [e for e in built(root)["train"] if e.kind == "doctest"]  # ...dropped


# --- the dataset ----------------------------------------------------------------------------


def built(root, heldout=("tally",), **config):
    return ins.build_examples(root, set(heldout), InstructionConfig(**config))


def test_splits_by_group(tmp_path):
    root = write_tree(tmp_path, extra_modules=20)
    splits = built(root, val_fraction=0.3)
    groups = {name: {e.group for e in examples} for name, examples in splits.items()}
    assert groups["test"] == {"tally"}
    assert groups["val"] and groups["train"]
    assert not groups["train"] & groups["val"]
    assert "tally" not in groups["train"] | groups["val"]
    table = ins.counts(splits)
    assert list(table["test"]) == [*ins.KINDS, "all"]
    assert table["test"]["doctest"] == 1  # tally.count's
    assert sum(row["all"] for row in table.values()) == sum(map(len, splits.values()))


def test_caps_keep_the_same_hash_chosen_examples(tree):
    full = built(tree, heldout=())["train"]
    capped = built(tree, heldout=(), per_group_kind=2)["train"]
    assert set(capped) <= set(full)
    for group in {e.group for e in full}:
        for kind in ins.KINDS:
            n = sum(e.group == group and e.kind == kind for e in full)
            kept = sum(e.group == group and e.kind == kind for e in capped)
            assert kept == min(n, 2)


def test_same_inputs_same_file(tree, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ins.save_examples(first, built(tree))
    ins.save_examples(second, built(tree))
    assert first.read_bytes() == second.read_bytes()
    assert ins.load_examples(first) == built(tree)


def test_load_examples_names_a_bad_file(tmp_path):
    path = tmp_path / "examples.jsonl"
    path.write_text('{"split": "train", "kind": "summary"}\n')
    with pytest.raises(ValueError, match="examples.jsonl:1"):
        ins.load_examples(path)
    path.write_text("not json\n")
    with pytest.raises(ValueError, match="examples.jsonl:1"):
        ins.load_examples(path)
    example = dataclasses.asdict(session("1\n"))
    path.write_text(json.dumps({"split": "nowhere", **example}) + "\n")
    with pytest.raises(ValueError, match="examples.jsonl:1"):
        ins.load_examples(path)


JSON = Path("/usr/lib/python3.11/json")


@pytest.mark.skipif(not JSON.is_dir(), reason="Debian's standard library is not installed")
def test_the_real_json_package(tmp_path):
    shutil.copytree(JSON, tmp_path / "json", ignore=shutil.ignore_patterns("__pycache__"))
    splits = ins.build_examples(tmp_path, {"json"}, InstructionConfig(per_group_kind=100))
    assert not splits["train"] and not splits["val"]
    by_kind = {}
    for example in splits["test"]:
        by_kind.setdefault(example.kind, {})[example.name] = example.response
    # json's docstrings say what they return in their first sentences.
    assert set(by_kind) == set(ins.KINDS) - {"returns"}
    assert by_kind["summary"]["json.dumps"] == "Serialize ``obj`` to a JSON formatted ``str``."
    assert (
        by_kind["signature"]["json.JSONDecoder.decode"]
        == "json.JSONDecoder.decode(s, _w=WHITESPACE.match)"
    )
    assert by_kind["module"]["json.JSONDecoder"] == "json"
    assert by_kind["doctest"]["json.JSONEncoder.encode"] == '\'{"foo": ["bar", "baz"]}\''
