"""Stage 1: read ``book.yml`` into the book's structure.

The file is checked against ``book.schema.json`` (JSON Schema, Draft 2020-12)
before anything reads it, and every error names its line, taken from the YAML
parser's own node positions.
"""

import difflib
import json
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import yaml

from .errors import BookError
from .files import sha256_text, write_if_changed

CHAPTER_SUFFIXES = (".md", ".ipynb")
DEFAULT_PACKAGES = ("torch", "numpy", "matplotlib", "ipykernel", "jupytext")
SCHEMA = Path(__file__).with_name("book.schema.json")
_NOUNS = {"string": "a string", "integer": "an integer", "array": "a list", "object": "a mapping"}


@dataclass
class Chapter:
    id: str
    path: Path
    part: str | None
    appendix: bool
    number: str  # "3", "A" for an appendix, "" for front matter (unnumbered)
    video: str | None = None
    uses: list[str] = field(default_factory=list)
    produces: list[str] = field(default_factory=list)
    data: list[Path] = field(default_factory=list)
    timeout: int = 600
    where: str = ""  # book.yml:line of its entry, for errors about the entry
    front: bool = False  # front matter (a preface): before Part I, unnumbered

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
    prose_allow: list[str] = field(default_factory=list)  # numbers prose may type by hand
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
        repo_root = next(
            (p for p in [self.root, *self.root.parents] if (p / ".git").exists()), self.root.parent
        )
        rel = path.resolve().relative_to(repo_root.resolve()).as_posix()
        return f"{self.repository.rstrip('/')}/blob/{self.branch}/{rel}"


