"""Markdown cells to LaTeX: MyST read by its own parser, pandoc does the rest.

MyST is CommonMark plus roles, directives, targets and labelled math.  Each
cell is parsed once by markdown-it-py with MyST's plugins (the reference
parser), which gives every block with its lines; the MyST blocks
(directives, targets, labelled equations, code fences) are replaced there
by pandoc markdown or raw LaTeX, and everything else is left as written.
One pandoc run per chapter then reads the whole with its CommonMark reader
(``commonmark_x``), so a backslash, a heading after a paragraph or an HTML
tag mean what they mean in MyST; the Lua filter ``myst.lua`` turns roles,
citations, cross-references and HTML into LaTeX and records every label,
reference, citation key and dropped HTML tag.  What needs the file system
(images, ``{doc}``, ``{download}``) comes back from the filter as a
``\\BOOKDEFER{n}`` marker that is resolved here.

What has no print form is left out with a warning naming file:line, never
silently: ``{raw}`` other than latex, HTML tags pandoc's HTML reader cannot
represent (``<video>``, ``<script>``...; comments are dropped quietly), a
remote image (never fetched: a framed placeholder with its link), an SVG
without a ``.pdf``/``.png`` twin beside it (LuaLaTeX reads no SVG without
shell escape: a placeholder).  An unknown role or directive is an error.
"""

import dataclasses
import json
import logging
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from pylatexenc.latexencode import UnicodeToLatexEncoder

from . import listings
from .errors import BookError, located

FILTER = Path(__file__).with_name("myst.lua")
# CommonMark with GFM tables, strikethrough, task lists, autolinks and
# footnotes; minus what MyST does not have (emoji shortcodes, pandoc's
# ``~sub~``/``^sup^``, lettered lists, YAML blocks inside a cell) and minus
# automatic identifiers: only labels the author wrote exist.
PANDOC_FROM = (
    "commonmark_x+implicit_figures+autolink_bare_uris-emoji-subscript-superscript"
    "-fancy_lists-yaml_metadata_block-gfm_auto_identifiers-implicit_header_references"
)
ADMONITIONS = set(
    "note tip hint important warning caution attention danger error seealso"
    " admonition dropdown".split()
)
# sphinx-proof's directives (``prf:theorem``...): name -> (singular, plural).
# templates/book.tex.j2 declares one numbered box for each (bookprf-<name>).
PROOF_BOXES = {
    "theorem": ("Theorem", "Theorems"),
    "lemma": ("Lemma", "Lemmas"),
    "definition": ("Definition", "Definitions"),
    "corollary": ("Corollary", "Corollaries"),
    "proposition": ("Proposition", "Propositions"),
    "conjecture": ("Conjecture", "Conjectures"),
    "axiom": ("Axiom", "Axioms"),
    "criterion": ("Criterion", "Criteria"),
    "remark": ("Remark", "Remarks"),
    "property": ("Property", "Properties"),
    "observation": ("Observation", "Observations"),
    "assumption": ("Assumption", "Assumptions"),
    "notation": ("Notation", "Notations"),
    "example": ("Example", "Examples"),
    "algorithm": ("Algorithm", "Algorithms"),
}
IMAGE_FORMATS = (".pdf", ".png", ".jpg", ".jpeg")  # what LuaLaTeX includes natively
logging.getLogger("pylatexenc.latexencode").setLevel(logging.ERROR)  # CJK is kept as is
_ENCODER = UnicodeToLatexEncoder(unknown_char_policy="keep", replacement_latex_protection="braces")
_PARSER = (
    MarkdownIt("commonmark")
    .enable(["table", "strikethrough"])
    .use(myst_block_plugin)
    .use(colon_fence_plugin)
    .use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
)


def escape_url(url: str) -> str:
    """A URL that survives being passed inside a macro argument."""
    return url.replace("\\", "/").replace("#", "\\#").replace("%", "\\%")


def escape(text: str) -> str:
    """LaTeX for plain text that bypasses pandoc (titles, captions, metadata)."""
    return _ENCODER.unicode_to_latex(text)


