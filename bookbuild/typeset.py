"""Stage 5: the book's LaTeX to ``book.pdf`` with latexmk (LuaLaTeX + biber).

After a finished build, an edit is first typeset by one bare LuaLaTeX pass;
latexmk runs only when that pass changed what a next pass would read.

References and citations are checked against the book's labels and the
bibliography before LaTeX runs, so an author learns which chapter (and
line) names an undefined key.  LaTeX is skipped when none of its inputs
changed; on failure the error is traced back to the chapter and cell that
produced the offending line, and the last good PDF stays in place.

The PDF is reproducible: its dates are the last commit's (or
``SOURCE_DATE_EPOCH``'s), its trailer /ID is a hash of its own bytes, and
nothing in it names the folder it was built in, so two builds of one commit
give the same bytes wherever they run.
"""

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .config import Book, Chapter
from .context import Context
from .errors import BookError, located, template_error
from .files import (
    HashMemo,
    Stamp,
    atomic_copy,
    atomic_write_bytes,
    sha256_json,
    write_if_changed,
)
from .layout import Layout
from .render import Rendered, last_labels

_BIB_ENTRY = re.compile(r"@(\w+)\s*[{(]\s*([^,\s]+)\s*,")
_ERROR = re.compile(r"(?m)^(?P<file>[^\s:][^:]*\.tex):(?P<line>\d+): (?P<message>.*)$")
_SOURCE = re.compile(r"^% BOOK-SOURCE .+:(?P<line>\d+)$")
_SPLIT = re.compile(r"^BOOK-SPLIT (?P<file>.+):(?P<line>\d+)$", re.M)

# Dates when neither SOURCE_DATE_EPOCH nor a git commit gives one (a book
# copied out of its repository): a constant, never the clock.  0 is
# 1970-01-01, which reads plainly as "no date".
FALLBACK_EPOCH = 0
# The trailer /ID that book.tex.j2 asks LuaTeX to write, replaced afterwards
# by a hash of the finished PDF: an ID that depends on the content only.
TRAILER_ID_PLACEHOLDER = "0" * 32


@dataclass
class Typeset:
    pdf: Path
    pages: int
    status: str  # "typeset" or "unchanged"
    overfull: int = 0
    underfull: int = 0  # \hbox
    underfull_vbox: int = 0
    undefined: list[str] | None = None
    missing_chars: int = 0
    split: list[str] | None = None  # where a box of code or output broke across pages

    def warnings(self) -> str:
        """The summary's warnings line, e.g. "0 overfull boxes, 3 underfull vboxes,
        1 split listing (intro.md:40)"."""
        notes = [
            _count(self.overfull, "overfull box", "overfull boxes"),
            _count(self.underfull_vbox, "underfull vbox", "underfull vboxes"),
            _count(len(self.split or []), "split listing", "split listings"),
        ]
        if self.split:
            more = len(self.split) - _SHOWN_SPLITS
            notes[-1] += (
                " ("
                + ", ".join(self.split[:_SHOWN_SPLITS])
                + (f" and {more} more" if more > 0 else "")
                + ")"
            )
        if self.missing_chars:
            notes.append(_count(self.missing_chars, "missing glyph", "missing glyphs"))
        if self.undefined:
            notes.append("undefined: " + ", ".join(self.undefined))
        return ", ".join(notes)


_SHOWN_SPLITS = 4  # the summary is one line


def stage(ctx: Context, rendered: list[Rendered]) -> Typeset:
    """Check the keys, write the main LaTeX file and run LaTeX (if anything changed)."""
    book, target = ctx.book, ctx.target
    elsewhere = labels_elsewhere(book, rendered, ctx.layout) if target.only else set()
    check_keys(book, rendered, elsewhere)
    main = write_main(book, rendered, ctx.layout, ctx.templates, target.name, target.only, ctx.memo)
    return typeset(book, rendered, main, target.pdf, ctx.layout, ctx.memo, target.only, ctx.log)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def bib_keys(path: Path) -> set[str]:
    return {
        key
        for kind, key in _BIB_ENTRY.findall(path.read_text())
        if kind.lower() not in ("comment", "string", "preamble")
    }


