"""Stage 0: read ``book.yml`` into the book's structure."""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import BookError, located

CHAPTER_SUFFIXES = (".md", ".ipynb")
DEFAULT_PACKAGES = ("torch", "numpy", "matplotlib", "ipykernel", "jupytext")


@dataclass
class Chapter:
    id: str
    path: Path
    part: str | None
    appendix: bool
    number: str  # "3", or "A" for an appendix
    video: str | None = None
    uses: list[str] = field(default_factory=list)
    produces: list[str] = field(default_factory=list)
    data: list[Path] = field(default_factory=list)
    timeout: int = 600

    @property
    def label(self) -> str:
        return f"ch-{self.id}"


@dataclass
class Book:
    root: Path
    title: str
    subtitle: str = ""
    authors: list[str] = field(default_factory=list)
    date: str = ""
    edition: str = ""
    repository: str = ""
    branch: str = "main"
    bibliography: Path | None = None
    python_path: list[Path] = field(default_factory=list)
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    seed: int = 0
    prose_allow: list[str] = field(default_factory=list)  # phrases the typed-number check passes
    chapters: list[Chapter] = field(default_factory=list)
    source: Path | None = None  # book.yml itself

    def chapter(self, name: str) -> Chapter:
        for ch in self.chapters:
            if name in (ch.id, ch.path.name, str(ch.path)):
                return ch
        known = ", ".join(ch.id for ch in self.chapters)
        raise BookError(f"no chapter {name!r} in the book (chapters: {known})")

    def source_url(self, path: Path) -> str:
        """Link to a file of the repository, as readers browse it online."""
        if not self.repository:
            return ""
        repo_root = next((p for p in [self.root, *self.root.parents] if (p / ".git").exists()), self.root.parent)
        rel = path.resolve().relative_to(repo_root.resolve()).as_posix()
        return f"{self.repository.rstrip('/')}/blob/{self.branch}/{rel}"


def load(book_dir: Path) -> Book:
    book_dir = book_dir.resolve()
    source = book_dir / "book.yml"
    if not source.exists():
        raise BookError(f"no book.yml in {book_dir}", where=str(book_dir))
    text = source.read_text()
    try:
        meta = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else str(source)
        raise BookError(f"book.yml is not valid YAML: {exc}", where=where) from None

    def fail(message: str, needle: str) -> BookError:
        return BookError(message, where=located(source, f"file: {needle}", needle))

    if not meta.get("title"):
        raise fail("book.yml needs a 'title'", "title")
    execute = meta.get("execute", {}) or {}
    book = Book(
        root=book_dir,
        source=source,
        title=str(meta["title"]),
        subtitle=str(meta.get("subtitle", "")),
        authors=[str(a) for a in meta.get("authors", [])],
        date=str(meta.get("date", "")),
        edition=str(meta.get("edition", "")),
        repository=str(meta.get("repository", "")),
        branch=str(meta.get("branch", "main")),
        python_path=[(book_dir / p).resolve() for p in meta.get("python_path", [])],
        packages=tuple(execute.get("packages", DEFAULT_PACKAGES)),
        seed=int(execute.get("seed", 0)),
        prose_allow=[str(p) for p in (meta.get("prose") or {}).get("allow", [])],
    )
    if meta.get("bibliography"):
        book.bibliography = book_dir / meta["bibliography"]
        if not book.bibliography.exists():
            raise fail(f"bibliography {meta['bibliography']!r} not found", "bibliography")

    timeout = int(execute.get("timeout", 600))
    number = 0
    for part in meta.get("parts", []) or []:
        for entry in part.get("chapters", []) or []:
            number += 1
            book.chapters.append(
                _chapter(entry, book_dir, part.get("title"), False, str(number), timeout, fail)
            )
    for index, entry in enumerate(meta.get("appendices", []) or []):
        letter = chr(ord("A") + index)
        book.chapters.append(_chapter(entry, book_dir, None, True, letter, timeout, fail))
    if not book.chapters:
        raise fail("book.yml lists no chapters (under 'parts' or 'appendices')", "parts")
    _check_artifacts(book, fail)
    return book


def _chapter(entry, book_dir, part, appendix, number, timeout, fail) -> Chapter:
    if isinstance(entry, str):
        entry = {"file": entry}
    name = entry.get("file")
    if not name:
        raise fail("a chapter entry needs a 'file'", "chapters")
    path = book_dir / name
    if path.suffix not in CHAPTER_SUFFIXES:
        raise fail(f"chapter {name!r} must be a .md (MyST) or .ipynb file", name)
    if not path.exists():
        raise fail(f"chapter file {name!r} not found in {book_dir}", name)
    data = [book_dir / d for d in entry.get("data", [])]
    for d in data:
        if not d.exists():
            raise fail(f"data file {d} declared by {name!r} not found", name)
    return Chapter(
        id=path.stem,
        path=path,
        part=part,
        appendix=appendix,
        number=number,
        video=entry.get("video"),
        uses=list(entry.get("uses", [])),
        produces=list(entry.get("produces", [])),
        data=data,
        timeout=int(entry.get("timeout", timeout)),
    )


def _check_artifacts(book: Book, fail) -> None:
    producers: dict[str, Chapter] = {}
    ids = set()
    for ch in book.chapters:
        if ch.id in ids:
            raise fail(f"two chapters share the name {ch.id!r}", ch.path.name)
        ids.add(ch.id)
        for name in ch.produces:
            if name in producers:
                raise fail(
                    f"artifact {name!r} is produced by both {producers[name].path.name}"
                    f" and {ch.path.name}", ch.path.name)
            producers[name] = ch
    for ch in book.chapters:
        for name in ch.uses:
            if name not in producers:
                raise fail(f"{ch.path.name} uses artifact {name!r}, which no chapter produces",
                           ch.path.name)


def producers_of(book: Book, chapter: Chapter) -> list[Chapter]:
    """The chapters whose artifacts ``chapter`` uses, transitively, in book order."""
    by_artifact = {name: ch for ch in book.chapters for name in ch.produces}
    needed: list[Chapter] = []

    def visit(ch: Chapter, trail: tuple[str, ...]) -> None:
        for name in ch.uses:
            producer = by_artifact[name]
            if producer.id in trail:
                raise BookError(f"artifact cycle: {' -> '.join(trail + (producer.id,))}",
                                where=str(book.source))
            visit(producer, trail + (producer.id,))
            if producer not in needed:
                needed.append(producer)

    visit(chapter, (chapter.id,))
    return sorted(needed, key=book.chapters.index)
