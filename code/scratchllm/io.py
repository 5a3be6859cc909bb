"""Writing files so that a crash never leaves half of one behind."""

import os
import tempfile
from pathlib import Path


def _umask():
    # Reading the umask means setting it; set it straight back.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, then rename it over
    `path`; returns what write returned.

    A rename within one folder is atomic: readers see the old file or the
    complete new one, never a half-written one, even if write raises or the
    machine stops.  The file gets the mode a plain open() would give it
    (0666 less the umask: usually 0644), not mkstemp's private 0600.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            result = write(f)
            f.flush()
            # On disk before the rename makes it visible.
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return result
