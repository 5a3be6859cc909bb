#!/usr/bin/env python3
"""Build the book: ``python3 build.py pdf`` (or ``execute``, ``clean``, ``test``).

The first run installs what is missing (TeX Live through apt-get, Python
packages into .venv) and every run then continues inside .venv.
"""

import sys

from bookbuild import bootstrap

if __name__ == "__main__":
    bootstrap.ensure()
    if sys.argv[1:2] == ["test"]:
        import pytest

        sys.exit(pytest.main(sys.argv[2:]))
    from bookbuild.cli import main

    sys.exit(main())
