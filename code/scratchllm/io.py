"""Writing files so that a crash never leaves half of one behind."""

import os
import secrets
from pathlib import Path


def atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, then rename it over
    `path`; returns what write returned.

    A rename within one folder is atomic: readers see the old file or the
    complete new one, never a half-written one, even if write raises or the
    machine stops.  The new file gets the mode open() would give it: 0666
    less the umask, usually 0644 (tempfile.mkstemp's would be 0600).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL: the name is ours alone; the kernel applies the umask to 0o666.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            result = write(f)
            f.flush()
            # On disk before the rename makes it visible.
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return result
