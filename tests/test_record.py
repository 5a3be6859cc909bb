"""build/record.json: written last by a successful build, with its target,
stages and chapters; a failed build keeps the last good one; a missing or
foreign record reads as None."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bookbuild import record

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini"


def execute(book: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "execute", "--book", str(book), "--out", str(out)]
        + list(args),
        capture_output=True,
        text=True,
        env=dict(os.environ, BOOK_BOOTSTRAPPED="1"),
        timeout=600,
    )


def test_a_build_records_its_target_stages_and_chapters_and_a_failure_keeps_it(tmp_path):
    book, out = tmp_path / "book", tmp_path / "build"
    shutil.copytree(MINI, book)
    assert record.read(out) is None  # before a first build

    proc = execute(book, out, "--only", "second")
    assert proc.returncode == 0, proc.stderr
    first = record.read(out)
    assert first["target"] == "only-second"
    assert list(first["stages"]) == ["execute"]  # `execute` neither renders nor typesets
    assert list(first["chapters"]) == ["intro", "second"]  # book order, the producer too
    assert {c["status"] for c in first["chapters"].values()} == {"executed"}
    assert all(c["seconds"] > 0 for c in first["chapters"].values())
    assert first["stages"]["execute"] >= sum(c["seconds"] for c in first["chapters"].values())

    proc = execute(book, out, "--only", "second")
    assert proc.returncode == 0, proc.stderr
    again = record.read(out)
    assert {c["status"] for c in again["chapters"].values()} == {"cached"}

    second = book / "second.md"
    second.write_text(second.read_text().replace("import json, os, pathlib", "1 / 0"))
    proc = execute(book, out, "--only", "second")
    assert proc.returncode == 1 and "ZeroDivisionError" in proc.stderr
    assert record.read(out) == again, "a failed build leaves the last good record"
    assert not list(out.glob(".record.json.*")), "no temporary file is left behind"


def test_a_missing_broken_or_foreign_record_reads_as_none(tmp_path):
    assert record.read(tmp_path) is None
    (tmp_path / record.NAME).write_text("{not json")
    assert record.read(tmp_path) is None
    (tmp_path / record.NAME).write_text(json.dumps({"format": record.FORMAT + 1}))
    assert record.read(tmp_path) is None
    (tmp_path / record.NAME).write_text(json.dumps([record.FORMAT]))
    assert record.read(tmp_path) is None
    mine = {"format": record.FORMAT, "target": "book", "stages": {}, "chapters": {}}
    record.write(tmp_path, mine)
    assert record.read(tmp_path) == mine