def check_keys(book: Book, rendered: list[Rendered], elsewhere: set[str] = frozenset()) -> None:
    """Fail on a citation missing from the bibliography or a reference to a
    label that no chapter defines.  ``elsewhere`` holds the labels of
    chapters left out of an ``--only`` build (as last rendered): references
    to them are allowed there, though that PDF cannot number them."""
    known_cites = bib_keys(book.bibliography) if book.bibliography else set()
    labels = set(elsewhere)
    for r in rendered:
        labels |= r.labels | {r.chapter.label}
    problems = []
    for r in rendered:
        for key in r.cites:
            if key not in known_cites:
                bib = book.bibliography.name if book.bibliography else "no bibliography in book.yml"
                problems.append(
                    BookError(
                        f"citation key {key!r} is not in {bib}", where=located(r.chapter.path, key)
                    )
                )
        for key in r.refs:
            if key not in labels:
                problems.append(
                    BookError(
                        f"reference to undefined label {key!r}", where=located(r.chapter.path, key)
                    )
                )
    if problems:
        first = problems[0]
        first.detail = "\n".join(str(p) for p in problems[1:])
        raise first


def labels_elsewhere(book: Book, rendered: list[Rendered], layout: Layout) -> set[str]:
    """Labels of the chapters not in ``rendered``, from their last render."""
    shown = {r.chapter.id for r in rendered}
    labels = set()
    for ch in book.chapters:
        if ch.id in shown:
            continue
        labels.add(ch.label)
        last = last_labels(ch, layout)
        # never rendered: its labels are unknown, so trust its source text
        labels |= last if last is not None else set(re.findall(r"[\w-]+", ch.path.read_text()))
    return labels


def _environment(templates: Path):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(str(templates)),
        undefined=StrictUndefined,
        block_start_string="((*",
        block_end_string="*))",
        variable_start_string="(((",
        variable_end_string=")))",
        comment_start_string="((=",
        comment_end_string="=))",
        trim_blocks=True,
        autoescape=False,
        keep_trailing_newline=True,
    )


def _ordinal(chapter: Chapter) -> int:
    """The chapter counter's value in the chapter; 0 for unnumbered front matter."""
    if chapter.front:
        return 0
    return ord(chapter.number) - ord("A") + 1 if chapter.appendix else int(chapter.number)


def write_main(
    book: Book,
    rendered: list[Rendered],
    layout: Layout,
    templates: Path,
    name: str,
    only: bool,
    memo: HashMemo | None = None,
) -> Path:
    """The main LaTeX file, written again only when what fills its template
    changed (so a build with nothing to do imports neither jinja2 nor the
    markdown and listing modules)."""

    def entry(r: Rendered) -> dict:
        return {"tex": r.tex.name, "appendix": r.chapter.appendix, "ordinal": _ordinal(r.chapter)}

    front = [entry(r) for r in rendered if r.chapter.front]
    parts: list[dict] = []
    for r in rendered:
        if r.chapter.appendix or r.chapter.front:
            continue
        if not parts or parts[-1]["title"] != r.chapter.part:
            parts.append({"title": r.chapter.part, "chapters": []})
        parts[-1]["chapters"].append(entry(r))
    appendices = [entry(r) for r in rendered if r.chapter.appendix]
    index = any(r.tex.is_file() and "\\index{" in r.tex.read_text() for r in rendered)
    main = layout.main(name)
    memo = memo or HashMemo()
    stamp = Stamp(layout.main_record(name), memo)
    here = Path(__file__).parent
    key = sha256_json(
        {
            "book": [
                book.title,
                book.subtitle,
                book.authors,
                book.date,
                book.edition,
                book.repository,
                str(book.bibliography or ""),
            ],
            "front": front,
            "parts": parts,
            "appendices": appendices,
            "only": only,
            "index": index,
            "templates": {p.name: memo.file(p) for p in sorted(templates.glob("*.j2"))},
            "builder": {
                n: memo.file(here / n) for n in ("typeset.py", "markdown.py", "listings.py")
            },
        }
    )
    if main.exists() and stamp.load(key) is not None:
        return main

    from jinja2 import TemplateError

    from . import listings, markdown

    escape = markdown.escape
    try:
        text = (
            _environment(templates)
            .get_template("book.tex.j2")
            .render(
                title=escape(book.title),
                subtitle=escape(book.subtitle),
                authors=[escape(a) for a in book.authors],
                authors_plain=escape(", ".join(book.authors)),
                date=escape(book.date),
                edition=escape(book.edition),
                repository=book.repository,
                bibliography=book.bibliography.resolve().as_posix() if book.bibliography else "",
                front=front,
                parts=parts,
                appendices=appendices,
                pygments=listings.style_definitions(),
                only=only,
                index=index,
                trailer_id=TRAILER_ID_PLACEHOLDER,
            )
        )
    except TemplateError as exc:
        raise template_error(exc, templates / "book.tex.j2") from None
    write_if_changed(main, text)
    stamp.save(key, {})
    return main


