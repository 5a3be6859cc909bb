"""Stage 4: an executed chapter to LaTeX, through nbconvert and our templates.

The chapter's current source (its prose may have changed since it ran)
is joined with the cached outputs, outputs are cleaned for print, the
values of ``{eval}`` roles (resolved by the execute stage) are put into
the prose, table data becomes booktabs LaTeX (``tables.py``), the
markdown goes through pandoc (``markdown.py``), and nbconvert's LaTeX
exporter renders ``templates/chapter.tex.j2``.  A chapter whose inputs
are unchanged is not rendered again, and the modules that convert (with
markdown-it, Pygments and nbconvert behind them) are imported only by the
functions that convert: a build with nothing to render starts without them.
"""

import copy
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import inline, sources
from .config import Book, Chapter
from .context import Context
from .errors import BookError, template_error
from .files import HashMemo, Stamp, sha256_json, sha256_text, write_if_changed
from .layout import Layout

if TYPE_CHECKING:
    from .execute import Executed

# The builder's files that shape a chapter's LaTeX: an edit to one re-renders
# every chapter; an edit elsewhere in the builder (the command line, the
# execute or typeset stage) re-renders none.
BUILDER_FILES = [
    Path(__file__).with_name(name)
    for name in "inline.py listings.py markdown.py qr.py sources.py tables.py render.py"
    " myst.lua".split()
]
MAX_OUTPUT_LINES = 40
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours and cursor moves
_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t]*$", re.M)  # [ \t]: keep the lines after it


@dataclass
class Rendered:
    chapter: Chapter
    tex: Path
    labels: set[str] = field(default_factory=set)
    refs: list[str] = field(default_factory=list)
    cites: list[str] = field(default_factory=list)
    status: str = "rendered"  # or "unchanged"
    warnings: list[str] = field(default_factory=list)  # "file:line: message", from markdown


def plain(text: str) -> str:
    """``text`` without the terminal escape codes a kernel or a tool wrote into it."""
    return _ANSI.sub("", text)


def clean_text(text: str) -> str:
    """What a terminal would finally show: ANSI colours dropped, and each
    ``\\r``-rewritten line (progress bars) reduced to its last state."""
    # LuaTeX refuses U+FFFD in its input (it reserves it for invalid UTF-8),
    # yet decoders print it for broken bytes: show a look-alike, U+2370.
    text = plain(text).replace("\ufffd", "\u2370")
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        states = [state for state in line.split("\r") if state]
        lines.append(states[-1] if states else "")
    return "\n".join(lines)


def truncate(text: str, limit: int = MAX_OUTPUT_LINES) -> str:
    lines = text.rstrip("\n").split("\n")
    if len(lines) <= limit:
        return "\n".join(lines)
    head, tail = lines[: limit - 8], lines[-5:]
    cut = len(lines) - len(head) - len(tail)
    return "\n".join(head + [f"[… {cut} more lines not shown …]"] + tail)


def clean_outputs(outputs: list) -> list:
    """Outputs ready for print: streams merged and cleaned, long texts cut,
    widget and HTML-only outputs (which have no print form) dropped."""
    from .tables import MIME

    cleaned = []
    for out in outputs:
        out = copy.deepcopy(out)
        if out.output_type == "stream":
            if cleaned and cleaned[-1].output_type == "stream" and cleaned[-1].name == out.name:
                cleaned[-1].text += out.text
                continue
        elif out.output_type in ("display_data", "execute_result"):
            data = {
                k: v
                for k, v in out.data.items()
                if k
                in (MIME, "text/latex", "application/pdf", "image/png", "image/jpeg", "text/plain")
            }
            if not data:
                continue
            out.data = data
        cleaned.append(out)
    for out in cleaned:
        if out.output_type == "stream":
            out.text = truncate(clean_text(out.text))
        elif out.output_type in ("display_data", "execute_result") and "text/plain" in out.data:
            out.data["text/plain"] = truncate(clean_text(out.data["text/plain"]))
        elif out.output_type == "error":
            out.traceback = [clean_text(line) for line in out.traceback]
    return [o for o in cleaned if o.output_type != "stream" or o.text.strip()]


def _cleaner():
    from nbconvert.preprocessors import Preprocessor

    class CleanOutputs(Preprocessor):
        """``clean_outputs`` as a step of nbconvert's pipeline, ahead of its own."""

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code":
                cell.outputs = clean_outputs(cell.outputs)
            return cell, resources

    return CleanOutputs


