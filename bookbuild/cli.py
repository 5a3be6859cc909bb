"""``python build.py pdf | execute | clean``: the pipeline's command line."""

import argparse
import fcntl
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from . import config, execute, files, prose, record, render, typeset
from .context import Context, Target, timed
from .errors import BookError
from .layout import Layout
from .log import PERIOD, Log

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--book",
        type=Path,
        default=ROOT / "book",
        help="folder with book.yml and the chapters (default: book/)",
    )
    common.add_argument(
        "--out",
        type=Path,
        default=None,
        help="build folder (default: build/ beside the book folder)",
    )
    chatter = common.add_mutually_exclusive_group()
    chatter.add_argument("-q", "--quiet", action="store_true", help="only errors and the summary")
    chatter.add_argument("-v", "--verbose", action="store_true", help="every step")
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument(
        "--only",
        metavar="CHAPTER",
        help="just this chapter (and the chapters whose artifacts it uses)",
    )
    run.add_argument("--rerun", action="store_true", help="execute even when cached")
    run.add_argument("-j", "--jobs", type=int, default=1, help="chapters run in parallel")
    run.add_argument(
        "--strict",
        action="store_true",
        help="typed numbers in prose are errors, not warnings (also when CI=true)",
    )
    sub.add_parser("pdf", parents=[common, run], help="execute, render and typeset the book")
    sub.add_parser("execute", parents=[common, run], help="execute the chapters (cached)")
    sub.add_parser("clean", parents=[common], help="remove the build folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # BOOK_PROGRESS_SECONDS: how often a running chapter reports where it is, outside a terminal
    log = Log(
        0 if args.quiet else 2 if args.verbose else 1,
        period=float(os.environ.get("BOOK_PROGRESS_SECONDS", PERIOD)),
    )
    try:
        layout = Layout((args.out or args.book.resolve().parent / "build").resolve())
        with build_lock(layout):
            if args.command == "clean":
                shutil.rmtree(layout.out, ignore_errors=True)
                log.info(f"removed {layout.out}")
                return 0
            memo = files.HashMemo(layout.hash_memo)
            try:
                return build(args, layout, memo, log)
            finally:
                memo.save()
    except BookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the last good PDF and the cache are untouched", file=sys.stderr)
        return 130


@contextmanager
def build_lock(layout: Layout):
    """Hold ``build/build.lock`` for the whole command.  A second build in the
    same folder (an author's watcher and a manual run) waits for the first,
    and says so once, instead of racing it through the caches and LaTeX."""
    out, lock = layout.out, layout.lock
    waiting = False
    while True:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not waiting:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                print(
                    f"waiting for another build in {out} (pid {holder})",
                    file=sys.stderr,
                    flush=True,
                )
                waiting = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:  # a `clean` that held the lock may have removed the folder, lock file and all
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)  # no stale pid for the next waiter to name
        os.close(fd)  # releases the lock


def build(args, layout: Layout, memo: files.HashMemo, log: Log) -> int:
    """Check, execute, render and typeset: each stage hands its result to the next."""
    times: dict[str, float] = {}
    with timed(times, "execute"):
        book = config.load(args.book, layout.checked_config)
        ctx = Context(
            book,
            layout,
            memo,
            log,
            Target.of(book, layout, args.only),
            templates=ROOT / "templates",
            rerun=args.rerun,
            jobs=args.jobs,
            strict=args.strict or os.environ.get("CI") == "true",
        )
        check_prose(ctx)
        executed = execute.stage(ctx)
    summary = [executed.summary()]
    if args.command != "execute":
        with timed(times, "render"):
            rendered = render.stage(ctx, executed)
        summary.append(render.summary(rendered))
        with timed(times, "typeset"):
            result = typeset.stage(ctx, rendered)
        summary.append(f"pdf: {result.pdf} ({result.pages} pages, {result.status})")
        summary.append("warnings: " + result.warnings())
    # Last, once everything succeeded: a failed build keeps the last good record.
    record.write(layout.out, record.of(book, ctx.target, executed, times))
    return _finish(summary, times)


def check_prose(ctx: Context) -> None:
    """Warn about numbers typed into prose; with ``--strict``, fail on them."""
    findings = prose.check(ctx.target.chapters, ctx.book.prose_allow, ctx.layout.prose_memo)
    if findings and ctx.strict:
        raise BookError(
            f"{len(findings)} typed number(s) in prose (--strict)",
            detail="\n".join(map(str, findings)),
        )
    for finding in findings:
        ctx.log.warn(str(finding))


def _finish(summary: list[str], times: dict[str, float]) -> int:
    summary.append(
        "time: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
        + f" (total {sum(times.values()):.1f} s)"
    )
    print("\n".join(summary), file=sys.stderr)
    return 0
