"""The file system, one way: hashing, durable folders, atomic replacement, temp names.

Every file chargen-es replaces (projections, images, analyses, ``imagery.yaml``, request
files, downloaded results, failure details) is written to a temp file beside its target
(same folder, so ``os.replace`` is a rename on one file system) and renamed over it; a
reader sees the old bytes or the new ones, never half. The journal, which is appended
rather than replaced, uses :func:`fsync_dir` from here too.

One temp-name scheme, :func:`temp_path`: ``.<name>.chargen-<pid>.tmp``. The writer's pid
is in the name so that :func:`sweep_temp_files` can tell the leftovers of a writer that
was killed (``SIGKILL`` gives no chance to clean up) from the files of a writer that is
still running, and the ``chargen-`` marker keeps the sweep to files we created (a user's
own ``.notes.1.tmp`` is never touched). Writers remove their temp file on any error.

Durability has two speeds. :func:`replace_atomic` with the defaults fsyncs the file and
its folder before returning. The engine, applying thousands of small files, passes
``fsync_file=False, fsync_folder=False`` and makes a whole group durable with one
``syncfs(2)`` afterwards (``chargen_es.engine.durable``).

This module imports nothing of ours: it sits below the journal, the projections' callers
and the engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

_TEMP_MARK = "chargen-"
_TEMP_RE = re.compile(r"^\..+\.chargen-(\d+)\.tmp$")


def temp_path(path: Path) -> Path:
    """The temp file beside ``path`` that this process writes before renaming."""
    return path.with_name(f".{path.name}.{_TEMP_MARK}{os.getpid()}.tmp")


def fsync_dir(path: Path) -> None:
    """Make the entries of a folder (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove(path: Path) -> bool:
    """Delete a file durably (the folder is fsynced); True when it was there. Idempotent:
    a file already gone is not an error, so a crash before or after is simply done again."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


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


def _current_mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def replace_atomic(path: Path | str, data: bytes, *, mode: int | None = None, skip_if_same: bool = False,
                   sha256: str | None = None, fsync_file: bool = True, fsync_folder: bool = True,
                   before_rename: Callable[[], None] | None = None) -> bool:
    """Make ``path`` hold ``data`` (temp, write, fsync, rename, fsync folder); False when skipped.

    ``skip_if_same``: leave the file alone when it already has these bytes (compared by
    SHA-256; pass ``sha256`` when the caller already knows the digest of ``data``).
    ``mode``: permission bits of the result; by default an existing file keeps its bits
    and a new one follows the umask. ``fsync_file`` / ``fsync_folder``: turn the flushes
    off for a caller that makes many files durable at once later. ``before_rename`` runs
    with the temp file written and not yet renamed (the crash tests kill there).
    """
    path = Path(path)
    if skip_if_same and sha256_file(path) == (sha256 or hashlib.sha256(data).hexdigest()):
        return False
    if mode is None:
        mode = _current_mode(path)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)  # less the umask
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if mode is not None:
                os.fchmod(fd, mode)
            if fsync_file:
                os.fsync(fd)
        finally:
            os.close(fd)
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync_folder:
        fsync_dir(path.parent)
    return True


@contextlib.contextmanager
def atomic_stream(path: Path, *, mode: int | None = None) -> Iterator[BinaryIO]:
    """Write ``path`` as a stream: a temp file while the block runs, fsynced and renamed
    into place (folder fsynced) when it ends, removed when it raises."""
    tmp = temp_path(path)
    if mode is None:
        mode = _current_mode(path)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def publish(tmp: Path, path: Path) -> None:
    """Rename a fully written, fsynced temp file into place and make the rename durable."""
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_files(folder: Path | str, files: dict[str, bytes],
                before_rename: Callable[[], None] | None = None) -> dict[str, bool]:
    """Replace each named file of ``folder`` atomically, skipping those already holding
    the bytes; returns which ones changed on disk (``before_rename`` as for
    :func:`replace_atomic`, for each file written)."""
    folder = Path(folder)
    return {name: replace_atomic(folder / name, data, skip_if_same=True, before_rename=before_rename)
            for name, data in files.items()}


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def is_stale_temp(name: str) -> bool:
    """A temp name of our scheme whose writer process is gone."""
    m = _TEMP_RE.match(name)
    return m is not None and not _alive(int(m.group(1)))


def sweep_temp_files(top: Path, *, skip: Iterable[Path] = ()) -> list[Path]:
    """Remove the temp files killed writers left anywhere under ``top``; return them.

    Only names of our scheme (:func:`temp_path`) and only when the pid in the name is
    not a live process, so a writer still running (another run of the same tree, the
    in-process emulator) keeps its files. ``skip``: folders not walked (they belong to
    another component). A pid reused by an unrelated process keeps its leftover until
    that process ends: clutter, never a lost file.
    """
    skipped = {os.path.realpath(p) for p in skip}
    removed: list[Path] = []
    for folder, dirs, names in os.walk(top):
        if skipped:
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(folder, d)) not in skipped]
        for name in names:
            if name.startswith(".") and name.endswith(".tmp") and is_stale_temp(name):
                path = Path(folder, name)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed
