"""What every benchmark shares: the machine's description and the
replacement of its own section in bench/RESULTS.md."""

import datetime
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    cpu = next((row.split(":", 1)[1].strip()
                for row in Path("/proc/cpuinfo").read_text().splitlines()
                if row.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def today() -> str:
    return datetime.date.today().isoformat()


def record(name: str, lines: list[str], write: bool) -> None:
    """Print a benchmark's section; with ``write``, put it in RESULTS.md in
    place of the section of the same name (or at the end)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = "\n".join([begin, *lines, end])
    print(section)
    if not write:
        return
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in current:
        current = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section,
                         current, flags=re.S)
    else:
        current = current.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(current)