def _source_of(tex_file: Path, line_no: int, rendered: list[Rendered]) -> str | None:
    """The chapter file and line (from its ``% BOOK-SOURCE`` marks) that
    produced ``tex_file:line_no``; None for LaTeX that no chapter produced."""
    for r in rendered:
        if r.tex.resolve() == tex_file:
            for source_line in tex_file.read_text().splitlines()[:line_no][::-1]:
                # The line from the mark, the path from the chapter: a render
                # kept from before the book folder moved names the old path.
                if s := _SOURCE.match(source_line):
                    return f"{r.chapter.path}:{s['line']}"
            return str(r.chapter.path)
    return None


def _latex_error(log_text: str, tex_dir: Path, rendered: list[Rendered]) -> BookError:
    lines = log_text.splitlines()
    for index, line in enumerate(lines):
        m = _ERROR.match(line)
        if not m:
            continue
        excerpt = "\n".join(lines[index : index + 8])
        tex_file = (tex_dir / m["file"]).resolve()
        line_no = int(m["line"])
        where = _source_of(tex_file, line_no, rendered)
        if where is None:
            where = f"{tex_file}:{line_no}"
        else:
            excerpt += f"\n(generated LaTeX: {tex_file}:{line_no})"
        return BookError(f"LaTeX error: {m['message']}", where=where, detail=excerpt)
    bang = next((i for i, row in enumerate(lines) if row.startswith("!")), None)
    detail = "\n".join(lines[bang : bang + 10]) if bang is not None else "\n".join(lines[-20:])
    return BookError("LaTeX failed", where=str(tex_dir), detail=detail)


def _biber_error(blg: Path, book: Book) -> BookError | None:
    if not blg.exists():
        return None
    for line in blg.read_text(errors="replace").splitlines():
        if "ERROR -" in line:
            m = re.search(r"line (\d+)", line)
            where = str(book.bibliography) + (f":{m.group(1)}" if m else "")
            return BookError(f"biber: {line.split('ERROR -', 1)[1].strip()}", where=where)
    return None


def source_date_epoch(root: Path) -> int:
    """The date LaTeX writes into the PDF: ``SOURCE_DATE_EPOCH`` when set,
    else the time of the last commit of the repository holding ``root``,
    else FALLBACK_EPOCH."""
    if value := os.environ.get("SOURCE_DATE_EPOCH"):
        if not value.isdigit():
            raise BookError(f"SOURCE_DATE_EPOCH must be seconds since 1970, not {value!r}")
        return int(value)
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"], capture_output=True, text=True
        )
    except OSError:  # no git
        return FALLBACK_EPOCH
    stamp = proc.stdout.strip()
    return int(stamp) if proc.returncode == 0 and stamp.isdigit() else FALLBACK_EPOCH