def escape_caption(text: str) -> str:
    """A caption: plain text escaped, but ``$...$`` kept as LaTeX math and
    ```code``` set in the code font, as in the text."""
    # Pandoc's rule for inline math: no space inside the dollars, and no
    # digit right after the closing one ("$5 and $6" is money).
    parts = re.split(r"(\$(?=\S)[^$]*?(?<=\S)\$(?!\d))", text)
    return "".join(
        part if index % 2 else _escape_code_spans(part) for index, part in enumerate(parts)
    )


def _escape_code_spans(text: str) -> str:
    parts = re.split(r"`([^`]+)`", text)
    return "".join(
        rf"\texttt{{{escape(part)}}}" if index % 2 else escape(part)
        for index, part in enumerate(parts)
    )


def short_caption(text: str) -> str:
    """The List of Figures' entry for a caption of several sentences: its
    first sentence, escaped; "" when the caption is one sentence."""
    # A sentence ends at . ! or ? before a space and a capital, outside math.
    parts = re.split(r"(\$(?=\S)[^$]*?(?<=\S)\$(?!\d))", text)
    done = 0
    for index, part in enumerate(parts):
        if not index % 2 and (end := re.search(r"[.!?](?=\s+[A-Z(])", part)):
            first = text[: done + end.end()]
            return escape_caption(first) if first.strip() != text.strip() else ""
        done += len(part)
    return ""


@dataclass
class Converted:
    cells: dict[int, str]  # cell index -> LaTeX
    labels: set[str] = field(default_factory=set)
    refs: list[str] = field(default_factory=list)
    cites: list[str] = field(default_factory=list)
    includes: list[Path] = field(default_factory=list)  # files shown, included or pictured
    warnings: list[str] = field(default_factory=list)  # "file:line: message"


@dataclass
class Context:
    """What directives need to know about the chapter being converted."""

    path: Path  # the chapter file
    source_url: callable  # Path -> URL of that file in the repository
    lines: dict[int, int] = field(default_factory=dict)  # cell index -> its first line
    doc_label: callable = lambda path: None  # chapter file (no suffix) -> its label
    labels: set[str] = field(default_factory=set)
    refs: list[str] = field(default_factory=list)
    includes: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    gates: list[tuple[str, str]] = field(default_factory=list)  # open *-start: (name, where)

    def where(self, line: int | None, *needles: str) -> str:
        """``file:line`` of a line of the file, or of the first needle found."""
        return f"{self.path}:{line}" if line else located(self.path, *needles)

    def error(self, message: str, *needles: str, line: int | None = None) -> BookError:
        return BookError(message, where=self.where(line, *needles))

    def warn(self, message: str, *needles: str, line: int | None = None) -> None:
        self.warnings.append(f"{self.where(line, *needles)}: {message}")


@dataclass
class Directive:
    """A ``{name} args`` fence as written: options parsed, body still MyST."""

    name: str
    args: str
    options: dict[str, str]
    body: str
    line: int | None  # of the opening fence in the file, when known

    def option_line(self, key: str) -> int | None:
        return self.line and self.line + 1 + list(self.options).index(key)


def _raw(latex: str) -> str:
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", latex)), default=0))
    return f"\n{fence}{{=latex}}\n{latex}\n{fence}\n"


def _raw_inline(latex: str) -> str:
    return f"`{latex}`{{=latex}}"


def _around(open_tex: str, markdown: str, close_tex: str) -> str:
    """A paragraph of ``markdown`` inside a LaTeX macro's argument."""
    return f"\n{_raw_inline(open_tex)}{' '.join(markdown.split())}{_raw_inline(close_tex)}\n"


# --- Blocks: markdown-it-py's tokens, each with its lines ------------------

_DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<args>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")


