"""The one exception the builder reports to users."""


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
