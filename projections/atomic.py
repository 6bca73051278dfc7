"""One way to replace a file on disk: never a half-written file, even across a crash.

Temp file in the same folder (so ``os.replace`` is a rename on one file system), write,
fsync, rename, fsync the folder so the rename itself is durable. The engine reuses this
for images, analyses and downloads, where ``skip_if_same`` saves rewriting a file that
already holds the expected bytes (a resumed run re-applying a result).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str | None:
    """Hex SHA-256 of a file's bytes, or None when it does not exist."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except FileNotFoundError:
        return None
    return h.hexdigest()


def write_atomic(path: Path | str, data: bytes, *, skip_if_same: bool = False, sha256: str | None = None,
                 mode: int | None = None) -> bool:
    """Atomically make ``path`` hold ``data``; return False when the write was skipped.

    ``skip_if_same``: leave the file alone when it already has these bytes (compared by
    SHA-256; pass ``sha256`` when the caller already knows the digest of ``data``).
    ``mode``: permission bits for the new file (default 0o644, or the old file's mode).
    """
    path = Path(path)
    if skip_if_same:
        want = sha256 or hashlib.sha256(data).hexdigest()
        if sha256_file(path) == want:
            return False
    folder = path.parent
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)
    return True