def preprocess(text: str, ctx: Context, first_line: int | None = None) -> str:
    """MyST block syntax to pandoc markdown (and raw LaTeX).

    ``first_line`` is the file line of the text's first line, when known;
    blocks that are not MyST's own are kept exactly as written."""
    lines = text.split("\n")
    edits: list[tuple[int, int, str]] = []  # (first, end, markdown) over lines
    tokens = _PARSER.parse(text)
    for token in tokens:
        if token.type == "inline" and token.map and "\\@" in token.content:
            start, end = token.map  # the replacement has no line break: maps hold
            lines[start:end] = _literal_at("\n".join(lines[start:end])).split("\n")
    for k, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        line = first_line + start if first_line else None
        if token.type == "myst_target":
            ctx.labels.add(token.content)
            edits.append((start, end, _target(token.content, tokens[k + 1 :], lines)))
        elif token.type == "myst_line_comment":
            edits.append((start, end, ""))
        elif token.type in ("fence", "colon_fence", "code_block"):
            indent = 4 if token.type == "code_block" else 0  # the indent that made it code
            edits.append((start, end, _indented(lines[start], _fenced(token, ctx, line), indent)))
        elif token.type == "table_open" and (widths := _table_widths(lines[start:end])):
            table = "\n".join(lines[start:end])
            edits.append((start, end, f'::: {{.book-widths widths="{widths}"}}\n{table}\n:::'))
        elif token.type == "math_block_label":
            edits.append((start, end, _equation(token.content, token.info, ctx)))
    for start, end, markdown in sorted(edits, reverse=True):
        lines[start:end] = [markdown]
    return "\n".join(lines)


# What may hold a "\\@" that is not the author's escape: code spans, math, "\\\\".
_NOT_AN_ESCAPE = re.compile(r"(`+)[\s\S]*?(?<!`)\1(?!`)|\$\$?[^$]+\$\$?|\\\\|\\@")


def _literal_at(text: str) -> str:
    """An escaped ``\\@`` as raw LaTeX: the filter finds citations in pandoc's
    text, where the escape is gone, so "\\@name" would read as a citation."""
    return _NOT_AN_ESCAPE.sub(lambda m: "`@`{=latex}" if m[0] == "\\@" else m[0], text)


def _table_widths(rows: list[str]) -> str | None:
    """Relative column widths of a pipe table too wide for one line (from
    its dashes), as pandoc's markdown reader makes it, so its cells wrap;
    CommonMark readers keep every column as wide as its text."""
    if max(len(row) for row in rows) <= 72 or rows[0].startswith((" ", ">")):
        return None
    dashes = [len(cell.strip()) for cell in rows[1].strip().strip("|").split("|")]
    return " ".join(f"{d / sum(dashes):.4f}" for d in dashes)


def _target(label: str, following, lines: list[str]) -> str:
    """``(label)=``: on the heading after it, or a LaTeX anchor here."""
    block = next((t for t in following if t.map is not None), None)
    if block is not None and block.type == "heading_open":
        row = block.map[0]  # an ATX heading's closing #s go, as CommonMark says
        lines[row] = re.sub(r"(^#+\s*#*|\s+#+)\s*$", "", lines[row].rstrip()) + f" {{#{label}}}"
        return ""
    return _raw(f"\\phantomsection\\label{{{label}}}")


def _indented(opening: str, markdown: str, indent: int = 0) -> str:
    """``markdown`` put where a block nested in a list item or quote stood."""
    column = len(opening) - len(opening.lstrip(" >")) - indent
    prefix = opening[: max(column, 0)]
    if not prefix:
        return markdown
    rest = re.sub(r"[^>]", " ", prefix)
    rows = markdown.strip("\n").split("\n")
    return "\n".join(
        [prefix + rows[0]] + [rest + row if row else rest.rstrip() for row in rows[1:]]
    )


def _fenced(token, ctx: Context, line: int | None) -> str:
    info = token.info.strip()
    body = token.content.rstrip("\n")
    if token.type == "code_block":
        return _raw(listings.code_block(body, "text"))
    m = _DIRECTIVE.match(info)
    if token.type == "colon_fence" and not m:  # a pandoc fenced div (::: note)
        return f"{token.markup} {info}\n{preprocess(body, ctx, line and line + 1)}\n{token.markup}"
    if not m:
        if info.startswith(("{=", "=")):  # pandoc's raw block, kept
            return f"{token.markup}{info}\n{body}\n{token.markup}"
        return _raw(listings.code_block(body, info.split()[0] if info else "text"))
    options, content, skipped = _options(body)
    directive = Directive(m["name"], m["args"].strip(), options, content, line)
    body_line = line and line + 1 + skipped
    return _directive(directive, ctx, body_line)


