"""Stage 3: run each chapter in a Jupyter kernel, with a trustworthy cache.

A chapter's cached notebook (``cache/<id>.ipynb``) records what its run
depended on: a key over its code cells, the interpreter, key package
versions, the seed and its declared data files; the files under the
book's ``python_path`` that it actually imported (with their hashes); and
the hashes of the artifacts it used and produced.  The cache is fresh only
while all of these still hold, so a prose edit never re-executes, and a
change to ``code/`` re-executes exactly the chapters that imported it.

After each code cell a hidden cell evaluates the ``{eval}`` expressions of
the prose that follows and records a snapshot of the chapter's plain
values (``inline.py``); the record holds both, so a changed expression is
answered from it and only one that needs more re-executes the chapter.
"""

import copy
import json
import os
import re
import shutil
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import nbformat

from . import inline, sources
from .config import Book, Chapter, schedule
from .context import Context
from .errors import BookError
from .files import HashMemo, atomic_write_text, sha256_json
from .layout import Layout
from .log import Log
from .render import plain
from .tables import MIME as TABLE_MIME

CACHE_FORMAT = 2

# Runs before the chapter's first cell.  Figures are captured as vector PDF
# (and never as PNG) so the book prints them sharp at any zoom.
SETUP = """\
import random as _random
_random.seed({seed})
try:
    import numpy as _np
    _np.random.seed({seed})
except ImportError:
    pass
{torch_seed}
try:
    get_ipython().run_line_magic("config", "InlineBackend.figure_formats = ['pdf']")
except Exception:
    pass
"""
TORCH_SEED = "import torch as _torch\n_torch.manual_seed({seed})"

# Also runs first: the {eval} recorder, and a pandas DataFrame is shown as
# table data (its rows), which the render stage typesets, so the table's
# style can change without re-executing anything.
HELPERS = (
    inline.KERNEL
    + """
def _book_frame(frame):
    import json
    split = json.loads(frame.to_json(orient="split", default_handler=str))
    header, rows = [str(c) for c in split["columns"]], split["data"]
    if type(frame.index).__name__ != "RangeIndex":
        header = [str(frame.index.name or "")] + header
        rows = [[index] + row for index, row in zip(split["index"], rows)]
    return {"TABLE_MIME": {"header": header, "rows": rows}}

for _module in ("pandas", "pandas.core.frame"):  # where pandas 3 and pandas 2 say it lives
    get_ipython().display_formatter.mimebundle_formatter.for_type_by_name(
        _module, "DataFrame", _book_frame)
""".replace("TABLE_MIME", TABLE_MIME)
)

# Runs after the last cell: which modules did the chapter import?
IMPORTS = """\
import json as _json, sys as _sys
print(_json.dumps(sorted({getattr(m, "__file__", None) or "" for m in list(_sys.modules.values())})))
"""


@dataclass
class Result:
    chapter: Chapter
    notebook: nbformat.NotebookNode  # with outputs
    status: str  # "executed" or "cached"
    seconds: float


@dataclass
class Executed:
    results: dict[str, Result]  # by chapter id

    def summary(self) -> str:
        ran = sum(r.status == "executed" for r in self.results.values())
        return f"chapters: {ran} executed, {len(self.results) - ran} cached"


def stage(ctx: Context) -> Executed:
    """The target's chapters and those whose artifacts they use, executed or cached."""
    return Executed(
        execute_all(
            ctx.book,
            ctx.target.chapters,
            ctx.layout,
            ctx.memo,
            ctx.log,
            rerun=ctx.rerun,
            jobs=ctx.jobs,
        )
    )


def package_versions(book: Book) -> dict[str, str | None]:
    versions = {}
    for name in book.packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def static_key(
    book: Book, chapter: Chapter, nb, memo: HashMemo, versions: dict[str, str | None] | None = None
) -> str:
    """What a chapter's run depends on besides its imports and artifacts;
    ``versions`` (from ``package_versions``) saves looking them up per chapter."""
    versions = package_versions(book) if versions is None else versions
    return sha256_json(
        {
            "format": CACHE_FORMAT,
            "code": [c.source for c in nb.cells if c.cell_type == "code"],
            "python": sys.version,
            "versions": versions,
            "seed": book.seed,
            "setup": [SETUP, HELPERS],
            "data": {d.name: memo.tree(d) for d in chapter.data},
        }
    )