def _merge(source_nb, executed_nb):
    nb = copy.deepcopy(source_nb)
    ran = iter(c for c in executed_nb.cells if c.cell_type == "code")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = copy.deepcopy(next(ran).outputs)
    return nb


def _computed(nb, values: dict[str, dict[str, str]]) -> None:
    """Each ``{eval}`` replaced by its value and each ``{const}`` by its
    text: escaped as markdown in prose, as plain text in captions."""
    for cell, position in zip(nb.cells, inline.positions(nb), strict=True):
        found = values.get(str(position), {})
        if cell.cell_type == "markdown":
            cell.source = inline.substitute(cell.source, found)
        elif cell.cell_type == "code" and cell.metadata.get("caption"):
            cell.metadata["caption"] = inline.substitute(
                str(cell.metadata["caption"]), found, markdown=False, inline=True
            )


def _tables(nb) -> set[str]:
    """Table data in outputs to LaTeX, captioned and labelled by the table
    itself or else by its cell; returns the labels of the tables."""
    from . import tables

    labels = set()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}).pop(tables.MIME, None)
            if data is not None:
                out.data["text/latex"] = tables.latex(
                    data, cell.metadata.get("caption"), cell.metadata.get("label")
                )
                if data.get("label"):
                    labels.add(data["label"])
    return labels


def _title(nb, chapter: Chapter) -> tuple[str, int]:
    """The chapter's ``# Title``, removed from its markdown cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (m := _TITLE.search(cell.source)):
            cell.source = cell.source[: m.start()] + cell.source[m.end() :]
            return m.group(1), cell.metadata["book"]["index"]
        if cell.cell_type == "code":
            break
    raise BookError("a chapter must open with a '# Title' line", where=f"{chapter.path}:1")


def _exporter(templates: Path):
    from nbconvert.exporters import LatexExporter
    from traitlets.config import Config

    from . import listings, markdown

    config = Config()
    cleaner = _cleaner()
    # First, so that nothing of nbconvert's sees what has no print form (an SVG, a widget).
    config.LatexExporter.default_preprocessors = [
        cleaner,
        *LatexExporter.default_preprocessors.default(),
    ]
    config[cleaner.__name__].enabled = True
    # MyST-NB's tags; remove-stderr and remove-stdout are the template's (no preprocessor
    # removes one stream of a cell).
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    config.LatexExporter.exclude_input_prompt = True
    config.LatexExporter.exclude_output_prompt = True
    config.LatexExporter.display_data_priority = [
        "text/latex",
        "application/pdf",
        "image/png",
        "image/jpeg",
        "text/plain",
    ]
    exporter = LatexExporter(
        config=config, template_file="chapter.tex.j2", extra_template_basedirs=[str(templates)]
    )
    exporter.template_paths = [str(templates)] + exporter.template_paths
    exporter.register_filter("book_highlight", listings.highlight)
    exporter.register_filter("book_escape", markdown.escape)
    exporter.register_filter("book_caption", markdown.escape_caption)
    exporter.register_filter("book_short_caption", markdown.short_caption)
    return exporter


def render_key(
    book: Book,
    chapter: Chapter,
    source_text: str,
    executed_path: Path,
    templates: Path,
    memo: HashMemo,
) -> str:
    return sha256_json(
        {
            "source": sha256_text(source_text),
            "executed": memo.file(executed_path),
            "templates": {p.name: memo.file(p) for p in sorted(templates.glob("*.j2"))},
            "builder": {p.name: memo.file(p) for p in BUILDER_FILES},
            "chapter": [
                chapter.number,
                chapter.video,
                chapter.part,
                chapter.appendix,
                chapter.front,
            ],
            "book": [book.repository, book.branch],
        }
    )


def stage(ctx: Context, executed: "Executed") -> list[Rendered]:
    """The target's chapters as LaTeX, each rendered again only when its inputs changed."""

    def one(ch: Chapter) -> Rendered:
        return render(
            ctx.book,
            ch,
            sources.read(ch, ctx.layout.source(ch)),
            executed.results[ch.id].notebook,
            ctx.layout,
            ctx.memo,
            ctx.templates,
        )

    with ThreadPoolExecutor(max_workers=max(1, ctx.jobs)) as pool:
        rendered = list(pool.map(one, ctx.target.chapters))
    for warning in (w for r in rendered for w in r.warnings):
        ctx.log.warn(warning)
    return rendered