def _options(body: str) -> tuple[dict[str, str], str, int]:
    """A directive's options (``:key: value`` lines or a YAML block), the
    rest of its body, and how many lines the options took."""
    rows = body.split("\n")
    options: dict[str, str] = {}
    k = 0
    if rows and rows[0].strip() == "---":
        import yaml

        end = rows.index("---", 1) if "---" in rows[1:] else 0
        options = {key: str(v) for key, v in (yaml.safe_load("\n".join(rows[1:end])) or {}).items()}
        k = end + 1
    while k < len(rows) and (m := _OPTION.match(rows[k])):
        options[m["key"]] = m["value"].strip()
        k += 1
    return options, "\n".join(rows[k:]), k


# --- Directives -------------------------------------------------------------


def _directive(d: Directive, ctx: Context, body_line: int | None) -> str:
    """One directive to pandoc markdown; its body stays MyST and is read
    again (``body_line``: the file line where the body starts)."""

    def inner(text: str = d.body) -> str:
        return preprocess(text, ctx, body_line)

    name = d.name
    if name in ADMONITIONS:
        return _admonition(d, ctx, inner())
    if name in ("math",):
        return _equation(d.body, d.options.get("label") or d.options.get("name"), ctx)
    if name in ("code-block", "code", "sourcecode"):
        return _raw(listings.code_block(d.body, d.args or "text"))
    if name == "literalinclude":
        return _literalinclude(d, ctx)
    if name in ("figure", "image"):
        return _figure(d, ctx, inner)
    if name == "table":
        return _table(d, ctx, inner())
    if name == "list-table":
        return _list_table(d, ctx, inner())
    if name == "include":
        return _include(d, ctx)
    if name == "raw":
        if d.args.strip().lower() in ("latex", "tex"):
            return _raw(d.body)
        ctx.warn(f"{{raw}} {d.args}: only latex is printed; this block is left out", line=d.line)
        return ""
    if name == "epigraph":
        return _epigraph(inner())
    if name == "index":
        lines = [e for e in f"{d.args}\n{d.body}".split("\n") if e.strip()]
        return _raw("".join(f"\\index{{{key}}}" for e in lines for key in index_keys(e)))
    if name == "glossary":
        return _glossary(d, ctx, body_line)
    if name == "margin":
        title = _around("\\textbf{", d.args, "}\\par") if d.args else ""
        return _raw("\\marginpar{\\footnotesize\\raggedright") + title + inner() + _raw("}")
    if name in ("exercise", "solution") or name.startswith("prf:"):
        return _box(d, ctx, inner())
    if m := re.fullmatch(r"(exercise|solution)-(start|end)", name):
        return _gate(d, ctx, m[1], m[2])
    raise ctx.error(
        f"unknown directive {{{name}}} (known: {', '.join(sorted(KNOWN))})",
        "{" + name + "}",
        line=d.line,
    )


KNOWN = (
    ADMONITIONS
    | set(
        "math code-block code sourcecode literalinclude figure image table list-table"
        " include raw epigraph index glossary margin exercise solution exercise-start"
        " exercise-end solution-start solution-end prf:proof".split()
    )
    | {f"prf:{kind}" for kind in PROOF_BOXES}
)


def _label(d: Directive, ctx: Context) -> str | None:
    label = d.options.get("label") or d.options.get("name")
    if label:
        ctx.labels.add(label)
    return label


def _admonition(d: Directive, ctx: Context, inner: str) -> str:
    title = d.args if d.name in ("admonition", "dropdown") else d.options.get("title", "")
    classes = d.options.get("class", "").split()
    kind = next((c for c in classes if c in ADMONITIONS), "admonition")
    if d.name not in ("admonition", "dropdown"):
        kind = d.name
    label = _label(d, ctx)
    ident = f" #{label}" if label else ""
    heading = f"\n::: book-title\n{title}\n:::\n" if title else ""  # markdown, as MyST has it
    return f"\n::::::: {{.{kind}{ident}}}\n{heading}\n{inner}\n:::::::\n"


