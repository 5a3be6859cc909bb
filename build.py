#!/usr/bin/env python3
"""Build the book: ``python3 build.py pdf`` (or ``execute``, ``clean``, ``test``).

The first run installs what is missing (TeX Live through apt-get, Python
packages into .venv) and every run then continues inside .venv.
"""

import os
import sys

from bookbuild import bootstrap

# Test files run in parallel, one file to a worker: a file's module-scoped
# fixtures (most build a PDF) are then built once.  Four workers at most:
# each imports torch, and the slowest file bounds the run anyway.
WORKERS = min(len(os.sched_getaffinity(0)), 4)


def test_args(args: list[str]) -> list[str]:
    """pytest's arguments for ``build.py test ARGS``: in parallel unless
    ARGS choose (``-n 0`` runs in this process, e.g. for ``--pdb``)."""
    if any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args):
        return args
    return ["-n", str(WORKERS), "--dist", "loadfile", *args]


if __name__ == "__main__":
    bootstrap.ensure()
    if sys.argv[1:2] == ["test"]:
        import pytest

        sys.exit(pytest.main(test_args(sys.argv[2:])))
    from bookbuild.cli import main

    sys.exit(main())
