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

Every failing call names its file: an ``OSError`` leaving this module carries the
*final* name of the file in ``filename`` (a temp name is mapped back to its target by
:func:`target_of`), which is what ``chargen_es.errors.local_io_error`` shows the user.

**Fault hook (tests only).** ``CHARGEN_ES_FAULT_AT=<target>[#N][+]:<ERRNO>`` makes a
call of this module fail with that errno instead of touching the disk, the way
``CHARGEN_ES_CRASH_AT`` kills: ``<target>`` is an operation (``write``, ``fsync``,
``rename``, ``dirsync``: every call of that kind counts), a named point (``image.write``,
``imagery.write``, ``download``, ``journal.append``, ``projections.write``,
``index.write``, ``requests.write``, ``failure.write``: every operation at that point
counts), or ``<point>/<operation>``. ``#N`` fails the Nth matching call (default the
first); a trailing ``+`` fails it and every later one, as a full disk does. Examples:
``write#12:ENOSPC``, ``journal.append:EIO``, ``download/fsync+:ENOSPC``. Unset (always,
outside tests), it costs one environment lookup per call.

This module imports nothing of ours: it sits below the journal, the gateway, the
projections' callers and the engine.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno as errno_names
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

_libc_name = ctypes.util.find_library("c")
_libc = ctypes.CDLL(_libc_name, use_errno=True) if _libc_name else None
_syncfs = getattr(_libc, "syncfs", None) if _libc is not None else None
HAS_SYNCFS = _syncfs is not None
_TEMP_MARK = "chargen-"
_TEMP_RE = re.compile(r"^\..+\.chargen-(\d+)\.tmp$")


FAULT_ENV = "CHARGEN_ES_FAULT_AT"
OPERATIONS = ("write", "fsync", "rename", "dirsync")
POINTS = ("image.write", "imagery.write", "download", "journal.append", "projections.write", "index.write",
          "requests.write", "failure.write")
_fault_lock = threading.Lock()
_fault_counts: dict[str, int] = {}


def _fault_spec(spec: str) -> tuple[str, int, bool, int]:
    """``<target>[#N][+]:<ERRNO>`` → (target, N, sticky, errno); a bad spec is a test bug: raise."""
    head, _, name = spec.rpartition(":")
    code = getattr(errno_names, name, None)
    sticky = head.endswith("+")
    target, _, nth = head.removesuffix("+").partition("#")
    point, _, op = target.partition("/")
    known = (point in OPERATIONS and not op) or (point in POINTS and (not op or op in OPERATIONS))
    if not isinstance(code, int) or not known:
        raise ValueError(f"{FAULT_ENV}={spec!r}: expected <operation|point[/operation]>[#N][+]:<ERRNO>, "
                         f"operations {OPERATIONS}, points {POINTS}")
    return target, int(nth or 1), sticky, code


def _fault(op: str, point: str | None, path: Path | str) -> None:
    """Raise the configured ``OSError`` if this call is the one the fault hook names."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    target, nth, sticky, code = _fault_spec(spec)
    if target not in (op, point, f"{point}/{op}"):
        return
    with _fault_lock:  # the engine's writer threads count here concurrently
        count = _fault_counts[spec] = _fault_counts.get(spec, 0) + 1
    if count == nth or (sticky and count > nth):
        raise OSError(code, os.strerror(code), str(target_of(Path(path))))


def reset_fault_counts() -> None:
    """Start the fault hook's call counts again (tests that set it twice in one process)."""
    with _fault_lock:
        _fault_counts.clear()


def target_of(path: Path) -> Path:
    """The file a temp name of our scheme stands for (any other path: itself)."""
    m = _TEMP_RE.match(path.name)
    return path.with_name(path.name[1:m.start(1) - len("." + _TEMP_MARK)]) if m else path