def _equation(tex: str, label: str | None, ctx: Context) -> str:
    tex = tex.strip()
    if "\\\\" in tex or "&" in tex:
        tex = f"\\begin{{aligned}}\n{tex}\n\\end{{aligned}}"
    if label:
        ctx.labels.add(label)
        return _raw(f"\\begin{{equation}}\\label{{{label}}}\n{tex}\n\\end{{equation}}")
    return _raw(f"\\begin{{equation*}}\n{tex}\n\\end{{equation*}}")


def _literalinclude(d: Directive, ctx: Context) -> str:
    args, options = d.args, d.options
    path = (ctx.path.parent / args).resolve()
    if not path.exists():
        raise ctx.error(f"literalinclude: file {args!r} not found", args, line=d.line)
    try:
        ex = listings.excerpt(path, options.get("pyobject"))
    except listings.SymbolNotFound as exc:
        raise ctx.error(
            f"literalinclude: {exc}",
            f":pyobject: {options.get('pyobject')}",
            args,
            line=d.option_line("pyobject"),
        ) from None
    ctx.includes.append(path)
    label = _label(d, ctx)
    shown = Path(args).as_posix().lstrip("./")
    while shown.startswith("../"):
        shown = shown[3:]
    where = f"\\texttt{{{escape(shown)}}}, lines {ex.first_line}--{ex.last_line}"
    url = ctx.source_url(path)
    if url:
        url += f"#L{ex.first_line}-L{ex.last_line}"
    caption = escape_caption(options.get("caption", options.get("pyobject", shown)))
    return _raw(listings.listing_block(ex, caption, label, where, escape_url(url)))


def _length(value: str, relative_to: str) -> str:
    """A MyST/HTML size (``50%``, ``300px``, ``300``, ``4cm``) in LaTeX."""
    value = value.strip()
    if value.endswith("%"):
        return f"{float(value[:-1]) / 100:g}{relative_to}"
    if re.fullmatch(r"[\d.]+", value):
        return f"{value}px"
    return value


def image(src: str, options: dict[str, str], ctx: Context, line: int | None) -> str:
    """``\\includegraphics`` for a local image; a framed placeholder with
    its link for a remote one (never fetched) or an SVG with no PDF/PNG
    twin (LuaLaTeX cannot read SVG without shell escape)."""
    if re.match(r"^[a-zA-Z][\w+.-]*:", src):
        ctx.warn(f"remote image {src} is not fetched; a placeholder is printed", src, line=line)
        return _placeholder("Remote image", src)
    path = (ctx.path.parent / unquote(src)).resolve()
    if path.suffix in (".*", ".svg"):
        twin = next(
            (path.with_suffix(s) for s in IMAGE_FORMATS if path.with_suffix(s).exists()), None
        )
        if twin is None and path.suffix == ".svg" and path.exists():
            ctx.warn(
                f"SVG image {src} has no .pdf or .png twin; a placeholder is printed",
                src,
                line=line,
            )
            return _placeholder("SVG image", src)
        path = twin or path
    if not path.exists():
        raise ctx.error(f"image {src!r} not found", src, line=line)
    if path.suffix.lower() not in IMAGE_FORMATS:
        raise ctx.error(
            f"image {src!r}: LaTeX can include only {', '.join(IMAGE_FORMATS)}", src, line=line
        )
    ctx.includes.append(path)
    keys = []
    for key, whole in (("width", r"\linewidth"), ("height", r"\textheight")):
        if options.get(key):
            keys.append(f"{key}={_length(options[key], whole)}")
    if options.get("scale"):
        keys.append(f"scale={float(options['scale'].rstrip('%')) / 100:g}")
    graphic = f"\\includegraphics[{','.join(keys + ['keepaspectratio'])}]{{{path.as_posix()}}}"
    return graphic if keys else f"\\pandocbounded{{{graphic}}}"


def _placeholder(kind: str, src: str) -> str:
    return f"\\bookplaceholder{{{kind}}}{{{escape_url(src)}}}"


