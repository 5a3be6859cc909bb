"""What every benchmark shares: the timing harness, the machine's description
and the replacement of its own section in bench/RESULTS.md."""

import datetime
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def interleaved(
    steps: dict[str, Callable[[], object]],
    warmup: int,
    repeats: int,
    sync: Callable[[], object] | None = None,
) -> dict[str, list[float]]:
    """Seconds of each call of each function in ``steps``, ``repeats`` calls
    each after ``warmup`` untimed ones (compilation, first allocations).

    The functions take turns within each repeat, in an order that rotates
    from repeat to repeat (with two, it alternates), so that drift in the
    machine's speed (other work, frequency scaling) falls on all of them
    alike. ``sync`` (``torch.cuda.synchronize`` on a GPU) runs before each
    clock reading, so that a time covers the work queued, not its launch.
    """
    sync = sync or (lambda: None)
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        first = r % len(names)
        for name in names[first:] + names[:first]:
            sync()
            start = time.perf_counter()
            steps[name]()
            sync()
            times[name].append(time.perf_counter() - start)
    return times


def machine() -> str:
    cpu = next(
        (
            row.split(":", 1)[1].strip()
            for row in Path("/proc/cpuinfo").read_text().splitlines()
            if row.startswith("model name")
        ),
        platform.processor(),
    )
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
        pattern = re.escape(begin) + ".*?" + re.escape(end)
        current = re.sub(pattern, lambda _: section, current, flags=re.S)
    else:
        current = current.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(current)
