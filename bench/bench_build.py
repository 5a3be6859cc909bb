"""Build-time benchmark of the real book: clean build, no-op rebuild, a
prose edit, an ``{eval}`` edit, a code-cell edit and an edit under code/.

Run by hand (not in CI):  .venv/bin/python bench/bench_build.py [--write]

It copies book/, code/ and figures/ to a temporary folder so the edits never
touch the working tree, times each build as a whole command (what an author
waits for), and with --write replaces the section in bench/RESULTS.md.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from results import machine, record, today

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the builder's own LuaLaTeX command, for the yardstick pass
from bookbuild.typeset import LUALATEX, pass_environment  # noqa: E402


def timed_build(book: Path, out: Path, *extra: str) -> tuple[float, str]:
    env = dict(os.environ, BOOK_BOOTSTRAPPED="1")
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "build.py"),
            "pdf",
            "--book",
            str(book),
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"build failed:\n{proc.stderr}")
    return seconds, proc.stderr


def summary_of(stderr: str) -> str:
    found = re.search(r"chapters: .*", stderr)
    return found.group(0) if found else ""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        sys.exit(f"{old!r} not found in {path}")
    path.write_text(text.replace(old, new, 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    parser.add_argument("--repeat", type=int, default=3, help="no-op rebuilds to time")
    parser.add_argument(
        "--from-build",
        type=Path,
        metavar="DIR",
        help="start from a copy of this build folder (a build of the same "
        "sources) instead of timing a clean build",
    )
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in ("book", "code", "figures", "bench"):
            shutil.copytree(ROOT / name, tmp / name)
        book, out = tmp / "book", tmp / "build"
        chapter = book / "attention.md"  # the edits below touch this chapter

        if args.from_build:
            shutil.copytree(args.from_build, out, symlinks=True)
            (out / "build.lock").unlink(missing_ok=True)
            # The copy's paths differ (LaTeX's database, render records): a
            # first build settles them, executing nothing.
            seconds, log = timed_build(book, out)
            rows.append(
                ("first build in a copy of a full build (paths moved)", seconds, summary_of(log))
            )
        else:
            seconds, log = timed_build(book, out)
            rows.append(("clean build (execute + render + typeset)", seconds, summary_of(log)))
        noop = [timed_build(book, out) for _ in range(args.repeat)]
        rows.append(
            (
                f"no-op rebuild (median of {args.repeat})",
                statistics.median(s for s, _ in noop),
                summary_of(noop[-1][1]),
            )
        )

        text = chapter.read_text()
        # A sentence after the cell that sets d_k, which the {eval} edit reads.
        lines = text.splitlines()
        cell_end = lines.index("```", lines.index("d_k = 16"))
        paragraph = next(line for line in lines[cell_end:] if len(line) > 40 and line[0].isalpha())
        edit(chapter, paragraph, paragraph + " (An edited sentence.)")
        seconds, log = timed_build(book, out)
        rows.append(("one prose edit", seconds, summary_of(log)))

        # A new inline expression that the chapter's snapshot answers: no
        # kernel runs, only render and LaTeX.
        edit(chapter, paragraph, paragraph + " The head width is {eval}`d_k * 1`.")
        seconds, log = timed_build(book, out)
        rows.append(("one new {eval} expression in prose", seconds, summary_of(log)))

        first_code = text.index("```{code-cell}")
        body = text.index("\n", text.index("\n", first_code) + 1)  # after the fence line
        chapter.write_text(
            chapter.read_text().replace(
                text[first_code:body], text[first_code:body] + "\n# an edited code cell", 1
            )
        )
        seconds, log = timed_build(book, out)
        rows.append(("one code-cell edit", seconds, summary_of(log)))

        # A file that one chapter imports (editing the model would rerun
        # every chapter from the attention chapter on, training included).
        helper = tmp / "figures" / "attention_bench.py"
        helper.write_text(helper.read_text() + "\n# an edit\n")
        seconds, log = timed_build(book, out)
        rows.append(
            (
                "one edit of a file one chapter imports (figures/attention_bench.py)",
                seconds,
                summary_of(log),
            )
        )

        pages = re.search(r"\((\d+) pages", log).group(1)

        # The yardstick for the prose edit: one LuaLaTeX pass over the same
        # book, with the .aux, lists and bibliography a rebuild's pass reads.
        for made in (out / "latex").glob("book.*"):
            if made.suffix in (".aux", ".toc", ".lof", ".lol", ".lot", ".bbl"):
                shutil.copy(made, tmp / made.name)
        start = time.perf_counter()
        subprocess.run(
            [*LUALATEX, f"-output-directory={tmp}", "book.tex"],
            cwd=out / "tex",
            capture_output=True,
            check=True,
            env=dict(os.environ, **pass_environment(str(tmp))),
        )
        rows.append(
            (
                "(reference) one LuaLaTeX pass, no latexmk",
                time.perf_counter() - start,
                "lualatex book.tex",
            )
        )

    table = ["| build | wall time | what ran |", "|---|---:|---|"]
    table += [f"| {name} | {seconds:.2f} s | {what} |" for name, seconds, what in rows]
    record(
        "bench_build",
        [
            "## Book build times (`bench/bench_build.py`)",
            "",
            f"Command: `.venv/bin/python bench/bench_build.py {' '.join(sys.argv[1:])}` on "
            f"{today()}; machine: {machine()}, torch {metadata.version('torch')}, "
            f"nbconvert {metadata.version('nbconvert')}, "
            f"{subprocess.run(['lualatex', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}. "
            f"The real book ({pages} pages) in a temporary copy.",
            "",
            *table,
        ],
        args.write,
    )


if __name__ == "__main__":
    main()
