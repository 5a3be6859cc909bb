"""Cell outputs cleaned for print: render.clean_text, truncate, clean_outputs."""

import copy

import pytest
from nbformat.v4 import new_output

from bookbuild import render

# --- clean_text ---------------------------------------------------------------


def test_clean_text_removes_ansi():
    text = "\x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[0m\x1b[?25l"
    assert render.clean_text(text) == "red and bold green"


def test_clean_text_progress_bar_keeps_final_state():
    text = "  0%|          |\r 50%|#####     |\r100%|##########|\ndone\n"
    assert render.clean_text(text) == "100%|##########|\ndone\n"


def test_clean_text_each_line_collapses_separately():
    assert render.clean_text("a1\ra2\nb1\rb2\rb3\nc") == "a2\nb3\nc"


def test_clean_text_crlf_is_a_newline():
    assert render.clean_text("one\r\ntwo\r\n") == "one\ntwo\n"


def test_clean_text_progress_ending_in_carriage_return():
    # print(f"step {i}", end="\r") leaves "step 3" on the terminal, not a blank line
    assert render.clean_text("step 1\rstep 2\rstep 3\r") == "step 3"


def test_clean_text_plain_text_untouched():
    text = "plain\n  indented\n\ttab 中文\n"
    assert render.clean_text(text) == text


# --- truncate ---------------------------------------------------------------


def numbered(n: int) -> str:
    return "\n".join(f"line {i}" for i in range(1, n + 1))


def test_truncate_short_text_untouched():
    assert render.truncate("a\nb\nc") == "a\nb\nc"
    assert render.truncate(numbered(40)) == numbered(40)


def test_truncate_long_text():
    out = render.truncate(numbered(100)).split("\n")
    assert len(out) == 32 + 1 + 5
    assert out[:32] == [f"line {i}" for i in range(1, 33)]
    assert out[32] == "[… 63 more lines not shown …]"
    assert out[33:] == [f"line {i}" for i in range(96, 101)]


def test_truncate_just_over_the_limit():
    out = render.truncate(numbered(41)).split("\n")
    assert out[32] == "[… 4 more lines not shown …]"
    # every line is either shown or counted
    shown = [line for line in out if line.startswith("line ")]
    assert len(shown) + 4 == 41


@pytest.mark.parametrize("n,limit", [(25, 10), (11, 10), (1000, 40)])
def test_truncate_counts_are_exact(n, limit):
    out = render.truncate(numbered(n), limit).split("\n")
    marker = next(line for line in out if line.startswith("[…"))
    cut = int(marker.split()[1])
    shown = [line for line in out if line.startswith("line ")]
    assert len(shown) + cut == n
    assert len(out) <= limit
    assert out[-1] == f"line {n}"


def test_truncate_ignores_trailing_newline():
    assert render.truncate(numbered(100) + "\n") == render.truncate(numbered(100))


# --- clean_outputs ----------------------------------------------------------


def stream(text, name="stdout"):
    return new_output("stream", name=name, text=text)


def test_streams_of_same_name_merged():
    outs = render.clean_outputs(
        [stream("a\n"), stream("b\n"), stream("oops\n", "stderr"), stream("c\n")]
    )
    assert [(o.name, o.text) for o in outs] == [
        ("stdout", "a\nb"),
        ("stderr", "oops"),
        ("stdout", "c"),
    ]


def test_merged_stream_progress_bar_cleaned():
    outs = render.clean_outputs([stream("\x1b[32m 10%\r"), stream(" 60%\r"), stream("100%\n")])
    assert len(outs) == 1
    assert outs[0].text == "100%"


def test_stream_of_carriage_return_progress_is_kept():
    # a training loop printing with end="\r" must not lose its final line
    outs = render.clean_outputs([stream("epoch 1 loss 2.0\r"), stream("epoch 2 loss 1.0\r")])
    assert [o.text for o in outs] == ["epoch 2 loss 1.0"]


def test_merged_stream_truncated():
    outs = render.clean_outputs([stream(f"{i}\n") for i in range(100)])
    assert len(outs) == 1
    assert "[… 63 more lines not shown …]" in outs[0].text


def test_empty_streams_dropped():
    outs = render.clean_outputs(
        [
            stream(""),
            stream("\n", "stderr"),
            new_output("execute_result", data={"text/plain": "1"}, execution_count=1),
            stream("\x1b[0m", "stderr"),
        ]
    )
    assert [o.output_type for o in outs] == ["execute_result"]


def test_widget_and_html_only_outputs_dropped():
    widget = new_output(
        "display_data",
        data={
            "application/vnd.jupyter.widget-view+json": {
                "model_id": "abc",
                "version_major": 2,
                "version_minor": 0,
            }
        },
    )
    html = new_output("display_data", data={"text/html": "<b>hi</b>"})
    mixed = new_output(
        "execute_result",
        execution_count=3,
        data={"text/html": "<table/>", "text/plain": "\x1b[1m   a  b\x1b[0m"},
    )
    image = new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    outs = render.clean_outputs([widget, html, mixed, image])
    assert len(outs) == 2
    assert dict(outs[0].data) == {"text/plain": "   a  b"}
    assert set(outs[1].data) == {"image/png", "text/plain"}


def test_error_traceback_cleaned():
    err = new_output(
        "error", ename="ValueError", evalue="bad", traceback=["\x1b[31mValueError\x1b[0m: bad"]
    )
    (out,) = render.clean_outputs([err])
    assert out.traceback == ["ValueError: bad"]


def test_clean_outputs_does_not_mutate_input():
    outs = [
        stream("a\x1b[0m\n"),
        stream("b\n"),
        new_output("display_data", data={"text/html": "x", "text/plain": "y"}),
    ]
    before = copy.deepcopy(outs)
    render.clean_outputs(outs)
    assert outs == before


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    import os

    from bookbuild import files

    target = tmp_path / "cache.ipynb"
    target.write_text("old")

    def crash(fd):
        raise KeyboardInterrupt  # as if the build were killed mid-write

    monkeypatch.setattr(os, "fsync", crash)
    try:
        files.atomic_write_text(target, "new")
    except KeyboardInterrupt:
        pass
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.ipynb"]


def test_replacement_character_becomes_a_look_alike_luatex_accepts():
    assert render.clean_text("broken \ufffd byte") == "broken \u2370 byte"