def _relative(book: Book, path: Path) -> str:
    return os.path.relpath(path, book.root)


def staleness(
    book: Book, chapter: Chapter, nb, key: str, layout: Layout, memo: HashMemo
) -> tuple[str, nbformat.NotebookNode | None]:
    """Why ``chapter`` (read as ``nb``) must run again ("" when its cache is
    fresh) and the cached notebook, with the values of its ``{eval}`` roles."""
    path = layout.cached(chapter)
    if not path.exists():
        return "never executed", None
    try:
        # Written by this stage: read (lines joined, as nbformat.read does)
        # without the schema validation, which costs more than the rest of a
        # no-op build's check.
        cached = nbformat.v4.reads(path.read_text())
        record = cached.metadata["book_cache"]
    except Exception:
        return "cache unreadable", None
    if record.get("key") != key:
        return "code cells, data or package versions changed", None
    if rel := memo.changed(record["imports"], book.root):
        return f"{rel} changed", None
    for kind in ("uses", "produces"):
        if name := memo.changed(record[kind], layout.artifacts):
            return f"artifact {name!r} changed", None
    try:
        attach_evals(chapter, nb, cached)
    except inline.NeedsRun as exc:
        return str(exc), None
    return "", cached


def attach_evals(chapter: Chapter, nb, executed) -> None:
    """Put the text of each ``{eval}`` of ``nb`` (the chapter as it reads
    now) into ``executed``'s metadata, where the render stage finds it."""
    executed.metadata["book_eval"] = inline.resolve(chapter, nb, executed.metadata["book_cache"])


def _tracked_imports(
    book: Book, files: list[str], layout: Layout, memo: HashMemo
) -> dict[str, str]:
    """Hashes of the imported files that belong to the project (not to
    installed packages or the build directory)."""
    roots = [p.resolve() for p in book.python_path]
    out = layout.out.resolve()
    tracked = {}
    for name in files:
        if not name.endswith(".py"):
            continue
        path = Path(name).resolve()
        if "site-packages" in path.parts or path.is_relative_to(out):
            continue
        if path.is_relative_to(Path(sys.prefix).resolve()):
            continue
        if any(path.is_relative_to(root) for root in roots) and path.exists():
            tracked[_relative(book, path)] = memo.file(path)
    return dict(sorted(tracked.items()))


def _kernel_env(book: Book, layout: Layout) -> dict[str, str]:
    env = dict(os.environ)
    python_path = [str(p) for p in book.python_path]
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env.update(
        PYTHONPATH=os.pathsep.join(python_path),
        PYTHONHASHSEED="0",
        BOOK_ARTIFACTS=str(layout.artifacts.resolve()),
        BOOK_DIR=str(book.root),  # where a chapter finds the data files it declares
        TQDM_DISABLE="1",  # progress bars belong in terminals, not in the book
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        # matplotlib dates its PDFs by this: a figure file is the same bytes
        # whenever its chapter runs (the cache would make any date a lie anyway)
        SOURCE_DATE_EPOCH="0",
    )
    return env


def _code_cell(source: str, **book) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["book"] = {"hidden": True, **book}
    return cell


def _with_records(nb, setup: str) -> list:
    """The cells to run: setup, then each code cell followed by a hidden
    cell that records the ``{eval}`` values and snapshot at its position."""
    exprs = inline.expressions(nb)

    def record(ran: int):
        return _code_cell(inline.kernel_cell(exprs.get(ran, [])), record=ran)

    cells = [_code_cell(setup), _code_cell(HELPERS), record(0)]
    for ran, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), 1):
        cell.metadata["book"]["ordinal"] = ran  # its number among the chapter's code cells
        cells += [cell, record(ran)]
    return cells + [_code_cell(IMPORTS)]


