"""Computed values in prose: MyST-NB's ``{eval}`` role, and ``{const}``.

``{eval}`expr``` in a markdown cell (a heading, a table cell, a code
cell's ``:caption:``) is evaluated in the chapter's kernel right after the
code cell before it ran; its ``str()`` is cached with the outputs.  After
every code cell the kernel also records a snapshot of the chapter's plain
values (numbers, strings, small containers), so that a new or edited
expression is answered from the snapshot here, in the builder, without
running the chapter again.  Only one that needs more (a model, an array,
a function) makes the chapter execute.  ``{const}`text``` marks a true
constant for the typed-number check (``prose.py``) and prints its text.

A cell's *position* is the number of code cells that ran before its text
is read: a markdown cell sees the code cells above it, a caption also
sees its own cell.
"""

import ast
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from .errors import BookError, located

EVAL, CONST = "eval", "const"
# Directives whose body is not markdown (their roles are not roles).
VERBATIM = set(
    "code-cell code code-block sourcecode literalinclude math raw eval-rst mermaid graphviz".split()
)
_DIRECTIVE = re.compile(r"^\{([\w:-]+)\}")
_CAPTION = re.compile(r"^:caption:\s*(.*)$")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # CommonMark's escapable ASCII punctuation


class NeedsRun(Exception):
    """An expression the snapshot cannot answer: the chapter must execute."""


@cache
def parser():
    """MyST's own reading of markdown: CommonMark, tables, math and roles."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin
    from mdit_py_plugins.myst_blocks import myst_block_plugin
    from mdit_py_plugins.myst_role import myst_role_plugin

    return (
        MarkdownIt("commonmark")
        .enable("table")
        .use(front_matter_plugin)
        .use(myst_block_plugin)
        .use(myst_role_plugin)
        .use(dollarmath_plugin)
        .use(footnote_plugin)
    )


def inline_tokens(text: str) -> Iterator[tuple[object, int]]:
    """Every inline token of ``text`` with its line (0-based), including
    those in the bodies of markdown directives and in ``:caption:`` options
    of code cells; code, math and verbatim directives are single tokens."""
    for token in parser().parse(text):
        if token.type == "inline":
            yield from _children(token.children, token.map[0])
        elif token.type == "fence" and (m := _DIRECTIVE.match(token.info)):
            start = token.map[0] + 1
            if m[1] not in VERBATIM:
                yield from ((t, line + start) for t, line in inline_tokens(token.content))
            elif m[1] == "code-cell":
                for offset, row in enumerate(token.content.split("\n")):
                    if c := _CAPTION.match(row):
                        yield from _children(_inline(c[1]), start + offset)


def _inline(text: str) -> list:
    tokens = parser().parseInline(text)
    return tokens[0].children if tokens else []


def _children(children, line: int) -> Iterator[tuple[object, int]]:
    for child in children or []:
        if child.type in ("softbreak", "hardbreak"):
            line += 1
        yield child, line


@dataclass(frozen=True)
class Role:
    name: str
    content: str
    line: int  # 0-based, in the text it was found in


def roles(text: str, names=(EVAL, CONST), inline: bool = False) -> list[Role]:
    """The roles called ``names`` in markdown ``text`` (``inline``: a single
    line of inline markdown, such as a caption), in reading order."""
    if not any(f"{{{name}}}`" in text for name in names):
        return []  # most cells have none, and parsing them all would cost a no-op build
    tokens = _children(_inline(text), 0) if inline else inline_tokens(text)
    return [
        Role(t.meta["name"], t.content, line)
        for t, line in tokens
        if t.type == "myst_role" and t.meta["name"] in names
    ]


def escape_markdown(text: str) -> str:
    """``text`` as a markdown source that reads as exactly that text."""
    # An escaped "@" still reads as a citation to the filter, which sees
    # pandoc's text after escapes are gone: pass it as raw LaTeX instead.
    return _PUNCTUATION.sub(
        lambda m: "`@`{=latex}" if m[1] == "@" else "\\" + m[1], " ".join(text.split("\n"))
    )


def substitute(
    text: str, values: dict[str, str], markdown: bool = True, inline: bool = False
) -> str:
    """``text`` with each ``{eval}`` replaced by its value from ``values``
    and each ``{const}`` by its content: escaped as markdown, or as plain
    text (``markdown=False``, for captions)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out, cursor = [], 0
    for role in roles(text, inline=inline):
        # The role's exact source: markdown-it keeps no columns, and reads
        # a line break inside the backticks as a space.
        body = r"[ \n]".join(re.escape(part) for part in role.content.split(" "))
        pattern = re.compile(r"\{" + role.name + r"\}(`+)" + body + r"\1(?!`)")
        m = pattern.search(text, max(cursor, starts[min(role.line, len(starts) - 1)]))
        if m is None:  # a role markdown-it found must be in its source
            raise AssertionError(f"cannot find {role} in {text!r}")
        value = role.content if role.name == CONST else values[role.content]
        out += [text[cursor : m.start()], escape_markdown(value) if markdown else value]
        cursor = m.end()
    return "".join(out) + text[cursor:]


