"""The one exception the builder reports to users, and how it finds lines."""

import re
from pathlib import Path


class BookError(Exception):
    """A problem in the book's input, reported as ``file:line: message``.

    ``where`` is the file (and line, when known) the author must edit, so
    editors and terminals can jump to it; ``detail`` carries excerpts such
    as a traceback or a LaTeX log.
    """

    def __init__(self, message: str, where: str | None = None, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.where = where
        self.detail = detail

    def __str__(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        return f"{head}\n{self.detail.rstrip()}" if self.detail else head


def line_of(text: str, needle: str) -> int | None:
    """First line (1-based) holding ``needle`` as a whole token, so that
    ``sec-att`` is not found inside ``sec-attention``."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(needle)}(?![\w-])")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line):
            return number
    return None


def located(path: Path, *needles: str) -> str:
    """``path:line`` of the first of ``needles`` found in ``path``."""
    text = path.read_text() if path.exists() else ""
    for needle in needles:
        if (line := line_of(text, needle)) is not None:
            return f"{path}:{line}"
    return str(path)


def template_error(exc: Exception, fallback: Path) -> BookError | None:
    """A Jinja2 error as a BookError at the template's file and line (None
    for any other exception)."""
    import traceback

    from jinja2 import TemplateError, TemplateSyntaxError

    if isinstance(exc, TemplateSyntaxError):
        return BookError(
            f"template error: {exc.message}", where=f"{exc.filename or fallback}:{exc.lineno}"
        )
    if isinstance(exc, TemplateError):
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else str(fallback)
        return BookError(f"template error: {exc}", where=where)
    return None
