"""Tables from code, typeset with booktabs.

A cell's output carries a table as data (``MIME``: header, rows, and an
optional caption and label), sent by ``figures.table.table`` or by a
pandas DataFrame (``execute.HELPERS``).  The render stage turns it into
LaTeX here, so the table's style is the builder's, not the cache's.
Numeric columns are right-aligned and text columns left-aligned; a text
column with a cell longer than ``WRAP_CHARS`` wraps, in a ``tabularx``
as wide as the text, where a one-line table would be shrunk to fit.  The
markdown module (markdown-it behind it) is imported where a table is
typeset: the execute stage reads ``MIME`` from here.
"""

import re

MIME = "application/vnd.book.table+json"
MAX_ROWS = 40  # as render.MAX_OUTPUT_LINES: a table never runs off its page
WRAP_CHARS = 32  # a text cell longer than this: its column wraps
WRAPPED = r">{\raggedright\arraybackslash}X"  # tabularx's column, set ragged right
_NUMBER = re.compile(r"^[-+\u2212]?[\d,]*\.?\d+(?:[eE][-+]?\d+)?\s?%?$")


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".6g")  # pandas' default precision
    return str(value)


def is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or bool(_NUMBER.match(str(value).strip()))


def alignment(header: list, rows: list[list]) -> list[str]:
    """Per column: ``r`` when its filled cells are all numbers, ``WRAPPED``
    when one of them is text longer than ``WRAP_CHARS``, else ``l``."""
    width = max([len(header)] + [len(row) for row in rows])
    spec = []
    for column in range(width):
        values = [
            row[column] for row in rows if column < len(row) and row[column] not in (None, "")
        ]
        if values and all(is_number(v) for v in values):
            spec.append("r")
        elif any(len(cell_text(v)) > WRAP_CHARS for v in values):
            spec.append(WRAPPED)
        else:
            spec.append("l")
    return spec


def tabular(header: list | None, rows: list[list]) -> str:
    from .markdown import escape

    header = header or []
    spec = alignment(header, rows)

    def line(cells) -> str:
        cells = list(cells) + [""] * (len(spec) - len(cells))
        return " & ".join(escape(cell_text(c)) for c in cells) + r" \\"

    body = [r"\toprule"]
    if header:
        body += [line(header), r"\midrule"]
    if len(rows) > MAX_ROWS:
        head, tail = rows[: MAX_ROWS - 8], rows[-5:]
        cut = len(rows) - len(head) - len(tail)
        note = rf"\multicolumn{{{len(spec)}}}{{c}}{{[… {cut} more rows not shown …]}} \\"
        body += [line(row) for row in head] + [note] + [line(row) for row in tail]
    else:
        body += [line(row) for row in rows]
    body.append(r"\bottomrule")
    columns = "".join(spec)
    if WRAPPED in spec:
        begin, end = rf"\begin{{tabularx}}{{\linewidth}}{{{columns}}}", r"\end{tabularx}"
    else:
        begin, end = rf"\begin{{tabular}}{{{columns}}}", r"\end{tabular}"
    return "\n".join([begin, *body, end])


def latex(data: dict, caption: str | None = None, label: str | None = None) -> str:
    """The table ``data`` as LaTeX: numbered, with its caption (plain text
    with ``$math$``) above it, when it has a caption or a label; the
    data's own caption and label win over those given here (the cell's)."""
    from .markdown import escape_caption

    caption = data.get("caption") or caption
    if caption and not caption.rstrip().endswith((".", "?", "!")):
        caption = caption.rstrip() + "."  # a caption is a sentence, as the figures' are
    label = data.get("label") or label
    table = tabular(data.get("header"), data["rows"])
    if not table.startswith(r"\begin{tabularx}"):  # a tabularx is as wide as the text already
        table = rf"\adjustbox{{max width=\linewidth}}{{{table}}}"
    if not (caption or label):
        return "\n".join([r"\begin{center}", table, r"\end{center}"])
    # A minipage keeps the caption on the table's page, as bookfigure does.
    head = rf"\captionof{{table}}{{{escape_caption(caption or '')}}}"
    if label:
        head += rf"\label{{{label}}}"
    return "\n".join(
        [
            r"\par\medskip\noindent\begin{minipage}{\linewidth}\centering",
            head,
            table,
            r"\end{minipage}\par\medskip",
        ]
    )
