"""Content hashing and atomic writes, shared by every cached stage."""

import hashlib
import json
import os
import tempfile
import time
from functools import cache
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode())


def sha256_json(value) -> str:
    return sha256_text(json.dumps(value, sort_keys=True, ensure_ascii=False))


class HashMemo:
    """Content hashes of files, remembered between builds in ``path``: a
    file whose size and mtime are unchanged is not read again, so checking
    large data folders costs a stat per file.  One per build, made by the
    command line and handed to each stage."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self._known: dict[str, list] = {}  # path -> [size, mtime_ns, sha256]
        self._dirty = False
        if path is not None:
            try:
                self._known = json.loads(path.read_text())
            except (OSError, ValueError):
                pass

    def save(self) -> None:
        if self._dirty and self.path is not None:
            atomic_write_text(self.path, json.dumps(self._known))

    def file(self, path: Path | str) -> str:
        # abspath, not resolve: a realpath per file was most of a no-op build's check
        key = os.path.abspath(path)
        st = os.stat(key)
        hit = self._known.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        # A file written in the last seconds may change again within the same
        # mtime tick (git's "racy" case): hash it, but do not trust its stat yet.
        if time.time() - st.st_mtime > 2:
            self._known[key] = [st.st_size, st.st_mtime_ns, digest.hexdigest()]
            self._dirty = True
        return digest.hexdigest()

    def tree(self, root: Path) -> str | None:
        """Hash of every file's relative path and content under ``root``.

        ``None`` when ``root`` does not exist, so a missing artifact never
        compares equal to a recorded one.
        """
        if not root.exists():
            return None
        if root.is_file():
            return self.file(root)
        files = [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]
        entries = sorted(
            (os.path.relpath(p, root).split(os.sep), p) for p in files if os.path.isfile(p)
        )  # in the order of Paths
        return sha256_json([["/".join(parts), self.file(p)] for parts, p in entries])

    def changed(self, deps: dict[str, str | None], root: Path | None = None) -> str | None:
        """The first of ``deps`` (names under ``root``, or paths) whose
        content no longer has its recorded hash; None while all hold."""
        return next(
            (
                name
                for name, digest in deps.items()
                if self.tree(root / name if root else Path(name)) != digest
            ),
            None,
        )


class Stamp:
    """A cache record in a JSON file: the key of what was built, the files
    it read besides (path -> hash), and what the next build reuses."""

    def __init__(self, path: Path, memo: HashMemo):
        self.path, self.memo = path, memo

    def read(self) -> dict:
        """The record as written (empty when missing or unreadable)."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def load(self, key: str) -> dict | None:
        """The record, if it was made under ``key`` and its files still hold."""
        record = self.read()
        if record.get("key") != key or self.memo.changed(record.get("deps", {})) is not None:
            return None
        return record

    def save(self, key: str, deps: dict[str, str | None], **data) -> None:
        write_if_changed(self.path, json.dumps({"key": key, "deps": deps, **data}, indent=1))


@cache
def _umask() -> int:
    """The process's umask.  Linux shows it in /proc; elsewhere reading it
    means setting it for a moment, which other threads could see."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration):
        mask = os.umask(0)
        os.umask(mask)
        return mask


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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the PDF from other users
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