def _records(run_nb) -> dict:
    """What the hidden record cells printed, as the cache record keeps it."""
    evals, snapshots = {}, []
    for cell in run_nb.cells:
        if "record" in cell.metadata["book"]:
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
            printed = json.loads(text.strip().splitlines()[-1])
            if printed["evals"]:
                evals[str(cell.metadata["book"]["record"])] = printed["evals"]
            snapshots.append(printed["snapshot"])
    return {"evals": evals, "snapshots": snapshots}


def run(
    book: Book, chapter: Chapter, nb, key: str, layout: Layout, memo: HashMemo, log: Log
) -> nbformat.NotebookNode:
    """Execute ``nb`` top to bottom; return it with outputs and its cache record."""
    run_nb = _runnable(book, nb)
    _execute(book, chapter, run_nb, layout, log)
    return _record(book, chapter, nb, run_nb, key, layout, memo)


def _runnable(book: Book, nb) -> nbformat.NotebookNode:
    """``nb`` as the kernel runs it: seeded, with the hidden record cells."""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    torch_seed = TORCH_SEED.format(seed=book.seed) if "torch" in code else ""
    run_nb = copy.deepcopy(nb)
    run_nb.cells = _with_records(run_nb, SETUP.format(seed=book.seed, torch_seed=torch_seed))
    run_nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return run_nb


def _execute(book: Book, chapter: Chapter, run_nb, layout: Layout, log: Log) -> None:
    """Run ``run_nb`` in a fresh kernel in the chapter's own empty folder; a
    failing cell, a timeout or a dead kernel is a BookError at the cell."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    workdir = layout.work(chapter)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    layout.artifacts.mkdir(parents=True, exist_ok=True)
    total = sum(not c.metadata["book"].get("hidden") for c in run_nb.cells)
    state = {"cell": None}

    def on_cell_start(cell, cell_index):
        state["cell"] = cell
        if not cell.metadata["book"].get("hidden"):
            log.cell(
                chapter.path.name,
                cell.metadata["book"]["ordinal"],
                total,
                sources.where(chapter, cell),
            )

    client = NotebookClient(
        run_nb,
        kernel_name="python3",
        timeout=chapter.timeout,
        resources={"metadata": {"path": str(workdir)}},
        on_cell_start=on_cell_start,
    )
    kernel_log = workdir / "kernel.log"
    try:
        with open(kernel_log, "w") as stderr:  # the kernel's own chatter stays out of the terminal
            client.execute(env=_kernel_env(book, layout), stderr=stderr)
    except CellExecutionError as exc:
        raise _cell_error(
            chapter, run_nb.cells, state["cell"], exc.ename, exc.evalue, exc.traceback
        ) from None
    except CellTimeoutError:
        raise BookError(
            f"cell timed out after {chapter.timeout} s (raise 'timeout' in book.yml)",
            where=sources.where(chapter, state["cell"]),
        ) from None
    except DeadKernelError as exc:
        raise BookError(
            f"the kernel died: {exc}",
            where=sources.where(chapter, state["cell"]),
            detail=kernel_log.read_text()[-3000:],
        ) from None


def _record(
    book: Book, chapter: Chapter, nb, run_nb, key: str, layout: Layout, memo: HashMemo
) -> nbformat.NotebookNode:
    """``nb`` with the outputs of ``run_nb``'s visible cells and the cache
    record of the run (what it imported, used and produced)."""
    imports = json.loads("".join(o.get("text", "") for o in run_nb.cells[-1].outputs))
    executed = copy.deepcopy(nb)
    outputs = iter(c for c in run_nb.cells if not c.metadata["book"].get("hidden"))
    for cell in executed.cells:
        if cell.cell_type == "code":
            ran = next(outputs)
            cell.outputs = ran.outputs
            cell.execution_count = ran.execution_count

    produced = {}
    for name in chapter.produces:
        digest = memo.tree(layout.artifacts / name)
        if digest is None:
            raise BookError(
                f"declares it produces artifact {name!r} but wrote nothing to "
                f"{layout.artifacts / name}",
                where=str(chapter.path),
            )
        produced[name] = digest
    executed.metadata["book_cache"] = {
        "key": key,
        "imports": _tracked_imports(book, imports, layout, memo),
        "uses": {name: memo.tree(layout.artifacts / name) for name in chapter.uses},
        "produces": produced,
        **_records(run_nb),
    }
    return executed


_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")


def _cell_error(
    chapter: Chapter, cells: list, cell, ename: str, evalue: str, traceback: str
) -> BookError:
    """Point at the chapter file's lines through IPython's ``Cell In[n], line k``
    frames.  ``n`` is a cell's execution count: an error raised in a function
    that an earlier cell defined is reported at the raising line in that
    cell, with the line of the failing cell that called it."""
    text = plain(traceback)
    by_count = {c.execution_count: c for c in cells if c.get("execution_count")}
    frames = [(by_count[int(n)], int(k)) for n, k in _FRAME.findall(text) if int(n) in by_count]
    calls = [k for c, k in frames if c is cell]
    message = f"code cell failed with {ename}: {evalue}"
    where = call = sources.where(chapter, cell, calls[-1] if calls else None)
    if frames and frames[-1][0] is not cell:  # the last frame in the book is the one to fix
        where = sources.where(chapter, *frames[-1])
        message += f" (in a function called at {call})"
    tail = "\n".join(text.strip().splitlines()[-25:])
    return BookError(message, where=where, detail=tail)


def last_run_seconds(layout: Layout, chapter: Chapter) -> float | None:
    """How long the chapter's cached run took: the estimate progress shows."""
    try:
        return nbformat.read(layout.cached(chapter), as_version=4).metadata["book_cache"]["seconds"]
    except Exception:  # never ran, a cache from before the record had it, or unreadable
        return None


