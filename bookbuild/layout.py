"""Where every stage keeps its files under the build folder: the one place
that names them, so no two stages spell a path of the other's."""

from pathlib import Path

from .config import Chapter


class Layout:
    """``build/``: ``cache/`` (executed notebooks and the memos), ``artifacts/``
    (what chapters hand each other), ``work/<id>/`` (a chapter's working
    folder), ``tex/`` (rendered chapters, their records and figures),
    ``latex/`` (latexmk's output and the typeset stamps)."""

    def __init__(self, out: Path):
        self.out = out
        self.cache = out / "cache"
        self.artifacts = out / "artifacts"
        self.tex_dir = out / "tex"
        self.latex = out / "latex"
        self.lock = out / "build.lock"
        self.hash_memo = self.cache / "file-hashes.json"
        self.prose_memo = self.cache / "prose.json"
        self.checked_config = self.cache / "book-yml.sha256"  # the last book.yml the schema passed

    def work(self, chapter: Chapter) -> Path:
        return self.out / "work" / chapter.id

    def cached(self, chapter: Chapter) -> Path:
        """The executed notebook, with its cache record in its metadata."""
        return self.cache / f"{chapter.id}.ipynb"

    def source(self, chapter: Chapter) -> Path:
        """The chapter's parsed source, kept under the hash of its text."""
        return self.cache / f"{chapter.id}.source.json"

    def tex(self, chapter: Chapter) -> Path:
        return self.tex_dir / f"{chapter.id}.tex"

    def record(self, chapter: Chapter) -> Path:
        """The render stage's record of the chapter: its key, labels, references."""
        return self.tex_dir / f"{chapter.id}.json"

    def files_dir(self, chapter: Chapter) -> Path:
        """The chapter's figures, as nbconvert writes them beside its LaTeX."""
        return self.tex_dir / f"{chapter.id}_files"

    def main(self, name: str) -> Path:
        return self.tex_dir / f"{name}.tex"

    def main_record(self, name: str) -> Path:
        """The key of what filled the main file's template when it was last written."""
        return self.tex_dir / f"{name}.main.json"

    def stamp(self, name: str) -> Path:
        """What the last LaTeX run of ``name`` (``book`` or ``only-<id>``) read and gave."""
        return self.latex / f"{name}.stamp.json"
