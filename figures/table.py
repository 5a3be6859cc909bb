"""Tables for the book: rows computed in a chapter, printed as a typeset table.

``table(rows, header, caption, label)`` returned by a cell displays as
table data, which the builder typesets as a booktabs table
(``bookbuild/tables.py``): numbered, its caption above it, numbers
right-aligned.  Put units in the headers ("time (s)"), and format numbers
as the reader should see them.  In a plain Jupyter session it shows as
aligned text.
"""

import math

MIME = "application/vnd.book.table+json"  # bookbuild.tables.MIME; not imported, so that
# a change to the builder's table style does not re-execute the chapters that print tables


def _plain(value):
    """A cell as JSON can carry it: numpy and torch scalars as numbers,
    NaN and infinities and other objects as their text."""
    if hasattr(value, "item") and tuple(getattr(value, "shape", (None,))) == ():
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


class Table:
    def __init__(self, rows, header=None, caption=None, label=None):
        self.rows = [[_plain(v) for v in row] for row in rows]
        self.header = [str(h) for h in header] if header is not None else None
        self.caption = caption
        self.label = label

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = {
            "header": self.header,
            "rows": self.rows,
            "caption": self.caption,
            "label": self.label,
        }
        return {MIME: data, "text/plain": repr(self)}

    def __repr__(self) -> str:
        lines = ([self.header] if self.header else []) + [
            ["" if v is None else str(v) for v in row] for row in self.rows
        ]
        widths = (
            [
                max(len(line[i]) for line in lines if i < len(line))
                for i in range(max(len(line) for line in lines))
            ]
            if lines
            else []
        )
        text = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)).rstrip()
            for line in lines
        ]
        if self.header:
            text.insert(1, "  ".join("-" * w for w in widths))
        if self.caption:
            text.insert(0, f"Table: {self.caption}")
        return "\n".join(text)


def table(rows, header=None, caption=None, label=None) -> Table:
    """``rows`` (lists of cells) under ``header``, as a numbered table when
    it has a ``caption`` or a ``label`` (for ``{numref}`` or ``@tbl-...``)."""
    return Table(rows, header, caption, label)