def summary(rendered: list[Rendered]) -> str:
    changed = sum(r.status == "rendered" for r in rendered)
    return f"rendered: {changed} chapter(s), {len(rendered) - changed} unchanged"


def last_labels(chapter: Chapter, layout: Layout) -> set[str] | None:
    """The labels the chapter defined when last rendered (None if never)."""
    record = Stamp(layout.record(chapter), HashMemo()).read()
    return set(record["labels"]) if record else None


def render(
    book: Book,
    chapter: Chapter,
    source_nb,
    executed_nb,
    layout: Layout,
    memo: HashMemo,
    templates: Path,
) -> Rendered:
    """The chapter as LaTeX (``tex/<id>.tex``), or its last render while its inputs hold."""
    tex = layout.tex(chapter)
    stamp = Stamp(layout.record(chapter), memo)
    key = render_key(
        book, chapter, chapter.path.read_text(), layout.cached(chapter), templates, memo
    )
    if tex.exists() and (record := stamp.load(key)):
        return Rendered(
            chapter,
            tex,
            set(record["labels"]),
            record["refs"],
            record["cites"],
            status="unchanged",
            warnings=record["warnings"],
        )

    nb, converted, resources = _convert(book, chapter, source_nb, executed_nb, layout)
    try:
        body, resources = _exporter(templates).from_notebook_node(nb, resources=resources)
    except Exception as exc:
        error = template_error(exc, templates / "chapter.tex.j2")
        if error is None:
            raise
        raise error from None
    _write(layout, tex, body, resources.get("outputs", {}))
    stamp.save(
        key,
        {str(p): memo.file(p) for p in converted.includes},
        labels=sorted(converted.labels),
        refs=converted.refs,
        cites=converted.cites,
        warnings=converted.warnings,
    )
    return Rendered(
        chapter, tex, converted.labels, converted.refs, converted.cites, warnings=converted.warnings
    )


def _convert(book: Book, chapter: Chapter, source_nb, executed_nb, layout: Layout):
    """The notebook to export (current prose, cached outputs, values and
    tables filled in), its markdown converted, and the exporter's resources."""
    from . import markdown, qr

    nb = _merge(source_nb, executed_nb)
    title, title_cell = _title(nb, chapter)
    values = executed_nb.metadata.get("book_eval", {})
    title_values = values.get(str(inline.positions(nb)[title_cell]), {})
    _computed(nb, values)
    table_labels = _tables(nb)
    chapter_labels = {c.path.resolve().with_suffix(""): c.label for c in book.chapters}
    ctx = markdown.Context(
        path=chapter.path,
        source_url=book.source_url,
        lines={
            c.metadata["book"]["index"]: c.metadata["book"].get("line")
            for c in nb.cells
            if c.cell_type == "markdown"
        },
        doc_label=chapter_labels.get,
    )
    cells = {-1: inline.substitute(title, title_values)}
    cells.update(
        {c.metadata["book"]["index"]: c.source for c in nb.cells if c.cell_type == "markdown"}
    )
    converted = markdown.convert(cells, ctx)
    converted.labels |= table_labels
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("label"):
            converted.labels.add(cell.metadata["label"])

    qr_target = chapter.video or book.source_url(chapter.path)
    resources = {
        "unique_key": chapter.id,
        "output_files_dir": layout.files_dir(chapter).name,
        "book_chapter": {
            "title": converted.cells[-1].strip(),
            "title_plain": markdown.escape(inline.substitute(title, title_values, markdown=False)),
            "label": chapter.label,
            "appendix": chapter.appendix,
            "front": chapter.front,
            "source": chapter.path.name,
            "source_url": book.source_url(chapter.path),
            "video": chapter.video,
            "qr": qr.tikz(qr_target) if qr_target else "",
            "path": str(chapter.path),
        },
        "book_markdown": converted.cells,
    }
    return nb, converted, resources


def _write(layout: Layout, tex: Path, body: str, outputs: dict[str, bytes]) -> None:
    """The chapter's LaTeX and figure files, each left untouched when unchanged
    (latexmk and the typeset stamp then see no change)."""
    for name, data in outputs.items():
        target = layout.tex_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    write_if_changed(tex, body)