def with_content_id(pdf: bytes) -> bytes:
    """``pdf`` with its placeholder trailer /ID replaced by a hash of the file,
    so that the ID changes exactly when the content does.  The ID has the
    placeholder's length: no offset in the cross-reference table moves."""
    placeholder = f"<{TRAILER_ID_PLACEHOLDER}>".encode()
    trailer = pdf.rfind(b"/ID")
    if trailer < 0 or pdf.count(placeholder, trailer) != 2:
        raise BookError(
            "LuaTeX wrote no placeholder trailer /ID (see \\pdfvariable trailerid "
            "in templates/book.tex.j2)"
        )
    digest = hashlib.sha256(pdf).hexdigest()[: len(TRAILER_ID_PLACEHOLDER)].upper()
    return pdf[:trailer] + pdf[trailer:].replace(placeholder, f"<{digest}>".encode())


def typeset(
    book: Book,
    rendered: list[Rendered],
    main: Path,
    out_pdf: Path,
    layout: Layout,
    memo: HashMemo,
    only: bool,
    log,
) -> Typeset:
    latex_dir = layout.latex
    stamp = Stamp(layout.stamp(main.stem), memo)
    epoch = source_date_epoch(book.root)
    bib = memo.tree(book.bibliography) if book.bibliography else None
    key = sha256_json(
        {
            "main": memo.tree(main),
            "chapters": [
                [memo.tree(r.tex), memo.tree(layout.files_dir(r.chapter))] for r in rendered
            ],
            "bib": bib,
            "epoch": epoch,  # a new commit dates the PDF anew, as a clean build would
        }
    )
    if out_pdf.exists() and (last := stamp.load(key)):
        return Typeset(out_pdf, last["pages"], "unchanged", **last["warnings"])
    record, tex_dir = stamp.read(), str(main.parent.resolve())
    moved = record.get("tex_dir") != tex_dir
    if moved:
        # latexmk's database holds absolute paths: after the build folder
        # moved it would compare the old files and wrongly see no change.
        (latex_dir / f"{main.stem}.fdb_latexmk").unlink(missing_ok=True)

    latex_dir.mkdir(parents=True, exist_ok=True)
    if not shutil.which("latexmk"):
        raise BookError(
            "latexmk is not installed; run `python3 build.py pdf` (which installs "
            "TeX Live) or `apt-get install latexmk texlive-luatex biber`"
        )
    log.info("typesetting with LuaLaTeX ...")
    # FORCE_SOURCE_DATE: \today and \time follow SOURCE_DATE_EPOCH too.
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch), FORCE_SOURCE_DATE="1")
    log_file = latex_dir / f"{main.stem}.log"
    proc = None
    # A changed .bib needs biber even when the citations are the same.
    if not moved and record.get("bib") == bib:
        proc = _final_pass(main, latex_dir, env)
        if proc is not None:
            log.info("one LuaLaTeX pass was enough (nothing a next pass reads changed)")
    if proc is None:
        log.info("latexmk: passes, biber and makeindex until the references settle")
        proc = _latexmk(main, latex_dir, env)
    log_text = log_file.read_text(errors="replace") if log_file.exists() else ""
    built = latex_dir / f"{main.stem}.pdf"
    if proc.returncode != 0 or not built.exists():
        if _ERROR.search(log_text) is None and (
            biber := _biber_error(latex_dir / f"{main.stem}.blg", book)
        ):
            raise biber
        if not log_text:
            raise BookError("latexmk failed", detail=proc.stdout[-3000:] + proc.stderr[-2000:])
        raise _latex_error(log_text, main.parent, rendered)

    warnings = _warnings(log_text)
    warnings["split"] = _split_boxes(log_text, main.parent, rendered)
    if warnings["undefined"] and not only:
        raise BookError(
            "LaTeX reports undefined references or citations: " + ", ".join(warnings["undefined"]),
            where=str(log_file),
        )
    pages = (
        int(m.group(1)) if (m := re.search(r"Output written on .*?\((\d+) pages?", log_text)) else 0
    )
    atomic_write_bytes(out_pdf, with_content_id(built.read_bytes()))
    if main.stem == "book":
        atomic_copy(log_file, out_pdf.with_suffix(".log"))
    stamp.save(key, {}, pages=pages, warnings=warnings, tex_dir=tex_dir, bib=bib)
    return Typeset(out_pdf, pages, "typeset", **warnings)


