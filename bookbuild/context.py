"""What every stage is handed: the book, where its files go, and how this
build was asked for (mdBook's ``RenderContext``).  Each stage has one entry
point, ``stage(ctx, <previous stage's result>)``."""

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .config import Book, Chapter
from .files import HashMemo
from .layout import Layout
from .log import Log


@dataclass(frozen=True)
class Target:
    """What this build makes: the whole book, or one chapter (``--only``)."""

    chapters: list[Chapter]
    name: str  # the main LaTeX file's stem: "book" or "only-<id>"
    pdf: Path
    only: bool

    @classmethod
    def of(cls, book: Book, layout: Layout, only: str | None) -> "Target":
        if not only:
            return cls(book.chapters, "book", layout.out / "book.pdf", False)
        chapter = book.chapter(only)
        return cls([chapter], f"only-{chapter.id}", layout.out / f"{chapter.id}.pdf", True)


@dataclass
class Context:
    book: Book
    layout: Layout
    memo: HashMemo
    log: Log
    target: Target
    templates: Path
    strict: bool = False  # typed numbers in prose are errors
    rerun: bool = False  # execute even what the cache holds
    jobs: int = 1  # chapters executed (and rendered) at once


@contextmanager
def timed(times: dict[str, float], name: str):
    """Add the body's wall time to ``times[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
