"""The roadmap that opens every chapter is drawn from book.yml."""

import pytest

from figures.book import artifact, data
from figures.roadmap import SHORT, book_parts, roadmap


def test_the_roadmap_has_every_chapter_of_the_book_once_and_highlights_one():
    files = [e["file"] for _, chapters in book_parts() for e in chapters]
    latex = roadmap("attention.md")._repr_latex_()
    for file in files:
        assert latex.count(f"{{{SHORT[file]}}}") == 1, file
    assert latex.count(r"\node[here") == 1
    assert r"\node[here, below=2.2mm of part1] (c1r0) {attention}" in latex
    assert r"$\to$ tokenizer, tokens" in latex  # what a chapter hands on


def test_every_chapter_has_a_short_name():
    assert {e["file"] for _, chapters in book_parts() for e in chapters} <= set(SHORT)


def test_a_book_without_parts_and_an_unknown_chapter(tmp_path):
    yml = tmp_path / "book.yml"
    yml.write_text("title: T\nchapters:\n  - file: one.md\n    produces: [a_b]\n")
    latex = roadmap("one.md", yml)._repr_latex_()
    assert r"{one}" in latex and r"$\to$ a\_b" in latex
    with pytest.raises(ValueError, match="'two.md' is not a chapter of book.yml"):
        roadmap("two.md", yml)


def test_a_missing_artifact_says_which_chapter_to_build(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_ARTIFACTS", str(tmp_path))
    (tmp_path / "corpus").mkdir()
    assert artifact("corpus") == tmp_path / "corpus"
    with pytest.raises(FileNotFoundError, match="artifact 'model' not found"):
        artifact("model")
    monkeypatch.setenv("BOOK_DIR", str(tmp_path))
    assert data("gpu.json") == tmp_path / "data" / "gpu.json"
