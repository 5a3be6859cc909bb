"""Benchmark of the data pipeline on the real sources: build_corpus over all
of python3-doc and the running interpreter's standard library.

Run by hand (not in CI):  .venv/bin/python bench/bench_data.py [--write]

Each build runs in a fresh interpreter, into a temporary folder, so that the
peak memory (ru_maxrss) is the pipeline's own; the imports' share is
measured before the build starts. With --write the section between the
bench_data markers in bench/RESULTS.md is replaced (or appended).
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import machine, record, today


def child(out: Path) -> None:
    """One build in this (fresh) process; prints its measurements as JSON."""
    from scratchllm.data import build_corpus, sources

    imports_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    manifest = build_corpus(out)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The pages the pipeline reads, as the sources module picks them.
    root = sources.find_doc_root()
    pages = [root / page.id.removeprefix("docs/") for page in sources.iter_doc_pages(root)]
    measured = {
        "seconds": seconds,
        "peak_kib": peak_kib,
        "imports_kib": imports_kib,
        "html_bytes": sum(path.stat().st_size for path in pages),
        "manifest": manifest,
    }
    print(json.dumps(measured))


def timed_build(out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(out)], capture_output=True, text=True
    )
    if proc.returncode:
        sys.exit(f"build failed:\n{proc.stderr}")
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    parser.add_argument("--repeat", type=int, default=1, help="builds to time (median)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    with tempfile.TemporaryDirectory() as tmp:
        runs = [timed_build(Path(tmp) / f"corpus{i}") for i in range(args.repeat)]
    seconds = statistics.median(run["seconds"] for run in runs)
    run = runs[0]
    manifest = run["manifest"]
    raw_mb, html_mb = manifest["raw_bytes"] / 1e6, run["html_bytes"] / 1e6
    peak_mib = max(r["peak_kib"] for r in runs) / 1024
    imports_mib = run["imports_kib"] / 1024
    stages = " → ".join(f"{s['documents']}" for s in manifest["stages"])
    removed = ", ".join(f"{name} {r['documents']}" for name, r in manifest["removed"].items())
    sources_ = manifest["sources"]
    timing = f"median of {args.repeat}" if args.repeat > 1 else "one build"

    table = [
        "| measure | value |",
        "|---|---:|",
        f"| wall time of `build_corpus` ({timing}) | {seconds:.2f} s |",
        f"| raw input (manifest `raw_bytes`: HTML + reST + docstrings + code) | {raw_mb:.1f} MB |",
        f"| throughput on raw input | {raw_mb / seconds:.2f} MB/s |",
        f"| HTML pages alone (bytes on disk) | {html_mb:.1f} MB |",
        f"| throughput on HTML alone (same wall time) | {html_mb / seconds:.2f} MB/s |",
        f"| peak memory (ru_maxrss of the build's process) | {peak_mib:.0f} MiB |",
        f"| of which the interpreter and imports (before the build) | {imports_mib:.0f} MiB |",
    ]
    lines = [
        "## Data pipeline (`bench/bench_data.py`)",
        "",
        f"Command: `.venv/bin/python bench/bench_data.py --write` on "
        f"{today()}; machine: {machine()}. Sources: python3-doc "
        f"{sources_['python-docs']['version']} ({sources_['python-docs']['path']}) and the "
        f"standard library of Python {sources_['stdlib']['python']} "
        f"({sources_['stdlib']['path']}); each build in a fresh process, into a temporary "
        f"folder.",
        "",
        *table,
        "",
        f"Documents per stage (raw → cleaned → exact dedup → filters → near dedup): {stages}; "
        f"removed: {removed}; {len(manifest['near_duplicate_clusters'])} near-duplicate "
        f"clusters.",
    ]
    record("bench_data", lines, args.write)


if __name__ == "__main__":
    main()
