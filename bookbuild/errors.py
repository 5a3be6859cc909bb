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
