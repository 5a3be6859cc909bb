"""Markdown cells to LaTeX: MyST syntax read here, pandoc does the rest.

All markdown of a chapter goes through one pandoc run (pandoc starts in
~0.1 s; a chapter has dozens of cells).  Before pandoc, MyST's block syntax
(targets, directives, labelled equations, fenced code) becomes pandoc
markdown or raw LaTeX; after it, the Lua filter ``myst.lua`` has turned
roles and cross-references into LaTeX and recorded every label, reference
and citation key.
"""

import logging
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pylatexenc.latexencode import UnicodeToLatexEncoder

from . import listings
from .errors import BookError, located

FILTER = Path(__file__).with_name("myst.lua")
PANDOC_FROM = "markdown-auto_identifiers+tex_math_dollars+fenced_divs+footnotes+pipe_tables"
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention",
               "danger", "error", "seealso", "admonition"}
logging.getLogger("pylatexenc.latexencode").setLevel(logging.ERROR)  # CJK is kept as is
_ENCODER = UnicodeToLatexEncoder(unknown_char_policy="keep", replacement_latex_protection="braces")


def escape_url(url: str) -> str:
    """A URL that survives being passed inside a macro argument."""
    return url.replace("\\", "/").replace("#", "\\#").replace("%", "\\%")


def escape(text: str) -> str:
    """LaTeX for plain text that bypasses pandoc (titles, captions, metadata)."""
    return _ENCODER.unicode_to_latex(text)


def escape_caption(text: str) -> str:
    """A caption: plain text escaped, but ``$...$`` kept as LaTeX math."""
    # Pandoc's rule for inline math: no space inside the dollars, and no
    # digit right after the closing one ("$5 and $6" is money).
    parts = re.split(r"(\$(?=\S)[^$]*?(?<=\S)\$(?!\d))", text)
    return "".join(part if index % 2 else escape(part) for index, part in enumerate(parts))


@dataclass
class Converted:
    cells: dict[int, str]  # cell index -> LaTeX
    labels: set[str] = field(default_factory=set)
    refs: list[str] = field(default_factory=list)
    cites: list[str] = field(default_factory=list)
    includes: list[Path] = field(default_factory=list)  # files shown by literalinclude


@dataclass
class Context:
    """What directives need to know about the chapter being converted."""
    path: Path  # the chapter file
    source_url: callable  # Path -> URL of that file in the repository
    labels: set[str] = field(default_factory=set)
    includes: list[Path] = field(default_factory=list)

    def error(self, message: str, *needles: str) -> BookError:
        return BookError(message, where=located(self.path, *needles))


def _raw(latex: str) -> str:
    return f"\n```{{=latex}}\n{latex}\n```\n"