class _Loader(yaml.SafeLoader):
    """The safe loader, except that dates stay text: book.yml prints them, and
    the schema (JSON types) has no date type."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


class _Document:
    """book.yml parsed once: its data, and its nodes for the line of any key."""

    def __init__(self, path: Path):
        self.path = path
        self.text = path.read_text()
        loader = _Loader(self.text)
        try:
            self.root = loader.get_single_node()
            self.data = loader.construct_document(self.root) if self.root else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            raise BookError(f"book.yml is not valid YAML: {exc}", where=where) from None
        finally:
            loader.dispose()

    def line(self, *keys: str | int) -> int:
        """Line of the key (or list item) at ``keys``, or of the nearest one
        above it that exists; 0 for an empty file."""
        node = marked = self.root
        for key in keys:
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                pair = (node.value[key], node.value[key]) if key < len(node.value) else None
            else:
                pair = None
            if pair is None:
                break
            marked, node = pair
        return marked.start_mark.line + 1 if marked else 0

    def where(self, *keys: str | int) -> str:
        line = self.line(*keys)
        return f"{self.path}:{line}" if line else str(self.path)


def load(book_dir: Path, checked: Path | None = None) -> Book:
    """The book in ``book_dir``.  ``checked``, when given, keeps the hash of
    the last book.yml that passed the schema: the same text is not checked
    again (importing jsonschema is most of a no-op build's start)."""
    book_dir = book_dir.resolve()
    source = book_dir / "book.yml"
    if not source.exists():
        raise BookError(f"no book.yml in {book_dir}", where=str(book_dir))
    doc = _Document(source)
    digest = sha256_text(SCHEMA.read_text() + doc.text)
    if checked is None or not checked.exists() or checked.read_text() != digest:
        _validate(doc)
        if checked is not None:
            write_if_changed(checked, digest)
    meta = doc.data
    execute = meta.get("execute") or {}
    book = Book(
        root=book_dir,
        source=source,
        title=meta["title"],
        subtitle=meta.get("subtitle", ""),
        authors=meta.get("authors", []),
        date=str(meta.get("date", "")),
        edition=str(meta.get("edition", "")),
        repository=meta.get("repository", ""),
        branch=meta.get("branch", "main"),
        python_path=[(book_dir / p).resolve() for p in meta.get("python_path", [])],
        packages=tuple(execute.get("packages", DEFAULT_PACKAGES)),
        seed=int(execute.get("seed", 0)),  # JSON Schema counts 7.0 as an integer
        prose_allow=(meta.get("prose") or {}).get("allow", []),
    )
    if meta.get("bibliography"):
        book.bibliography = book_dir / meta["bibliography"]
        if not book.bibliography.exists():
            raise BookError(
                f"bibliography {meta['bibliography']!r} not found", where=doc.where("bibliography")
            )
    book.chapters = _chapters(doc, book_dir, int(execute.get("timeout", 600)))
    _check_artifacts(book)
    schedule(book, book.chapters)  # a cycle is an error of the book, whatever a build selects
    return book


def _validate(doc: _Document) -> None:
    """Raise the first schema error in file order; the others go in its detail."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    found = sorted(
        (doc.line(*keys), message)
        for error in validator.iter_errors(doc.data)
        for keys, message in _explain(error)
    )
    if found:
        (line, message), *others = found
        detail = "\n".join(f"{doc.path}:{n}: {m}" for n, m in others)
        raise BookError(
            message, where=f"{doc.path}:{line}" if line else str(doc.path), detail=detail
        )
    if "chapters" in doc.data and "parts" in doc.data:
        raise BookError(
            "book.yml lists both 'chapters' and 'parts': a book without parts lists"
            " its chapters under 'chapters', a book with parts under each part",
            where=doc.where("chapters"),
        )


def _explain(error):
    """(keys, message) pairs, in the author's words, for one schema error."""
    keys = tuple(error.path)
    name = next((k for k in reversed(keys) if isinstance(k, str)), "")
    if not keys:
        subject = "book.yml"
    elif isinstance(keys[-1], str):
        subject = repr(name)
    else:
        subject = f"each entry of {name!r}"
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        for key in (k for k in error.instance if k not in known):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(known)}"
            yield keys + (key,), f"unknown key {key!r} ({hint})"
    elif error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        yield keys, f"{error.schema.get('title', subject)} needs a {missing!r}"
    elif error.validator == "type":
        types = error.validator_value
        types = [types] if isinstance(types, str) else types
        yield keys, f"{subject} must be {' or '.join(_NOUNS[t] for t in types if t != 'null')}"
    elif error.validator == "minimum":
        yield keys, f"{subject} must be at least {error.validator_value}"
    elif error.validator == "minLength":
        yield keys, f"{subject} must not be empty"
    else:
        yield keys, f"{subject}: {error.message}"


def _entries(meta: dict):
    """(entry, its keys in book.yml, part title, matter) for every chapter, in
    book order; matter is "front", "main" or "appendix"."""
    for index, entry in enumerate(meta.get("front") or []):
        yield entry, ("front", index), None, "front"
    for index, entry in enumerate(meta.get("chapters") or []):
        yield entry, ("chapters", index), None, "main"
    for p, part in enumerate(meta.get("parts") or []):
        for index, entry in enumerate(part.get("chapters") or []):
            yield entry, ("parts", p, "chapters", index), part.get("title"), "main"
    for index, entry in enumerate(meta.get("appendices") or []):
        yield entry, ("appendices", index), None, "appendix"


def _number(matter: str, count: int) -> str:
    """Chapters are numbered 1, 2, ...; appendices A, B, ...; front matter not at all."""
    return {"front": "", "main": str(count), "appendix": chr(ord("A") + count - 1)}[matter]


def _chapters(doc: _Document, book_dir: Path, timeout: int) -> list[Chapter]:
    chapters = []
    counts = {"front": 0, "main": 0, "appendix": 0}
    for entry, keys, part, matter in _entries(doc.data):
        counts[matter] += 1
        number = _number(matter, counts[matter])
        chapters.append(_chapter(doc, entry, keys, book_dir, part, matter, number, timeout))
    if not chapters:
        listed = next(
            (k for k in ("front", "chapters", "parts", "appendices") if k in doc.data), "title"
        )
        raise BookError(
            "book.yml lists no chapters (under 'front', 'chapters', 'parts' or 'appendices')",
            where=doc.where(listed),
        )
    return chapters


