"""Where a GPU script's numbers came from, kept in the JSON file it writes.

    report = Report("OUT/run.json", "what the run measures", device, seed)
    report.data["results"] = ...
    report.write()  # after every part: a run cut short keeps what it measured

The provenance block holds the command line, the date, the device (name,
driver), the versions of Python, PyTorch, CUDA, cuDNN, Triton and NumPy,
the git commit, the seed and the wall time so far.  Every script under
scripts/ that runs on a GPU writes its results through Report.
"""

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from scratchllm.io import atomic_write

ROOT = Path(__file__).resolve().parent.parent


def command(argv=None):
    """The command line as typed from the repository's root."""
    argv = sys.argv if argv is None else argv
    script = os.path.relpath(Path(argv[0]).resolve(), ROOT)
    return shlex.join(["python3", script, *argv[1:]])


def _run(*args):
    """A command's stripped output, or None if it cannot run or fails."""
    try:
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(given=None):
    """(commit, whether tracked files differ from it): ``given`` when the
    run's copy of the code has no git history, so nothing is known of it."""
    if given:
        return given, None
    commit = _run("git", "rev-parse", "HEAD")
    if not commit:
        return None, None
    return commit, bool(_run("git", "status", "--porcelain", "--untracked-files=no"))


def device_info(device):
    """The device's name and size; on CUDA also its driver version."""
    info = {"type": device.type}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        query = ("nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader")
        driver = _run(*query)
        info.update(
            name=torch.cuda.get_device_name(device),
            capability=f"{props.major}.{props.minor}",
            multiprocessors=props.multi_processor_count,
            memory_gib=round(props.total_memory / 2**30, 1),
            driver=driver.splitlines()[0] if driver else None,
        )
    else:
        info.update(name=platform.processor() or platform.machine(), cpus=os.cpu_count())
    return info


def package_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def provenance(device, seed, git_commit=None, argv=None):
    """The provenance block, taken at the start of a run (see git_state)."""
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    commit, dirty = git_state(git_commit)
    return dict(
        command=command(argv),
        device=device_info(device),
        date_utc=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        git_commit=commit,
        git_dirty=dirty,
        git_note="HEAD of the checkout the run was made from; git_dirty: whether its tracked "
        "files differed from it (null: not known)",
        python=platform.python_version(),
        platform=platform.platform(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        cudnn=cudnn,
        triton=package_version("triton"),
        numpy=np.__version__,
        seed=seed,
    )


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` whole or not at all (a reader, or a
    crash, never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (json.dumps(data, indent=1) + "\n").encode()
    atomic_write(path, lambda f: f.write(text))


class Report:
    """A GPU script's JSON document: what it measures, its provenance, and
    whatever parts the script adds to ``data``, written whole by write()."""

    def __init__(self, path, what, device, seed, git_commit=None, **extra):
        self.path = Path(path)
        self.start = time.perf_counter()
        self.data = dict(what=what, provenance=provenance(device, seed, git_commit) | extra)

    def write(self):
        wall = time.perf_counter() - self.start
        self.data["provenance"]["wall_time_s"] = round(wall, 1)
        write_json(self.path, self.data)
