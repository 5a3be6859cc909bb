"""The build's own record: what it made, how long each stage took, and
which chapters it executed or took from the cache, in ``build/record.json``.

A successful build writes it last, atomically, so a reader (the appendix
on the builder, a CI job that plots build times) finds either the previous
complete record or none; a failed build leaves the last good one.  The
numbers are wall-clock seconds: they vary from run to run and from machine
to machine, and nothing in the build decides anything by them.
"""

import json
from pathlib import Path

from .config import Book
from .context import Target
from .execute import Executed
from .files import atomic_write_text

FORMAT = 1
NAME = "record.json"


def of(book: Book, target: Target, executed: Executed, times: dict[str, float]) -> dict:
    """The record of one build: its target, its stages' seconds in the
    order they ran, and the status and seconds of each chapter it handled
    (the target's and those whose artifacts they use), in book order."""
    results = executed.results
    return {
        "format": FORMAT,
        "target": target.name,
        "stages": {stage: round(seconds, 2) for stage, seconds in times.items()},
        "chapters": {
            ch.id: {"status": results[ch.id].status, "seconds": round(results[ch.id].seconds, 2)}
            for ch in book.chapters
            if ch.id in results
        },
    }


def write(out: Path, record: dict) -> None:
    atomic_write_text(out / NAME, json.dumps(record, indent=1) + "\n")


def read(out: Path) -> dict | None:
    """The last successful build's record in the build folder ``out``, or
    None: after ``clean``, before a first build, or from another format."""
    try:
        record = json.loads((out / NAME).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None