# --- Where the expressions are ------------------------------------------------


def positions(nb) -> list[int]:
    """Each cell's position: the code cells run before its text is read."""
    out, ran = [], 0
    for cell in nb.cells:
        ran += cell.cell_type == "code"
        out.append(ran)
    return out


def expressions(nb) -> dict[int, list[str]]:
    """The ``{eval}`` expressions of ``nb`` by position, each once."""
    found: dict[int, list[str]] = {}
    for cell, position in zip(nb.cells, positions(nb), strict=True):
        for role in _cell_roles(cell, (EVAL,)):
            exprs = found.setdefault(position, [])
            if role.content not in exprs:
                exprs.append(role.content)
    return found


def _cell_roles(cell, names) -> list[Role]:
    if cell.cell_type == "markdown":
        return roles(cell.source, names)
    if cell.cell_type == "code" and cell.metadata.get("caption"):
        return roles(str(cell.metadata["caption"]), names, inline=True)
    return []


def _where(chapter, cell, role: Role) -> str:
    if cell.cell_type == "code":  # a caption: its line is among the cell's options
        return located(chapter.path, f"{{{role.name}}}`{role.content}`")
    from . import sources

    lead = len(cell.source) - len(cell.source.lstrip("\n"))  # blank lines before the text
    return sources.where(chapter, cell, role.line - lead + 1)


# --- Resolving each expression to its text ----------------------------------


def resolve(chapter, nb, record: dict) -> dict[str, dict[str, str]]:
    """The text of every ``{eval}`` of ``nb`` (the current source), by
    position and expression: what the kernel recorded when it evaluated
    that expression there, or else its value over the snapshot.

    Raises ``NeedsRun`` when the snapshot cannot answer, and ``BookError``
    for an expression that failed in the kernel or is not Python."""
    evals = record.get("evals", {})
    snapshots = Snapshots(record.get("snapshots", []))
    values: dict[str, dict[str, str]] = {}
    for cell, position in zip(nb.cells, positions(nb), strict=True):
        for role in _cell_roles(cell, (EVAL,)):
            expr = role.content
            where = _where(chapter, cell, role)
            kept = evals.get(str(position), {}).get(expr)
            if kept is not None and "error" in kept:
                raise BookError(f"{{eval}}`{expr}` failed: {kept['error']}", where=where)
            if kept is not None:
                text = kept["text"]
            else:
                text = snapshots.evaluate(expr, position, where)
            values.setdefault(str(position), {})[expr] = text
    return values


