"""The project's own code passes ruff's lint rules and is in ruff's format
(rules in pyproject.toml; the printed library keeps 80 columns, code/ruff.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMATTED = ["code", "bookbuild", "figures", "bench", "scripts", "tests", "build.py"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_ruff_check_is_clean():
    proc = ruff("check", "--output-format", "concise", str(ROOT))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_code_is_in_ruff_format():
    proc = ruff("format", "--check", *FORMATTED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
