"""Content hashing and atomic writes, shared by every cached stage."""

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode())


def sha256_json(value) -> str:
    return sha256_text(json.dumps(value, sort_keys=True, ensure_ascii=False))


# path -> [size, mtime_ns, sha256]: a file whose size and mtime are unchanged
# is not read again, so checking large data folders costs a stat per file.
_memo: dict[str, list] = {}
_memo_dirty = False


def load_hash_memo(path: Path) -> None:
    global _memo
    try:
        _memo = json.loads(path.read_text())
    except (OSError, ValueError):
        _memo = {}


def save_hash_memo(path: Path) -> None:
    if _memo_dirty:
        atomic_write_text(path, json.dumps(_memo))


def sha256_file(path: Path) -> str:
    global _memo_dirty
    st = path.stat()
    key = str(path.resolve())
    hit = _memo.get(key)
    if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    # A file written in the last seconds may change again within the same
    # mtime tick (git's "racy" case): hash it, but do not trust its stat yet.
    if time.time() - st.st_mtime > 2:
        _memo[key] = [st.st_size, st.st_mtime_ns, digest.hexdigest()]
        _memo_dirty = True
    return digest.hexdigest()


def sha256_tree(root: Path) -> str | None:
    """Hash of every file's relative path and content under ``root``.

    ``None`` when ``root`` does not exist, so a missing artifact never
    compares equal to a recorded one.
    """
    if not root.exists():
        return None
    if root.is_file():
        return sha256_file(root)
    entries = sorted(p for p in root.rglob("*") if p.is_file())
    return sha256_json([[p.relative_to(root).as_posix(), sha256_file(p)] for p in entries])


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so a reader (or a build
    killed half-way) sees either the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide the PDF from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_copy(src: Path, dst: Path) -> None:
    atomic_write_bytes(dst, src.read_bytes())


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it; keeps mtimes (and so
    latexmk's and our own change detection) still on a no-op rebuild."""
    if path.exists() and path.read_text() == text:
        return False
    atomic_write_text(path, text)
    return True
