"""The chapter graph of the build appendix draws book.yml as the builder
reads it: a box per chapter in reading order, a lane per artifact from its
producer to each user; it fits the text block, and compiles."""

import re
import shutil
from pathlib import Path

import pytest
from tikz_widths import TEXT_WIDTH_PT, natural_widths

from bookbuild import config
from figures.bookdag import artifact_lanes, chapter_dag, dag_width_mm
from figures.concepts_text import TEXT_WIDTH_MM

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def book():
    return config.load(ROOT / "book")


def synthetic(produces: dict[str, list[str]], uses: dict[str, list[str]]) -> config.Book:
    """A book of chapters a, b, c, ... with the given artifacts."""
    ids = sorted(set(produces) | set(uses))
    chapters = [
        config.Chapter(
            id=i,
            path=Path(f"{i}.md"),
            part=None,
            appendix=False,
            number=str(n),
            uses=uses.get(i, []),
            produces=produces.get(i, []),
        )
        for n, i in enumerate(ids, 1)
    ]
    return config.Book(root=Path("."), title="t", chapters=chapters)


def test_lanes_are_the_books_artifacts_from_producer_to_users(book):
    lanes = artifact_lanes(book)
    assert sorted(name for name, _, _ in lanes) == sorted(
        name for ch in book.chapters for name in ch.produces
    )
    for name, producer, users in lanes:
        assert name in book.chapter(producer).produces
        assert users == [ch.id for ch in book.chapters if name in ch.uses]


def test_lanes_start_in_reading_order_even_when_a_user_comes_first():
    # c produces y, read by b before it; a produces x, read by d.
    lanes = artifact_lanes(synthetic({"a": ["x"], "c": ["y"]}, {"b": ["y"], "d": ["x"]}))
    assert lanes == [("x", "a", ["d"]), ("y", "c", ["b"])]
    lanes = artifact_lanes(synthetic({"c": ["x"], "d": ["y"]}, {"a": ["y"], "b": ["x"]}))
    assert lanes == [("y", "d", ["a"]), ("x", "c", ["b"])]


def test_figure_has_a_box_per_chapter_a_dot_per_product_and_an_arrow_per_use(book):
    latex = chapter_dag(book)._repr_latex_()
    boxes = re.findall(r"\\node\[chapter[^\]]*\] \(([\w-]+)\) at \([\d.]+mm, ([-\d.]+)mm\)", latex)
    assert [i for i, _ in boxes] == [ch.id for ch in book.chapters]
    ys = [float(y) for _, y in boxes]
    assert ys == sorted(ys, reverse=True)  # top to bottom in reading order
    arrows = len(re.findall(r"\\draw\[wire, ->", latex))
    assert arrows == sum(len(ch.uses) for ch in book.chapters)
    assert latex.count("circle (0.75mm)") == sum(len(ch.produces) for ch in book.chapters)
    for name, *_ in artifact_lanes(book):
        assert re.search(r"\\node\[artifact[^\]]*\] at [^{]*\{" + re.escape(name) + "}", latex)
    assert dag_width_mm(book) <= TEXT_WIDTH_MM


def test_a_graph_too_wide_for_the_page_is_refused():
    many = synthetic({"a": [f"artifact{k}" for k in range(12)]}, {"b": ["artifact0"]})
    with pytest.raises(ValueError, match="more than the text"):
        chapter_dag(many)


@pytest.mark.skipif(shutil.which("lualatex") is None, reason="needs LuaLaTeX")
def test_the_graph_compiles_at_its_natural_width(book, tmp_path):
    picture = chapter_dag(book)
    (width,) = natural_widths([picture], tmp_path)
    assert width <= TEXT_WIDTH_PT  # the 5 in text block, so nothing is scaled down
    assert width == pytest.approx(dag_width_mm(book) / 25.4 * 72.27, rel=0.05)
