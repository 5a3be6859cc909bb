"""Tables from code: the book's table() helper and the builder's booktabs LaTeX."""

import math

import numpy as np

from bookbuild import tables
from figures.table import MIME, table


def test_numbers_right_text_left_and_cells_escaped():
    latex = tables.tabular(
        ["name", "time (s)", "share"], [["a_b & c", 1.5, "12.5%"], ["d", 22, ""], ["e", None, "7%"]]
    )
    assert latex.splitlines() == [
        r"\begin{tabular}{lrr}",
        r"\toprule",
        r"name & time (s) & share \\",
        r"\midrule",
        r"a\_b \& c & 1.5 & 12.5\% \\",
        r"d & 22 &  \\",
        r"e &  & 7\% \\",
        r"\bottomrule",
        r"\end{tabular}",
    ]


def test_short_rows_are_padded_and_floats_keep_six_digits():
    latex = tables.tabular(None, [[1 / 3, "x"], [2.0]])
    assert r"0.333333 & x \\" in latex and r"2 &  \\" in latex
    assert r"\midrule" not in latex  # no header


def test_caption_and_label_make_a_numbered_table():
    data = {"header": ["k"], "rows": [["v"]]}
    assert r"\captionof" not in tables.latex(data)
    numbered = tables.latex(data, caption="Sizes, $n^2$ & more", label="tbl-cell")
    assert r"\captionof{table}{Sizes, $n^2$ \& more.}\label{tbl-cell}" in numbered
    own = tables.latex(dict(data, caption="Own", label="tbl-own"), caption="Cell", label="tbl-cell")
    assert r"\captionof{table}{Own.}\label{tbl-own}" in own  # the table's own win, a sentence


def test_helper_sends_plain_data_and_reads_as_text():
    shown = table(
        [["a", np.float32(0.5), np.int64(3)], ["bb", math.nan, None]],
        header=["key", "value", "n"],
        caption="A table",
        label="tbl-a",
    )
    bundle = shown._repr_mimebundle_()
    assert bundle[MIME] == {
        "header": ["key", "value", "n"],
        "rows": [["a", 0.5, 3], ["bb", "nan", None]],
        "caption": "A table",
        "label": "tbl-a",
    }
    assert type(bundle[MIME]["rows"][0][2]) is int
    assert bundle["text/plain"] == (
        "Table: A table\nkey  value  n\n---  -----  -\na    0.5    3\nbb   nan"
    )
    assert tables.MIME == MIME


def test_long_tables_are_cut_in_the_middle():
    latex = tables.tabular(["i"], [[i] for i in range(100)])
    assert r"\multicolumn{1}{c}{[… 63 more rows not shown …]} \\" in latex
    assert (
        r"31 \\" in latex and r"32 \\" not in latex and r"95 \\" in latex and r"94 \\" not in latex
    )


def test_a_dataframe_is_shown_as_table_data():
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from bookbuild.execute import HELPERS

    shell = InteractiveShell.instance()
    shell.run_cell(HELPERS)
    frame = pd.DataFrame({"name": ["a", "b"], "time (s)": [1.5, np.nan]})
    data, _ = shell.display_formatter.format(frame)
    assert data[MIME] == {"header": ["name", "time (s)"], "rows": [["a", 1.5], ["b", None]]}
    data, _ = shell.display_formatter.format(frame.set_index("name"))
    assert data[MIME] == {"header": ["name", "time (s)"], "rows": [["a", 1.5], ["b", None]]}
    assert r"a & 1.5 \\" in tables.latex(data[MIME])


def test_a_long_text_column_wraps_in_a_table_as_wide_as_the_text():
    long = "a criterion explained in a sentence of some length"
    latex = tables.tabular(["rule", "documents", "criterion"], [["short", 3, long], ["x", 12, "y"]])
    assert latex.splitlines()[0] == (
        r"\begin{tabularx}{\linewidth}{lr>{\raggedright\arraybackslash}X}"
    )
    assert latex.splitlines()[-1] == r"\end{tabularx}"
    # not shrunk: only a one-line table can be too wide
    assert r"\adjustbox" not in tables.latex({"header": ["c"], "rows": [[long]]}, caption="C")
    assert r"\adjustbox" in tables.latex({"header": ["c"], "rows": [["short"]]}, caption="C")