def _figure(d: Directive, ctx: Context, inner) -> str:
    graphic = image(d.args, d.options, ctx, d.line)
    align = {"left": "\\raggedright", "right": "\\raggedleft"}.get(d.options.get("align"), "")
    if d.name == "image":
        return _raw(f"{{\\centering{align}{graphic}\\par}}")
    label = _label(d, ctx)
    caption, _, legend = d.body.strip().partition("\n\n")
    anchor = f"\\label{{{label}}}" if label else ""
    parts = [_raw(f"\\begin{{bookfigure}}{align}\n{graphic}")]
    if caption:
        parts.append(_around("\\caption{", inner(caption), "}" + anchor))
    elif anchor:
        parts.append(_raw(f"\\phantomsection{anchor}"))
    if legend:
        parts.append(inner(legend))
    parts.append(_raw("\\end{bookfigure}"))
    return "".join(parts)


def _table(d: Directive, ctx: Context, inner: str) -> str:
    """A pipe table with a caption: the filter moves ``: caption`` into it."""
    label = _label(d, ctx)
    anchor = f" {{#{label}}}" if label else ""
    return f"\n{inner.strip()}\n\n: {d.args}{anchor}\n" if d.args or anchor else inner


def _list_table(d: Directive, ctx: Context, inner: str) -> str:
    """A list of rows, each a list of cells: the filter builds the table."""
    label = _label(d, ctx)
    attrs = [
        ".book-list-table",
        f"#{label}" if label else "",
        f'header-rows="{d.options.get("header-rows", "0")}"',
        f'widths="{d.options.get("widths", "")}"',
    ]
    caption = f"\n::: book-caption\n{d.args}\n:::\n" if d.args else ""
    return f"\n::::::: {{{' '.join(a for a in attrs if a)}}}\n{caption}\n{inner}\n:::::::\n"


def _include(d: Directive, ctx: Context) -> str:
    path = (ctx.path.parent / d.args).resolve()
    if not path.is_file():
        raise ctx.error(f"include: file {d.args!r} not found", d.args, line=d.line)
    ctx.includes.append(path)
    rows = path.read_text().split("\n")
    first = int(d.options.get("start-line", 0))
    rows = rows[first : int(d.options["end-line"])] if "end-line" in d.options else rows[first:]
    if "literal" in d.options or "code" in d.options:
        return _raw(listings.code_block("\n".join(rows), d.options.get("code") or "text"))
    return preprocess("\n".join(rows), dataclasses.replace(ctx, path=path), first + 1)


def _epigraph(inner: str) -> str:
    """A quote; a last paragraph starting ``--`` is its attribution."""
    quote, _, attribution = inner.strip().rpartition("\n\n")
    if not re.match(r"^(--|—)", attribution.strip()):
        quote, attribution = inner, ""
    tail = (
        _around("\\bookattribution{", attribution.strip().lstrip("-—").strip(), "}")
        if attribution
        else ""
    )
    return _raw("\\begin{bookepigraph}") + quote + tail + _raw("\\end{bookepigraph}")


def index_keys(entry: str) -> list[str]:
    """makeindex keys for one line of Sphinx's ``index`` directive:
    ``single: a; b`` (a, with the subentry b), ``pair: a; b`` (a!b and b!a),
    ``triple: a; b; c`` (each word first once), ``see: a; b``,
    ``seealso: a; b``, or bare terms separated by commas."""
    kind, colon, rest = entry.partition(":")
    kind = kind.strip()
    if not colon or kind not in ("single", "pair", "triple", "see", "seealso"):
        return [_index_term(t) for t in entry.split(",") if t.strip()]
    terms = [_index_term(t) for t in rest.split(";") if t.strip()]
    if kind in ("see", "seealso") and len(terms) == 2:
        return [f"{terms[0]}|{kind}{{{terms[1]}}}"]
    if kind == "pair" and len(terms) == 2:
        return ["!".join(terms), "!".join(reversed(terms))]
    if kind == "triple" and len(terms) == 3:
        a, b, c = terms
        return [f"{a}!{b} {c}", f"{b}!{c}, {a}", f"{c}!{a} {b}"]
    return ["!".join(terms)]


