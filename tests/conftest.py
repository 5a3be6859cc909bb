import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The library and the figure code import as the book's kernels see them.
for path in (ROOT / "code", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