def execute_all(
    book: Book,
    selected: list[Chapter],
    layout: Layout,
    memo: HashMemo,
    log: Log,
    rerun: bool = False,
    jobs: int = 1,
) -> dict[str, Result]:
    """Run (or take from the cache) ``selected`` and the chapters whose
    artifacts they use; a chapter starts once its producers are done."""
    sorter = schedule(book, selected)
    versions = package_versions(book)
    results: dict[str, Result] = {}
    lock = threading.Lock()

    def one(ch: Chapter) -> Result:
        start = time.perf_counter()
        nb = sources.read(ch, layout.source(ch))
        key = static_key(book, ch, nb, memo, versions)
        reason, cached = ("--rerun", None) if rerun else staleness(book, ch, nb, key, layout, memo)
        if cached is not None:
            log.detail(f"{ch.path.name}: cached")
            return Result(ch, cached, "cached", time.perf_counter() - start)
        log.info(f"executing {ch.path.name} ({reason})")
        with log.running(ch.path.name, last_run_seconds(layout, ch)):
            executed = run(book, ch, nb, key, layout, memo, log)
        executed.metadata["book_cache"]["seconds"] = round(time.perf_counter() - start, 1)
        with lock:
            atomic_write_text(layout.cached(ch), nbformat.writes(executed))
        attach_evals(ch, nb, executed)  # after caching: a failing {eval} needs no new run
        seconds = time.perf_counter() - start
        log.info(f"executed {ch.path.name} in {seconds:.1f} s")
        return Result(ch, executed, "executed", seconds)

    # At most `jobs` chapters are submitted, so after a failure none starts
    # (a pool's queue would start the next one before the failure is seen).
    jobs = max(1, jobs)
    ready: list[Chapter] = []
    running = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while sorter.is_active():
            ready = sorted(
                [*ready, *map(book.chapter, sorter.get_ready())], key=book.chapters.index
            )
            while ready and len(running) < jobs:
                ch = ready.pop(0)
                running[pool.submit(one, ch)] = ch
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                ch = running.pop(future)
                results[ch.id] = future.result()  # raises; the pool lets running ones end
                sorter.done(ch.id)
    return results
