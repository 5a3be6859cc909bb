"""Stage 2: run each chapter in a Jupyter kernel, with a trustworthy cache.

A chapter's cached notebook (``cache/<id>.ipynb``) records what its run
depended on: a key over its code cells, the interpreter, key package
versions, the seed and its declared data files; the files under the
book's ``python_path`` that it actually imported (with their hashes); and
the hashes of the artifacts it used and produced.  The cache is fresh only
while all of these still hold, so a prose edit never re-executes, and a
change to ``code/`` re-executes exactly the chapters that imported it.
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

from . import sources
from .config import Book, Chapter, producers_of
from .errors import BookError
from .files import atomic_write_text, sha256_file, sha256_json, sha256_tree
from .log import Log

CACHE_FORMAT = 1

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


class Paths:
    def __init__(self, out: Path):
        self.out = out
        self.cache = out / "cache"
        self.artifacts = out / "artifacts"
        self.work = out / "work"

    def cached(self, chapter: Chapter) -> Path:
        return self.cache / f"{chapter.id}.ipynb"


def static_key(book: Book, chapter: Chapter, nb) -> str:
    versions = {}
    for name in book.packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return sha256_json({
        "format": CACHE_FORMAT,
        "code": [c.source for c in nb.cells if c.cell_type == "code"],
        "python": sys.version,
        "versions": versions,
        "seed": book.seed,
        "setup": SETUP,
        "data": {d.name: sha256_tree(d) for d in chapter.data},
    })


def _relative(book: Book, path: Path) -> str:
    return os.path.relpath(path, book.root)


def staleness(book: Book, chapter: Chapter, key: str, paths: Paths) -> tuple[str, nbformat.NotebookNode | None]:
    """Why ``chapter`` must run again ("" when its cache is fresh) and the cached notebook."""
    cached = paths.cached(chapter)
    if not cached.exists():
        return "never executed", None
    try:
        nb = nbformat.read(cached, as_version=4)
        record = nb.metadata["book_cache"]
    except Exception:
        return "cache unreadable", None
    if record.get("key") != key:
        return "code cells, data or package versions changed", None
    for rel, digest in record["imports"].items():
        path = book.root / rel
        if not path.exists() or sha256_file(path) != digest:
            return f"{rel} changed", None
    for kind in ("uses", "produces"):
        for name, digest in record[kind].items():
            if sha256_tree(paths.artifacts / name) != digest:
                return f"artifact {name!r} changed", None
    return "", nb


def _tracked_imports(book: Book, files: list[str], paths: Paths) -> dict[str, str]:
    """Hashes of the imported files that belong to the project (not to
    installed packages or the build directory)."""
    roots = [p.resolve() for p in book.python_path]
    out = paths.out.resolve()
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
            tracked[_relative(book, path)] = sha256_file(path)
    return dict(sorted(tracked.items()))


def _kernel_env(book: Book, paths: Paths) -> dict[str, str]:
    env = dict(os.environ)
    python_path = [str(p) for p in book.python_path]
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env.update(
        PYTHONPATH=os.pathsep.join(python_path),
        PYTHONHASHSEED="0",
        BOOK_ARTIFACTS=str(paths.artifacts.resolve()),
        BOOK_DIR=str(book.root),  # where a chapter finds the data files it declares
        TQDM_DISABLE="1",  # progress bars belong in terminals, not in the book
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        # matplotlib dates its PDFs by this: a figure file is the same bytes
        # whenever its chapter runs (the cache would make any date a lie anyway)
        SOURCE_DATE_EPOCH="0",
    )
    return env


def _code_cell(source: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["book"] = {"hidden": True}
    return cell


def run(book: Book, chapter: Chapter, nb, key: str, paths: Paths, log: Log) -> nbformat.NotebookNode:
    """Execute ``nb`` top to bottom; return it with outputs and its cache record."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    workdir = paths.work / chapter.id
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    paths.artifacts.mkdir(parents=True, exist_ok=True)

    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    torch_seed = TORCH_SEED.format(seed=book.seed) if "torch" in code else ""
    run_nb = copy.deepcopy(nb)
    run_nb.cells = (
        [_code_cell(SETUP.format(seed=book.seed, torch_seed=torch_seed))]
        + [c for c in run_nb.cells if c.cell_type == "code"]
        + [_code_cell(IMPORTS)]
    )
    run_nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    total = len(run_nb.cells) - 2
    state = {"cell": None}

    def on_cell_start(cell, cell_index):
        state["cell"] = cell
        if not cell.metadata["book"].get("hidden"):
            log.progress(f"{chapter.id}: cell {cell_index}/{total}")

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
            client.execute(env=_kernel_env(book, paths), stderr=stderr)
    except CellExecutionError as exc:
        raise _cell_error(chapter, state["cell"], exc.ename, exc.evalue, exc.traceback) from None
    except CellTimeoutError:
        raise BookError(f"cell timed out after {chapter.timeout} s (raise 'timeout' in book.yml)",
                        where=sources.where(chapter, state["cell"])) from None
    except DeadKernelError as exc:
        raise BookError(f"the kernel died: {exc}", where=sources.where(chapter, state["cell"]),
                        detail=kernel_log.read_text()[-3000:]) from None

    imports = json.loads("".join(o.get("text", "") for o in run_nb.cells[-1].outputs))
    executed = copy.deepcopy(nb)
    outputs = iter(run_nb.cells[1:-1])
    for cell in executed.cells:
        if cell.cell_type == "code":
            ran = next(outputs)
            cell.outputs = ran.outputs
            cell.execution_count = ran.execution_count

    produced = {}
    for name in chapter.produces:
        digest = sha256_tree(paths.artifacts / name)
        if digest is None:
            raise BookError(f"declares it produces artifact {name!r} but wrote nothing to "
                            f"{paths.artifacts / name}", where=str(chapter.path))
        produced[name] = digest
    executed.metadata["book_cache"] = {
        "key": key,
        "imports": _tracked_imports(book, imports, paths),
        "uses": {name: sha256_tree(paths.artifacts / name) for name in chapter.uses},
        "produces": produced,
    }
    return executed