def _index_term(term: str) -> str:
    """A term as LaTeX, with makeindex's own characters quoted."""
    return re.sub(r'(["!@|])', r'"\1', escape(term.strip()))


def term_label(term: str) -> str:
    return "term-" + re.sub(r"[^\w]+", "-", term.strip().lower()).strip("-")


def _glossary(d: Directive, ctx: Context, body_line: int | None) -> str:
    """Sphinx glossary: unindented term lines, each followed by its
    indented definition; ``{term}`` links to it."""
    parts = [_raw("\\begin{description}")]
    rows = d.body.split("\n")
    k = 0
    while k < len(rows):
        if not rows[k].strip():
            k += 1
            continue
        terms = []
        while k < len(rows) and rows[k].strip() and not rows[k][0].isspace():
            terms.append(rows[k].strip())
            k += 1
        start = k
        while k < len(rows) and (not rows[k].strip() or rows[k][0].isspace()):
            k += 1
        if not terms:
            raise ctx.error(
                "glossary: a definition without a term", line=body_line and body_line + start
            )
        for term in terms:
            ctx.labels.add(term_label(term))
        anchors = "".join(f"\\phantomsection\\label{{{term_label(t)}}}" for t in terms)
        parts.append(_around("\\item[{", ", ".join(terms), "}]" + anchors))
        definition = "\n".join(row[_indent(rows[start:k]) :] for row in rows[start:k])
        parts.append(preprocess(definition, ctx, body_line and body_line + start))
    parts.append(_raw("\\end{description}"))
    return "".join(parts)


def _indent(rows: list[str]) -> int:
    return min((len(r) - len(r.lstrip()) for r in rows if r.strip()), default=0)


def _box_env(d: Directive, kind: str) -> str:
    """The LaTeX environment of an exercise, solution or proof box."""
    if kind == "solution":
        return "booksolution"
    if kind == "prf:proof":
        return "bookproof"
    env = "bookexercise" if kind == "exercise" else f"bookprf-{kind[4:]}"
    return env + ("*" if "nonumber" in d.options else "")


def _box_open(d: Directive, ctx: Context, kind: str) -> str:
    if kind.startswith("prf:") and kind[4:] not in PROOF_BOXES and kind != "prf:proof":
        raise ctx.error(f"unknown directive {{{kind}}}", "{" + kind + "}", line=d.line)
    env = _box_env(d, kind)
    label = _label(d, ctx)
    anchor = f"\\phantomsection\\label{{{label}}}" if label else ""
    if kind == "solution":  # "Solution to Exercise 3.2", linked
        target = d.args.strip()
        if not target:
            raise ctx.error("a solution names its exercise: {solution} <label>", line=d.line)
        ctx.refs.append(target)
        return _raw(f"\\begin{{{env}}}{{{target}}}{anchor}")
    numbered = env.startswith(("bookexercise", "bookprf-")) and not env.endswith("*")
    if numbered and label:  # tcolorbox labels its own counter, for \Cref
        opening, anchor = f"\\begin{{{env}}}[label={{{label}}}]{{", ""
    else:
        opening = f"\\begin{{{env}}}{{"
    if not d.args:
        return _raw(opening + "}" + anchor)
    return _around(opening, d.args, "}" + anchor)  # the title is markdown


def _box(d: Directive, ctx: Context, inner: str) -> str:
    if "hidden" in d.options:
        return ""
    return _box_open(d, ctx, d.name) + inner + _raw(f"\\end{{{_box_env(d, d.name)}}}")


def _gate(d: Directive, ctx: Context, kind: str, edge: str) -> str:
    """sphinx-exercise's gated form: what lies between ``*-start`` and
    ``*-end`` (code cells too) is the exercise or solution."""
    if edge == "start":
        env = _box_env(d, kind)
        ctx.gates.append((env, ctx.where(d.line, "{" + d.name + "}")))
        return _box_open(d, ctx, kind)
    if not ctx.gates:
        raise ctx.error(
            f"{{{d.name}}} without a {{{kind}-start}} before it", "{" + d.name + "}", line=d.line
        )
    env, _ = ctx.gates.pop()
    return _raw(f"\\end{{{env}}}")


