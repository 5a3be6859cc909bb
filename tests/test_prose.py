"""The typed-number check: which numbers in prose look like measured results."""

from pathlib import Path

import pytest

from bookbuild import prose


@pytest.mark.parametrize(
    "sentence, flagged",
    [
        # Measured results: flagged.
        ("The run took 505 s (planned: 360 s).", ["505 s", "360 s"]),
        ("Recall is 88.2% on the test split.", ["88.2%"]),
        ("It trains in 8 minutes, or 2 hours on one core.", ["8 minutes", "2 hours"]),
        ("One step takes 12 ms.", ["12 ms"]),
        ("The corpus holds 4.9 M tokens for 27 k parameters.", ["4.9 M", "27 k"]),
        ("Checkpoints take 1.2 GB.", ["1.2 GB"]),
        ("That is 3× faster.", ["3×"]),
        ("It keeps 1,200 documents.", ["1,200"]),
        ("The loss ends at 4.71 nats.", ["4.71 nats"]),
        ("A gap of −0.12 at the end.", ["−0.12"]),
        ("With a learning rate of 3e-4.", ["3e-4"]),
        ("The matmul runs at 190 GFLOP/s.", ["190 GFLOP/s"]),
        # Constants, names and references: not flagged.
        ("A model of 8 layers and 12 heads, as in 2017.", []),
        ("GPT-2 and Llama 3 in bf16 or float16.", []),
        ("See Figure 3.2, Table 5.1, Section 1.2 and eq. (1.5).", []),
        ("Python 3.12 with numpy 2.1.3, version 1.2.", []),
        ("A 3×3 matrix.", []),
        ("Two models, six minutes.", []),
        ("As [@knuth1984] and @vaswani2017 show at https://example.org/v1.5/x.", []),
        ("A pandoc table caption {#tbl-1.2}.", []),
    ],
)
def test_numbers_in_sentences(sentence, flagged):
    assert [number for _, number in prose.typed_numbers(sentence)] == flagged


def test_code_math_roles_links_and_options_are_not_prose():
    text = (
        "Code `took 505 s` and $x = 3.5$ and {eval}`f'{t:.1f} s'` and {const}`0.5 s`.\n"
        "A [link to 2.5 s](https://x.org/2.5) and ![alt](img/fig1.5.png).\n\n"
        "```python\nsleep(3.5)\n```\n\n$$\ny = 0.5 x\n$$ (eq-y)\n\n"
        ":::{figure} img/a.png\n:width: 80%\nA caption of 9.5 s.\n:::\n\n"
        "<span>2.5 s</span>\n"
    )
    # Link text, a directive's caption and text inside inline HTML are prose.
    assert prose.typed_numbers(text) == [(1, "2.5 s"), (13, "9.5 s"), (16, "2.5 s")]


def test_allow_list_passes_its_phrases_only():
    text = "Use 20 tokens per parameter, not 20.5 tokens."
    assert prose.typed_numbers(text, ["20 tokens per parameter"]) == [(0, "20.5")]


def test_code_cell_caption_is_prose_and_its_body_is_not():
    text = "Intro.\n\n```{code-cell} python\n:caption: Ran for 12.5 s\nx = 3.5\n```\n"
    assert prose.typed_numbers(text) == [(3, "12.5 s")]


def test_check_reports_file_and_line(tmp_path):
    chapter = tmp_path / "ch.md"
    chapter.write_text("---\njupytext: {}\n---\n# Title\n\nIt took\n505 s.\n")

    class Chapter:
        path = Path(chapter)

    [finding] = prose.check([Chapter])
    assert str(finding) == f"{chapter}:7: typed number '505 s' in prose (use {{eval}} or {{const}})"


def test_unchanged_chapters_are_answered_from_the_memo(tmp_path, monkeypatch):
    chapter = tmp_path / "ch.md"
    chapter.write_text("# Title\n\nIt took 505 s.\n")

    class Chapter:
        path = chapter

    memo = tmp_path / "cache" / "prose.json"
    first = prose.check([Chapter], [], memo)
    monkeypatch.setattr(prose, "typed_numbers", None)  # a second reading would fail
    assert prose.check([Chapter], [], memo) == first
    monkeypatch.undo()
    chapter.write_text("# Title\n\nIt took 12.5 ms.\n")
    assert [f.number for f in prose.check([Chapter], [], memo)] == ["12.5 ms"]


def test_the_book_passes_the_strict_check():
    # CI builds with CI=true, where a typed number fails the build; this
    # says so in the tests, before the half-hour build.
    from bookbuild import config

    book = config.load(Path(__file__).parents[1] / "book")
    assert [str(f) for f in prose.check(book.chapters, book.prose_allow)] == []
