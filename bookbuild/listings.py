"""Code in the book: Pygments highlighting and listings included by symbol.

``literalinclude`` with ``:pyobject:`` (the Sphinx option) shows a class
or function exactly as it stands in ``code/``, with its real line numbers,
so the book and the library cannot drift apart.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

from pygments import highlight as _pygmentize
from pygments.formatters import LatexFormatter
from pygments.lexers import PythonLexer, TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

STYLE = "friendly"
_FORMATTER = LatexFormatter(style=STYLE, nowrap=True, commandprefix="PY")


def style_definitions() -> str:
    """The ``\\PY`` macros the highlighted code needs, for the preamble."""
    return LatexFormatter(style=STYLE, commandprefix="PY").get_style_defs()


def highlight(code: str, language: str = "python") -> str:
    """Body of a ``commandchars`` Verbatim environment."""
    try:
        lexer = get_lexer_by_name(language or "text") if language != "python" else PythonLexer()
    except ClassNotFound:
        lexer = TextLexer()
    return _pygmentize(code.rstrip("\n") + "\n", lexer, _FORMATTER).rstrip("\n")


def code_block(code: str, language: str = "python") -> str:
    return "\\begin{bookcode}\n" + highlight(code, language) + "\n\\end{bookcode}"


@dataclass
class Excerpt:
    path: Path
    first_line: int
    last_line: int
    code: str


class SymbolNotFound(LookupError):
    pass


def excerpt(path: Path, pyobject: str | None = None) -> Excerpt:
    """The source of ``pyobject`` ("Class", "function" or "Class.method")
    in ``path``, decorators included; the whole file when ``pyobject`` is None."""
    text = path.read_text()
    lines = text.splitlines()
    if pyobject is None:
        return Excerpt(path, 1, len(lines), text)
    scope = ast.parse(text, filename=str(path)).body
    node = None
    for name in pyobject.split("."):
        node = next(
            (
                n
                for n in scope
                if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and n.name == name
            ),
            None,
        )
        if node is None:
            raise SymbolNotFound(f"no class or function {pyobject!r} in {path}")
        scope = node.body
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return Excerpt(path, first, node.end_lineno, "\n".join(lines[first - 1 : node.end_lineno]))


def listing_block(
    ex: Excerpt, caption_tex: str, label: str | None, where_tex: str, url: str
) -> str:
    """A captioned, numbered listing; book.tex.j2 keeps a short one in one
    piece, which is why it is told the number of lines."""
    label_tex = f"\\label{{{label}}}" if label else ""
    link = f"\\href{{{url}}}{{{where_tex}}}" if url else where_tex
    lines = ex.last_line - ex.first_line + 1
    return (
        f"\\begin{{booklisting}}{{{caption_tex}{label_tex}}}{{{link}}}{{{lines}}}\n"
        f"\\begin{{booklistingcode}}[firstnumber={ex.first_line}]\n"
        f"{highlight(ex.code)}\n"
        "\\end{booklistingcode}\n"
        "\\end{booklisting}"
    )