# --- The pandoc run ---------------------------------------------------------

_MARK = "%% BOOK-CELL "
_DEFER = re.compile(r"\\BOOKDEFER\{(\d+)\}")


def convert(cells: dict[int, str], ctx: Context) -> Converted:
    """Convert markdown ``cells`` (index -> source) in a single pandoc run."""
    from pypandoc import get_pandoc_path

    parts = []
    for index, source in cells.items():
        parts.append(_raw(f"{_MARK}{index}"))
        parts.append(preprocess(source, ctx, ctx.lines.get(index)))
    if ctx.gates:
        env, where = ctx.gates[-1]
        raise BookError("this gated exercise or solution has no *-end directive", where=where)
    proc = subprocess.run(
        [
            get_pandoc_path(),
            "-f",
            PANDOC_FROM,
            "-t",
            "latex",
            "--biblatex",
            "--top-level-division=chapter",
            "--wrap=preserve",
            "--syntax-highlighting=none",
            "--lua-filter",
            str(FILTER),
        ],
        input="\n\n".join(parts),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise _pandoc_error(proc.stderr, ctx)
    result = Converted(cells={})
    deferred: dict[int, str] = {}
    current = None
    chunks: dict[int, list[str]] = {}
    for line in proc.stdout.split("\n"):
        if line.startswith(_MARK):
            current = int(line[len(_MARK) :])
            chunks[current] = []
        elif line.startswith("%% BOOK-"):
            _record(line[len("%% BOOK-") :], result, deferred, ctx)
        elif current is not None:
            chunks[current].append(line)
    result.labels, result.refs = set(ctx.labels), list(ctx.refs)
    result.includes, result.warnings = list(ctx.includes), list(ctx.warnings)
    result.cells = {
        k: _DEFER.sub(lambda m: deferred[int(m[1])], "\n".join(v)).strip() + "\n"
        for k, v in chunks.items()
    }
    return result


def _record(line: str, result: Converted, deferred: dict[int, str], ctx: Context) -> None:
    """A ``%% BOOK-KIND values`` line from the filter."""
    kind, _, values = line.partition(" ")
    if kind == "DEFER":
        number, _, payload = values.partition(" ")
        deferred[int(number)] = _resolve(json.loads(payload), ctx)
    elif kind == "DROPPED":
        tag = json.loads(values)
        ctx.warn(f"HTML {tag}> has no print form and is left out", tag)
    else:
        {"LABELS": ctx.labels.update, "REFS": ctx.refs.extend, "CITES": result.cites.extend}[kind](
            values.split()
        )


def _resolve(item: dict, ctx: Context) -> str:
    """LaTeX for what the filter could not finish: an image, {term}, {doc},
    {download}."""
    if item["kind"] == "image":
        return image(item["src"], item, ctx, None)
    target, text = item["target"], item["text"]
    if item["kind"] == "term":
        ctx.refs.append(term_label(target))
        return f"\\hyperref[{term_label(target)}]{{{escape(text or target)}}}"
    if item["kind"] == "doc":
        label = ctx.doc_label((ctx.path.parent / target).resolve().with_suffix(""))
        if label is None:
            raise ctx.error(f"{{doc}}: no chapter {target!r} in the book", target)
        ctx.refs.append(label)
        return f"\\hyperref[{label}]{{{text}}}" if text else f"\\Cref{{{label}}}"
    path = (ctx.path.parent / target).resolve()
    if not path.exists():
        raise ctx.error(f"{{download}}: file {target!r} not found", target)
    shown = text or f"\\texttt{{{escape(Path(target).name)}}}"
    url = ctx.source_url(path)
    return f"\\href{{{escape_url(url)}}}{{{shown}}}" if url else shown


def _pandoc_error(stderr: str, ctx: Context) -> BookError:
    role = re.search(r"unknown MyST role (\{[\w:-]+\})", stderr)
    if role:
        return ctx.error(role[0], role[1])
    return BookError(
        f"pandoc could not convert the markdown: {stderr.strip()}", where=str(ctx.path)
    )
