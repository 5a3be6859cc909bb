"""``python build.py pdf | execute | clean``: the pipeline's command line."""

import argparse
import fcntl
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from . import config, files, prose, render, sources, typeset
from .errors import BookError
from .execute import execute_all
from .layout import Layout
from .log import PERIOD, Log

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--book", type=Path, default=ROOT / "book",
                        help="folder with book.yml and the chapters (default: book/)")
    common.add_argument("--out", type=Path, default=None,
                        help="build folder (default: build/ beside the book folder)")
    chatter = common.add_mutually_exclusive_group()
    chatter.add_argument("-q", "--quiet", action="store_true", help="only errors and the summary")
    chatter.add_argument("-v", "--verbose", action="store_true", help="every step")
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--only", metavar="CHAPTER",
                     help="just this chapter (and the chapters whose artifacts it uses)")
    run.add_argument("--rerun", action="store_true", help="execute even when cached")
    run.add_argument("-j", "--jobs", type=int, default=1, help="chapters run in parallel")
    run.add_argument("--strict", action="store_true",
                     help="typed numbers in prose are errors, not warnings (also when CI=true)")
    sub.add_parser("pdf", parents=[common, run], help="execute, render and typeset the book")
    sub.add_parser("execute", parents=[common, run], help="execute the chapters (cached)")
    sub.add_parser("clean", parents=[common], help="remove the build folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # BOOK_PROGRESS_SECONDS: how often a running chapter reports where it is, outside a terminal
    log = Log(0 if args.quiet else 2 if args.verbose else 1,
              period=float(os.environ.get("BOOK_PROGRESS_SECONDS", PERIOD)))
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
                print(f"waiting for another build in {out} (pid {holder})", file=sys.stderr,
                      flush=True)
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
    times: dict[str, float] = {}
    clock = time.perf_counter()
    book = config.load(args.book)
    selected = [book.chapter(args.only)] if args.only else book.chapters
    check_prose(book, selected, layout, log, args.strict or os.environ.get("CI") == "true")

    results = execute_all(book, selected, layout, memo, log, rerun=args.rerun, jobs=args.jobs)
    times["execute"] = time.perf_counter() - clock
    executed = [r for r in results.values() if r.status == "executed"]
    summary = [f"chapters: {len(executed)} executed, {len(results) - len(executed)} cached"]
    if args.command == "execute":
        return _finish(log, summary, times)

    clock = time.perf_counter()
    templates = ROOT / "templates"

    def one(ch):
        return render.render(book, ch, sources.read(ch), results[ch.id].notebook, layout,
                             memo, templates)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rendered = list(pool.map(one, selected))
    for warning in (w for r in rendered for w in r.warnings):
        log.warn(warning)
    changed = sum(r.status == "rendered" for r in rendered)
    summary.append(f"rendered: {changed} chapter(s), {len(rendered) - changed} unchanged")
    times["render"] = time.perf_counter() - clock

    clock = time.perf_counter()
    only = bool(args.only)
    elsewhere = typeset.labels_elsewhere(book, rendered, layout) if only else set()
    typeset.check_keys(book, rendered, elsewhere)
    name = f"only-{selected[0].id}" if only else "book"
    main = typeset.write_main(book, rendered, layout, templates, name, only)
    pdf = layout.out / (f"{selected[0].id}.pdf" if only else "book.pdf")
    result = typeset.typeset(book, rendered, main, pdf, layout, memo, only, log)
    times["typeset"] = time.perf_counter() - clock
    summary.append(f"pdf: {result.pdf} ({result.pages} pages, {result.status})")
    summary.append("warnings: " + result.warnings())
    return _finish(log, summary, times)


def check_prose(book, chapters, layout: Layout, log: Log, strict: bool) -> None:
    """Warn about numbers typed into prose; with ``strict``, fail on them."""
    findings = prose.check(chapters, book.prose_allow, layout.prose_memo)
    if findings and strict:
        raise BookError(f"{len(findings)} typed number(s) in prose (--strict)",
                        detail="\n".join(map(str, findings)))
    for finding in findings:
        log.warn(str(finding))


def _finish(log: Log, summary: list[str], times: dict[str, float]) -> int:
    summary.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
                   + f" (total {sum(times.values()):.1f} s)")
    if log.level >= 0:
        print("\n".join(summary), file=sys.stderr)
    return 0
