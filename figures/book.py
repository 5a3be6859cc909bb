"""What a chapter reads from the build: earlier chapters' artifacts and the
book's data files.

The build says where they are (``BOOK_ARTIFACTS``, ``BOOK_DIR``); a chapter
opened by hand in Jupyter finds them where ``python build.py pdf`` leaves
them, beside this repository's ``book/`` folder.
"""

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def artifacts() -> Path:
    """The folder of the artifacts earlier chapters produced."""
    return Path(os.environ.get("BOOK_ARTIFACTS", _ROOT / "build" / "artifacts"))


def artifact(name: str) -> Path:
    """One artifact (``"corpus"``, ``"tokenizer"``, ``"model"``, ...)."""
    path = artifacts() / name
    if not path.exists():
        raise FileNotFoundError(
            f"artifact {name!r} not found at {path}: build the chapter that "
            "produces it first (python build.py execute)"
        )
    return path


def book_dir() -> Path:
    """The book's folder (book.yml, the chapters, data/)."""
    return Path(os.environ.get("BOOK_DIR", _ROOT / "book"))


def data(name: str) -> Path:
    """A file of the book's ``data/`` folder, such as a GPU run's results."""
    return book_dir() / "data" / name