_TARGET = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
_HEADING = re.compile(r"^#{1,6}\s")
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,}|:{3,})\s*(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<args>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
_EQ_LABEL = re.compile(r"^(?P<body>.*?)\$\$\s*\((?P<label>[^()\s]+)\)\s*$")


def preprocess(text: str, ctx: Context) -> str:
    """MyST block syntax to pandoc markdown (and raw LaTeX)."""
    lines = text.split("\n")
    out: list[str] = []
    target = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := _TARGET.match(line):
            target = m["label"]
            ctx.labels.add(target)
            i += 1
            continue
        if target and line.strip():
            if _HEADING.match(line):
                line = f"{line.rstrip()} {{#{target}}}"
            else:
                out.append(_raw(f"\\phantomsection\\label{{{target}}}"))
            target = None
        if m := _FENCE.match(line):
            fence, info = m["fence"], m["info"].strip()
            body, i = _fenced_body(lines, i + 1, fence)
            out.append(_fenced(fence, info, body, ctx))
            continue
        if line.lstrip().startswith("$$"):
            block, i = _display_math(lines, i, ctx)
            out.append(block)
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _fenced_body(lines: list[str], start: int, fence: str) -> tuple[list[str], int]:
    char, width = fence[0], len(fence)
    depth = 0
    for j in range(start, len(lines)):
        stripped = lines[j].strip()
        if char == ":" and re.match(r"^:{3,}\s*\{", stripped):
            depth += 1  # a nested colon-fenced directive
        elif stripped and set(stripped) == {char} and len(stripped) >= width:
            if depth == 0:
                return lines[start:j], j + 1
            depth -= 1
    return lines[start:], len(lines)


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    options = {}
    k = 0
    if body and body[0].strip() == "---":  # YAML options block
        import yaml
        end = body.index("---", 1) if "---" in body[1:] else 0
        options = {k2: str(v) for k2, v in (yaml.safe_load("\n".join(body[1:end])) or {}).items()}
        k = end + 1
    while k < len(body) and (m := _OPTION.match(body[k])):
        options[m["key"]] = m["value"].strip()
        k += 1
    return options, body[k:]


def _fenced(fence: str, info: str, body: list[str], ctx: Context) -> str:
    m = _DIRECTIVE.match(info)
    if fence[0] != ":" and not m:
        if info.startswith(("{=", "=")):
            return "\n".join([fence + info] + body + [fence])
        language = info.split()[0].lstrip(".{").rstrip("}") if info else "text"
        return _raw(listings.code_block("\n".join(body), language))
    if not m:  # a pandoc fenced div (::: note), left to pandoc
        return "\n".join([fence + " " + info] + body + [fence])
    name, args = m["name"], m["args"].strip()
    options, content = _options(body)
    if name in ADMONITIONS:
        title = args if name == "admonition" else options.get("title", "")
        kind = options.get("class", name).split()[0] if name == "admonition" else name
        ident = f" #{options['name']}" if "name" in options else ""
        if ident:
            ctx.labels.add(options["name"])
        inner = preprocess("\n".join(content), ctx)
        return f'\n::::: {{.{kind}{ident} title="{escape(title)}"}}\n{inner}\n:::::\n'
    if name == "math":
        label = options.get("label") or options.get("name")
        return _equation("\n".join(content), label, ctx)
    if name in ("code-block", "code", "sourcecode"):
        return _raw(listings.code_block("\n".join(content), args or "text"))
    if name == "literalinclude":
        return _literalinclude(args, options, ctx)
    raise ctx.error(f"unknown directive {{{name}}} (known: admonitions, math, code-block, "
                    "literalinclude)", "{" + name + "}")


def _equation(tex: str, label: str | None, ctx: Context) -> str:
    tex = tex.strip()
    if "\\\\" in tex or "&" in tex:
        tex = f"\\begin{{aligned}}\n{tex}\n\\end{{aligned}}"
    if label:
        ctx.labels.add(label)
        return _raw(f"\\begin{{equation}}\\label{{{label}}}\n{tex}\n\\end{{equation}}")
    return _raw(f"\\begin{{equation*}}\n{tex}\n\\end{{equation*}}")


def _display_math(lines: list[str], i: int, ctx: Context) -> tuple[str, int]:
    """``$$ ... $$ (label)`` is MyST's numbered equation; unlabelled display
    math is left to pandoc."""
    body, j = [], i
    rest = lines[i].lstrip()[2:]
    while True:
        if m := _EQ_LABEL.match(rest):
            body.append(m["body"])
            return _equation("\n".join(body), m["label"], ctx), j + 1
        if "$$" in rest:
            return "\n".join(lines[i:j + 1]), j + 1
        body.append(rest)
        j += 1
        if j >= len(lines):
            return "\n".join(lines[i:]), j
        rest = lines[j]


def _literalinclude(args: str, options: dict[str, str], ctx: Context) -> str:
    path = (ctx.path.parent / args).resolve()
    if not path.exists():
        raise ctx.error(f"literalinclude: file {args!r} not found", args)
    try:
        ex = listings.excerpt(path, options.get("pyobject"))
    except listings.SymbolNotFound as exc:
        raise ctx.error(f"literalinclude: {exc}", f":pyobject: {options.get('pyobject')}",
                        args) from None
    ctx.includes.append(path)
    label = options.get("name") or options.get("label")
    if label:
        ctx.labels.add(label)
    shown = Path(args).as_posix().lstrip("./")
    while shown.startswith("../"):
        shown = shown[3:]
    where = f"\\texttt{{{escape(shown)}}}, lines {ex.first_line}--{ex.last_line}"
    url = ctx.source_url(path)
    if url:
        url += f"#L{ex.first_line}-L{ex.last_line}"
    caption = escape_caption(options.get("caption", options.get("pyobject", shown)))
    return _raw(listings.listing_block(ex, caption, label, where, escape_url(url)))


_MARK = "%% BOOK-CELL "


def convert(cells: dict[int, str], ctx: Context) -> Converted:
    """Convert markdown ``cells`` (index -> source) in a single pandoc run."""
    from pypandoc import get_pandoc_path

    parts = []
    for index, source in cells.items():
        parts.append(_raw(f"{_MARK}{index}"))
        parts.append(preprocess(source, ctx))
    proc = subprocess.run(
        [get_pandoc_path(), "-f", PANDOC_FROM, "-t", "latex", "--biblatex",
         "--top-level-division=chapter", "--wrap=preserve",
         "--lua-filter", str(FILTER)],
        input="\n\n".join(parts), capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise BookError(f"pandoc could not convert the markdown: {proc.stderr.strip()}",
                        where=str(ctx.path))
    result = Converted(cells={}, labels=set(ctx.labels), includes=list(ctx.includes))
    current = None
    chunks: dict[int, list[str]] = {}
    for line in proc.stdout.split("\n"):
        if line.startswith(_MARK):
            current = int(line[len(_MARK):])
            chunks[current] = []
        elif line.startswith("%% BOOK-"):
            kind, _, values = line[len("%% BOOK-"):].partition(" ")
            records = {"LABELS": result.labels.update, "REFS": result.refs.extend,
                       "CITES": result.cites.extend}
            records[kind](values.split())
        elif current is not None:
            chunks[current].append(line)
    result.cells = {k: "\n".join(v).strip() + "\n" for k, v in chunks.items()}
    return result