LUALATEX = ["lualatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
# What a pass writes for the next one to read: when a pass leaves them as it
# found them, another pass would typeset the same pages, biber has no new
# citations to sort and the index no new entries (latexmk's own criterion).
NEXT_PASS_READS = (".aux", ".toc", ".lof", ".lot", ".lol", ".out", ".bcf", ".idx")
_RERUN = re.compile(r"Rerun to get|Please rerun LaTeX|Please \(re\)run Biber")


def _latexmk(main: Path, latex_dir: Path, env: dict) -> subprocess.CompletedProcess:
    cmd = ["latexmk", "-lualatex", *LUALATEX[1:], "-cd-", f"-outdir={latex_dir.resolve()}"]
    return subprocess.run(
        [*cmd, main.name],
        cwd=main.parent,
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
    )


def _final_pass(main: Path, latex_dir: Path, env: dict) -> subprocess.CompletedProcess | None:
    """One LuaLaTeX pass over a book that latexmk finished before (a prose
    edit): the pass, when it was the last one needed, else None and latexmk
    takes over.  latexmk's own start-up checks cost about a second."""
    read = {ext: _digest(latex_dir / f"{main.stem}{ext}") for ext in NEXT_PASS_READS}
    out = str(latex_dir.resolve())
    proc = subprocess.run(
        [*LUALATEX, f"-output-directory={out}", main.name],
        cwd=main.parent,
        capture_output=True,
        text=True,
        errors="replace",
        env=dict(env, **pass_environment(out)),
    )
    if proc.returncode != 0:
        return proc  # an error in the text: latexmk would stop at it too
    written = {ext: _digest(latex_dir / f"{main.stem}{ext}") for ext in NEXT_PASS_READS}
    return proc if written == read and not _RERUN.search(proc.stdout) else None


def pass_environment(out: str) -> dict[str, str]:
    """What latexmk sets for a pass with an output folder: without it the
    pass reads the .bbl but biblatex finds no checksum of it, so the .aux it
    writes differs from latexmk's."""
    inputs = os.environ.get("TEXINPUTS", "")
    return {"TEXINPUTS": f"{out}{os.pathsep}{inputs}", "TEXMFOUTPUT": out}


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _warnings(log_text: str) -> dict:
    undefined = re.findall(r"(?:Reference|Citation) [`'](.+?)' on page \d+ undefined", log_text)
    return {
        "overfull": len(re.findall(r"^Overfull \\hbox", log_text, re.M)),
        "underfull": len(re.findall(r"^Underfull \\hbox", log_text, re.M)),
        "underfull_vbox": len(re.findall(r"^Underfull \\vbox", log_text, re.M)),
        "undefined": sorted(set(undefined)),
        "missing_chars": len(re.findall(r"^Missing character", log_text, re.M)),
    }


def _split_boxes(log_text: str, tex_dir: Path, rendered: list[Rendered]) -> list[str]:
    """Where the boxes of code and output that broke across pages come from
    (book.tex.j2 has tcolorbox log ``BOOK-SPLIT <tex file>:<line>`` for each)."""
    found = []
    for m in _SPLIT.finditer(log_text):
        tex_file = (tex_dir / m["file"]).resolve()
        where = _source_of(tex_file, int(m["line"]), rendered) or f"{tex_file}:{m['line']}"
        if where not in found:
            found.append(where)
    return found