class Snapshots:
    """The kernel's plain values after each code cell, stored as changes
    (names set, names gone) and the names it held but could not keep."""

    def __init__(self, changes: list[dict]):
        self.changes = changes
        self._built: dict[int, tuple[dict, set]] = {}

    def at(self, position: int) -> tuple[dict, set]:
        """(values, opaque names) after ``position`` code cells."""
        if position not in self._built:
            values: dict = {}
            for change in self.changes[: position + 1]:
                for name in change.get("del", []):
                    values.pop(name, None)
                values.update({name: _literal(text) for name, text in change["set"].items()})
            self._built[position] = values, set(self.changes[position]["opaque"])
        return self._built[position]

    def evaluate(self, expr: str, position: int, where: str) -> str:
        try:
            tree = ast.parse(expr.strip(), mode="eval")
        except SyntaxError as exc:
            raise BookError(
                f"{{eval}}`{expr}` is not a Python expression: {exc.msg}", where=where
            ) from None
        if position >= len(self.changes):
            raise NeedsRun(f"{{eval}}`{expr}` ({where}) has no snapshot yet")
        values, opaque = self.at(position)
        if hidden := sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & opaque):
            raise NeedsRun(
                f"{{eval}}`{expr}` ({where}) needs more than the snapshot holds "
                f"({', '.join(hidden)})"
            )
        try:
            return str(eval(compile(tree, "<eval>", "eval"), {"math": math, **values}))
        except Exception as exc:  # the kernel may well know better
            raise NeedsRun(
                f"{{eval}}`{expr}` ({where}) needs more than the snapshot holds "
                f"({type(exc).__name__}: {exc})"
            ) from None


def _literal(text: str):
    """A value the kernel stored as its ``repr``: literals, ``nan`` and ``inf``."""
    return eval(text, {"__builtins__": {}, "nan": math.nan, "inf": math.inf})


# --- The kernel's side ----------------------------------------------------------

# Defined in the kernel before the chapter's first cell; ``_book_record``
# runs in a hidden cell after each code cell.  Names starting with '_'
# are the kernel's own and never snapshotted.
KERNEL = r'''
def _book_record(_exprs, _limits=(1000, 100_000)):
    """Evaluate the {eval} expressions that follow this cell, and print them
    with the change in the chapter's plain values since the last call."""
    import json, math, types
    ns = get_ipython().user_ns
    evals, scope = {}, {"math": math, **ns}  # as the builder evaluates over a snapshot
    for expr in _exprs:
        try:
            evals[expr] = {"text": str(eval(expr, scope))}
        except Exception as exc:
            evals[expr] = {"error": f"{type(exc).__name__}: {exc}"}
    kept, opaque, room = {}, [], _limits[1]
    for name, value in list(ns.items()):
        if name.startswith("_") or name in ("In", "Out", "exit", "quit", "get_ipython"):
            continue
        if isinstance(value, types.ModuleType) and name == "math" and value is math:
            continue  # the builder evaluates with math as well
        try:
            text = repr(_book_plain(value, list(_limits)))
        except Exception:  # not plain, too many items, too many digits
            text = None
        if text is None or len(text) > room:
            opaque.append(name)
            continue
        room -= len(text)
        kept[name] = text
    last = globals().setdefault("_book_last", {})
    change = {"set": {k: v for k, v in kept.items() if last.get(k) != v},
              "del": [k for k in last if k not in kept], "opaque": sorted(opaque)}
    globals()["_book_last"] = kept
    print(json.dumps({"evals": evals, "snapshot": change}))


def _book_plain(value, budget):
    """value as plain Python (numbers, strings, small containers), or an
    error; budget: [items, characters] still allowed."""
    budget[0] -= 1
    budget[1] -= len(value) if isinstance(value, str) else 0
    if budget[0] < 0 or budget[1] < 0:
        raise ValueError("too many items or characters")
    if type(value).__module__.split(".")[0] in ("numpy", "torch") and hasattr(value, "item") \
            and tuple(getattr(value, "shape", (None,))) == ():
        value = value.item()  # a numpy or torch scalar
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = [_book_plain(v, budget) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {_book_plain(k, budget): _book_plain(v, budget) for k, v in value.items()}
    raise TypeError(type(value).__name__)
'''


def kernel_cell(exprs: list[str]) -> str:
    """The hidden cell run after a code cell (and once before the first)."""
    return f"_book_record({exprs!r})"