def _cell_error(chapter: Chapter, cell, ename: str, evalue: str, traceback: str) -> BookError:
    """Point at the failing line of the chapter file, using IPython's
    ``Cell In[n], line k`` in the traceback."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", traceback)
    line = None
    for match in re.finditer(r"Cell In\[\d+\], line (\d+)", plain):
        line = int(match.group(1))  # the last frame inside the cell is the one to fix
    tail = "\n".join(plain.strip().splitlines()[-25:])
    return BookError(f"code cell failed with {ename}: {evalue}",
                     where=sources.where(chapter, cell, line), detail=tail)


def execute_all(book: Book, selected: list[Chapter], paths: Paths, log: Log,
                rerun: bool = False, jobs: int = 1) -> dict[str, Result]:
    """Run (or take from the cache) ``selected`` and the chapters whose
    artifacts they use; a chapter starts once its producers are done."""
    todo: list[Chapter] = []
    for ch in selected:
        for needed in producers_of(book, ch) + [ch]:
            if needed not in todo:
                todo.append(needed)
    by_artifact = {name: ch for ch in book.chapters for name in ch.produces}
    results: dict[str, Result] = {}
    lock = threading.Lock()

    def one(ch: Chapter) -> Result:
        start = time.perf_counter()
        nb = sources.read(ch)
        key = static_key(book, ch, nb)
        reason, cached = ("--rerun", None) if rerun else staleness(book, ch, key, paths)
        if cached is not None:
            log.detail(f"{ch.path.name}: cached")
            return Result(ch, cached, "cached", time.perf_counter() - start)
        log.info(f"executing {ch.path.name} ({reason})")
        executed = run(book, ch, nb, key, paths, log)
        with lock:
            atomic_write_text(paths.cached(ch), nbformat.writes(executed))
        seconds = time.perf_counter() - start
        log.info(f"executed {ch.path.name} in {seconds:.1f} s")
        return Result(ch, executed, "executed", seconds)

    pending = list(todo)
    running = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while pending or running:
            for ch in list(pending):
                deps = {by_artifact[name].id for name in ch.uses}
                if len(running) < max(1, jobs) and deps <= results.keys():
                    pending.remove(ch)
                    running[pool.submit(one, ch)] = ch
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                ch = running.pop(future)
                try:
                    results[ch.id] = future.result()
                except BaseException:
                    for other in running:
                        other.cancel()
                    raise
    return results