def _chapter(doc, entry, keys, book_dir, part, matter, number, timeout) -> Chapter:
    if isinstance(entry, str):
        entry = {"file": entry}
    name = entry["file"]
    path = book_dir / name
    where = doc.where(*keys)
    if path.suffix not in CHAPTER_SUFFIXES:
        raise BookError(f"chapter {name!r} must be a .md (MyST) or .ipynb file", where=where)
    if not path.exists():
        raise BookError(f"chapter file {name!r} not found in {book_dir}", where=where)
    data = [book_dir / d for d in entry.get("data", [])]
    for index, d in enumerate(data):
        if not d.exists():
            raise BookError(
                f"data file {d} declared by {name!r} not found",
                where=doc.where(*keys, "data", index),
            )
    return Chapter(
        id=path.stem,
        path=path,
        part=part,
        appendix=matter == "appendix",
        front=matter == "front",
        number=number,
        video=entry.get("video"),
        uses=entry.get("uses", []),
        produces=entry.get("produces", []),
        data=data,
        timeout=int(entry.get("timeout", timeout)),
        where=where,
    )


def _check_artifacts(book: Book) -> None:
    producers: dict[str, Chapter] = {}
    ids = set()
    for ch in book.chapters:
        if ch.id in ids:
            raise BookError(f"two chapters share the name {ch.id!r}", where=ch.where)
        ids.add(ch.id)
        for name in ch.produces:
            if name in producers:
                raise BookError(
                    f"artifact {name!r} is produced by both "
                    f"{producers[name].path.name} and {ch.path.name}",
                    where=ch.where,
                )
            producers[name] = ch
    for ch in book.chapters:
        for name in ch.uses:
            if name not in producers:
                raise BookError(
                    f"{ch.path.name} uses artifact {name!r}, which no chapter produces",
                    where=ch.where,
                )


def _graph(book: Book) -> dict[str, list[str]]:
    """Each chapter's id -> the ids of the chapters whose artifacts it uses."""
    by_artifact = {name: ch.id for ch in book.chapters for name in ch.produces}
    return {
        ch.id: list(dict.fromkeys(by_artifact[name] for name in ch.uses)) for ch in book.chapters
    }


def producers_of(book: Book, chapter: Chapter) -> list[Chapter]:
    """The chapters whose artifacts ``chapter`` uses, transitively, in book order."""
    graph = _graph(book)
    needed: set[str] = set()
    todo = [chapter.id]
    while todo:
        for producer in set(graph[todo.pop()]) - needed:
            needed.add(producer)
            todo.append(producer)
    return [ch for ch in book.chapters if ch.id in needed and ch is not chapter]


def schedule(book: Book, chapters: list[Chapter]) -> TopologicalSorter:
    """A prepared sorter over the ids of ``chapters`` and of their producers:
    ``get_ready()`` gives the chapters whose producers are all ``done()``."""
    graph = _graph(book)
    needed = {c.id for ch in chapters for c in [ch, *producers_of(book, ch)]}
    sorter = TopologicalSorter({ch.id: graph[ch.id] for ch in book.chapters if ch.id in needed})
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = _from_first(book, exc.args[1])
        raise BookError(
            f"artifact cycle: {' -> '.join(cycle)} (each chapter uses an artifact"
            " of the one before it)",
            where=book.chapter(cycle[0]).where,
        ) from None
    return sorter


def _from_first(book: Book, cycle: list[str]) -> list[str]:
    """graphlib's cycle (``[a, b, a]``, producer first) from its earliest chapter in the book."""
    ring = cycle[:-1]
    start = min(range(len(ring)), key=lambda i: book.chapters.index(book.chapter(ring[i])))
    ring = ring[start:] + ring[:start]
    return [*ring, ring[0]]