@contextlib.contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """Put the final name of the file in an ``OSError`` that lacks it or names a temp file
    (a read that fails half way names nothing by itself)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None or _TEMP_RE.match(Path(os.fsdecode(exc.filename)).name):
            exc.filename = str(target_of(Path(path)))
        raise


def ensure_room(path: Path, needed: int) -> None:
    """Refuse, before writing a byte, a file of ``needed`` bytes the disk cannot hold:
    ``OSError(ENOSPC)`` naming ``path`` with the numbers (named like any full disk)."""
    st = os.statvfs(path.parent)
    free = st.f_bavail * st.f_frsize
    if free < needed:
        raise OSError(errno_names.ENOSPC, f"{needed:,} bytes needed, {free:,} free", str(target_of(path)))


def temp_path(path: Path) -> Path:
    """The temp file beside ``path`` that this process writes before renaming."""
    return path.with_name(f".{path.name}.{_TEMP_MARK}{os.getpid()}.tmp")


def write_all(fd: int, data: bytes | memoryview, *, path: Path | str, point: str | None = None) -> None:
    """Write all of ``data`` to ``fd`` (the first ``os.write`` carries as much as the kernel
    takes: on a file, all of it); ``path`` names the file in an error."""
    with naming(path):
        _fault("write", point, path)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def fsync(fd: int, *, path: Path | str, point: str | None = None) -> None:
    """``os.fsync`` that names ``path`` when it fails (and that the fault hook can fail)."""
    with naming(path):
        _fault("fsync", point, path)
        os.fsync(fd)


def rename(src: Path, dst: Path, *, point: str | None = None) -> None:
    """``os.replace`` naming ``dst`` when it fails."""
    with naming(dst):
        _fault("rename", point, dst)
        os.replace(src, dst)


def fsync_dir(path: Path, *, point: str | None = None) -> None:
    """Make the entries of a folder (a rename, a new file) durable."""
    with naming(path):
        _fault("dirsync", point, path)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def create(path: Path, *, point: str | None = None) -> int:
    """Open ``path`` for writing, created or truncated (a temp file): the descriptor."""
    with naming(path):
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)  # less the umask


def remove(path: Path) -> bool:
    """Delete a file durably (the folder is fsynced); True when it was there. Idempotent:
    a file already gone is not an error, so a crash before or after is simply done again."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def remove_empty_dir(path: Path) -> bool:
    """Delete a folder if it is there and empty, durably (its parent is fsynced); True when
    it was removed. A folder gone already, or holding anything, is left as it is."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno_names.ENOTEMPTY, errno_names.EEXIST):
            return False
        with naming(path):  # anything else is the disk's refusal, named as every write's is
            raise
    fsync_dir(path.parent)
    return True


def sha256_file(path: Path) -> str | None:
    """Hex SHA-256 of a file's bytes, or None when it does not exist."""
    h = hashlib.sha256()
    try:
        with naming(path), open(path, "rb") as f:
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
                   before_rename: Callable[[], None] | None = None, point: str | None = None) -> bool:
    """Make ``path`` hold ``data`` (temp, write, fsync, rename, fsync folder); False when skipped.

    ``skip_if_same``: leave the file alone when it already has these bytes (compared by
    SHA-256; pass ``sha256`` when the caller already knows the digest of ``data``).
    ``mode``: permission bits of the result; by default an existing file keeps its bits
    and a new one follows the umask. ``fsync_file`` / ``fsync_folder``: turn the flushes
    off for a caller that makes many files durable at once later. ``before_rename`` runs
    with the temp file written and not yet renamed (the crash tests kill there).
    ``point`` names the write for the fault hook (``image.write``, ``index.write`` …).
    """
    path = Path(path)
    if skip_if_same and sha256_file(path) == (sha256 or hashlib.sha256(data).hexdigest()):
        return False
    if mode is None:
        mode = _current_mode(path)
    tmp = temp_path(path)
    fd = create(tmp, point=point)
    try:
        try:
            write_all(fd, data, path=path, point=point)
            if mode is not None:
                with naming(path):
                    os.fchmod(fd, mode)
            if fsync_file:
                fsync(fd, path=path, point=point)
        finally:
            os.close(fd)
        if before_rename is not None:
            before_rename()
        rename(tmp, path, point=point)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync_folder:
        fsync_dir(path.parent, point=point)
    return True


class _Stream:
    """The writable end :func:`atomic_stream` yields: buffered, flushed through :func:`write_all`."""

    _LIMIT = 1 << 20

    def __init__(self, fd: int, path: Path, point: str | None) -> None:
        self.fd, self.path, self.point = fd, path, point
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= self._LIMIT:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            write_all(self.fd, bytes(self._buffer), path=self.path, point=self.point)
            self._buffer.clear()


@contextlib.contextmanager
def atomic_stream(path: Path, *, mode: int | None = None, point: str | None = None) -> Iterator[_Stream]:
    """Write ``path`` as a stream: a temp file while the block runs, fsynced and renamed
    into place (folder fsynced) when it ends, removed when it raises."""
    tmp = temp_path(path)
    if mode is None:
        mode = _current_mode(path)
    try:
        fd = create(tmp, point=point)
        try:
            stream = _Stream(fd, path, point)
            yield stream
            stream.flush()
            if mode is not None:
                with naming(path):
                    os.fchmod(fd, mode)
            fsync(fd, path=path, point=point)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    publish(tmp, path, point=point)


def publish(tmp: Path, path: Path, *, point: str | None = None) -> None:
    """Rename a fully written, fsynced temp file into place and make the rename durable
    (the temp file is removed when the rename fails)."""
    try:
        rename(tmp, path, point=point)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent, point=point)


def write_files(folder: Path | str, files: dict[str, bytes], before_rename: Callable[[], None] | None = None,
                point: str | None = None) -> dict[str, bool]:
    """Replace each named file of ``folder`` atomically, skipping those already holding
    the bytes; returns which ones changed on disk (``before_rename`` as for
    :func:`replace_atomic`, for each file written)."""
    folder = Path(folder)
    return {name: replace_atomic(folder / name, data, skip_if_same=True, before_rename=before_rename, point=point)
            for name, data in files.items()}


def syncfs(anchor: Path, *, point: str | None = None) -> None:
    """Flush the whole file system holding ``anchor`` (``syncfs(2)``); raise where it is missing."""
    with naming(anchor):
        _fault("fsync", point, anchor)
        if _syncfs is None:
            raise OSError(errno_names.ENOSYS, "syncfs is not available here", str(anchor))
        fd = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"syncfs failed: {os.strerror(err)}", str(anchor))
        finally:
            os.close(fd)


def fsync_path(path: Path, *, point: str | None = None) -> None:
    """fsync a file that is already written and closed (where ``syncfs`` is missing)."""
    with naming(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            fsync(fd, path=path, point=point)
        finally:
            os.close(fd)


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
