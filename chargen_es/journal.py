"""The journal: the only writer of ``journal.jsonl``, the run's single source of truth.

Line format (every line stays a JSON object that ``jq`` reads)::

    {"type":"task.planned","seq":7,"at":"2025-12-19T12:00:00.123Z",...,"crc":"89abcdef"}

The CRC-32 covers the line's bytes up to (not including) ``,"crc":``. It is always the
last member, so checking it costs one slice and one ``zlib.crc32`` call, and the decoder
simply ignores it as an unknown field.

Durability rules (docs/run-format.md, section 2):

* an append is whole lines in **one** ``os.write`` on an ``O_APPEND`` descriptor, then
  ``fsync``; ``append_many`` is group commit (many lines, one fsync) for bursts;
* the file and its folder are fsynced when the file is created;
* an fsync error is fatal: the journal refuses every later append (the page cache may
  have dropped the dirty pages, so retrying fsync would lie);
* opening recovers: a torn, zero-filled or garbage tail is cut back to the last valid line
  and the cut is fsynced; a bad line followed by a good one is corruption, not a crash
  artefact, and raises ``JournalError`` naming ``journal.jsonl:LINE``.

``run.lock`` (filelock) guards a run: a second process is refused with the holder's pid.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import filelock
import msgspec

from chargen_es.errors import JournalError, LocalIOError, RunLocked, local_io_error
from chargen_es.events import DECODER, ENCODER, AnyEvent, Event
from chargen_es.fsio import fsync, fsync_dir, naming, write_all

APPEND_POINT = "journal.append"  # the fault hook's name for an append (chargen_es.fsio)

JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "run.lock"
_CRC_PREFIX = b',"crc":"'
_TRAILER_LEN = len(_CRC_PREFIX) + 8 + 2  # ,"crc":"xxxxxxxx"}


def utc_now_ms(now: float | None = None) -> str:
    """RFC 3339 UTC with milliseconds: the only clock format a journal holds."""
    t = time.time() if now is None else now
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def seal_line(body: bytes) -> bytes:
    """Add the CRC member and the newline to an encoded event object."""
    head = body[:-1]
    return head + b',"crc":"%08x"}\n' % zlib.crc32(head)


@dataclass(frozen=True)
class Scan:
    """What reading a journal found: its valid events and where the valid bytes end."""

    events: list[AnyEvent]
    valid_bytes: int  # length of the longest valid prefix
    tail_bytes: int  # bytes after it (a torn or garbage tail), 0 when clean


def scan_bytes(data: bytes, name: str = JOURNAL_NAME, first_seq: int = 1) -> Scan:
    """Validate and decode a journal image, or the part of one that starts at ``first_seq``.

    Returns the longest valid prefix. Raises ``JournalError`` when an invalid line is
    followed by a valid one (corruption in the middle), when a sealed line does not decode,
    or when sequence numbers are not contiguous from ``first_seq``. Both ways of reading a
    journal go through here: :func:`read_events` and :meth:`Journal.open` with the whole
    file, :class:`Follower` with the bytes after the last line it took (line numbers in
    messages are seq numbers, so they are the same either way).

    Three tight passes rather than one loop doing everything per line: one C-level split
    and a CRC check per line, one ``decode_lines`` call over the valid prefix, one seq
    check. That keeps replay close to bare msgspec decoding (``tools/bench_replay.py``).
    """
    lines = data.split(b"\n")
    torn = lines.pop()  # what follows the last newline: b"" or a line cut before its newline
    good = _count_sealed(lines)
    if good < len(lines):
        valid = sum(len(line) + 1 for line in lines[:good])
        bad = first_seq + good
        if _sealed_line_after(data, valid + len(lines[good]) + 1):
            raise _damaged(name, bad, "checksum mismatch or torn line")
        if _sealed_line_after(data, valid, strip=True):
            raise JournalError(
                f"{name}:{bad}: a journal line whose white space or line endings were changed; "
                "restore the file's original bytes (e.g. undo a CRLF conversion) and try again"
            )
    else:
        valid = len(data) - len(torn)
    try:
        events: list[AnyEvent] = DECODER.decode_lines(memoryview(data)[:valid])
    except msgspec.DecodeError:
        _raise_undecodable(data, lines[:good], name, first_seq)
        raise
    for lineno, event in enumerate(events, first_seq):
        if event.seq != lineno:
            raise JournalError(f"{name}:{lineno}: seq {event.seq} where {lineno} was expected; lines were "
                               "removed, reordered or copied in")
    return Scan(events=events, valid_bytes=valid, tail_bytes=len(data) - valid)


def _count_sealed(lines: list[bytes]) -> int:
    """How many lines from the start carry a CRC that matches their bytes (the one CRC rule)."""
    crc32 = zlib.crc32
    prefix = _CRC_PREFIX
    cut = _TRAILER_LEN
    for i, line in enumerate(lines):
        # the hex is compared as written: int(..., 16) would accept "ABCD" for "abcd"
        if (len(line) <= cut or line[-cut:-10] != prefix or line[-2:] != b'"}'
                or b"%08x" % crc32(line[:-cut]) != line[-10:-2]):
            return i
    return len(lines)


def _damaged(name: str, lineno: int, why: str) -> JournalError:
    return JournalError(f"{name}:{lineno}: {why}, and valid lines follow it: the journal was damaged in the "
                        "middle; restore it from a backup or move the run folder aside")


def _raise_undecodable(data: bytes, lines: list[bytes], name: str, first_seq: int) -> None:
    """Find the sealed line that does not decode and say where (the slow path, on error only)."""
    pos = 0
    for lineno, line in enumerate(lines, first_seq):
        pos += len(line) + 1
        try:
            DECODER.decode(line)
        except msgspec.DecodeError as exc:
            if _sealed_line_after(data, pos):
                raise _damaged(name, lineno, f"undecodable event ({exc})") from None
            raise JournalError(f"{name}:{lineno}: undecodable event ({exc}); the journal's writer is newer "
                               "than this chargen-es, or the line was edited") from None


def _sealed_line_after(data: bytes, start: int, *, strip: bool = False) -> bool:
    """Whether a whole, sealed line comes at or after byte ``start``.

    A bad line is a crash artefact only if nothing valid comes after it. With ``strip``,
    lines that are whole journal lines but for their white space or line endings (an
    editor, ``git autocrlf``) count too: such a tail is never cut.
    """
    lines = data[start:].split(b"\n")
    lines.pop()  # a line without its newline is never whole
    if strip:
        lines = [line.strip(b" \t\r") for line in lines]
    return any(_count_sealed([line]) for line in lines)


def read_events(path: Path) -> list[AnyEvent]:
    """Read-only view of a journal (no lock, no repair): the longest valid prefix.

    Safe on a journal another process is appending to: a half-written last line is
    simply not returned yet.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise JournalError(f"{path}: no journal here") from None
    return scan_bytes(data, str(path.name)).events


class Follower:
    """Reads a journal incrementally while another process may be appending to it.

    No lock, no repair: each :meth:`poll` reads only the bytes after the last whole valid
    line it took, so a torn tail that the next writer cuts and overwrites is simply read
    again as it is now. The rules are :func:`scan_bytes`'s (CRC, contiguous seq, damage in
    the middle is an error naming ``journal.jsonl:SEQ``), applied to the new bytes only,
    so following a journal of any length costs the size of what was appended.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0  # bytes taken: the end of the last whole valid line
        self.last_seq = 0
        self.pending_bytes = 0  # bytes after ``offset`` that are not (yet) a whole valid line

    def poll(self) -> list[AnyEvent]:
        """The events appended since the last poll (possibly none)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise JournalError(f"{self.path}: no journal here (it was removed or moved)") from None
        try:
            size = os.fstat(fd).st_size
            if size < self.offset:
                raise JournalError(f"{self.path.name}:{self.last_seq}: the journal is shorter than the lines "
                                   "already read; it was truncated or replaced")
            data = _read_from(fd, self.offset, size)
        finally:
            os.close(fd)
        scan = scan_bytes(data, self.path.name, first_seq=self.last_seq + 1)
        self.offset += scan.valid_bytes
        self.pending_bytes = scan.tail_bytes
        if scan.events:
            self.last_seq = scan.events[-1].seq
        return scan.events


def follow(path: Path, *, interval: float = 0.5,
           until: Callable[[AnyEvent], bool] | None = None) -> Iterator[AnyEvent]:
    """Yield every event of a journal as it is appended, polling every ``interval`` seconds.

    Ends when ``until`` is true of the newest event and nothing is pending after it (a
    run that was resumed goes on); never ends without ``until``.
    """
    follower = Follower(path)
    last: AnyEvent | None = None
    while True:
        for last in follower.poll():
            yield last
        if until is not None and last is not None and until(last) and not follower.pending_bytes:
            return
        time.sleep(interval)


def read_events_from(path: Path, offset: int, first_seq: int) -> tuple[list[AnyEvent], int]:
    """Read-only, incremental: the events after byte ``offset`` and the offset they end at.

    ``offset`` must be the end of a line already read, whose seq was ``first_seq - 1``
    (what a previous call returned); only the bytes after it are read, so a reader that
    keeps up with many journals (the workspace index) pays for new lines only. It is one
    :meth:`Follower.poll` from that point, so the rules are :func:`scan_bytes`'s: a torn
    last line is not returned yet, damage raises with the line number, seq must continue
    from ``first_seq``, and a journal shorter than ``offset`` is an error.
    """
    follower = Follower(path)
    follower.offset, follower.last_seq = offset, first_seq - 1
    events = follower.poll()
    return events, follower.offset


class RunLock:
    """``run.lock`` held for the life of a process working on a run.

    filelock (>= 4.2) never truncates the lock file, so the holder writes its pid into it
    and a refused contender can name the holder.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_NAME
        self._lock = filelock.FileLock(str(self.path), timeout=0)

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait`` seconds (a run's holder stays for the whole
        run, so runs never wait; the review journal's writers hold it for one append)."""
        try:
            self._lock.acquire(timeout=wait)
        except filelock.Timeout:
            holder = self.holder_pid()
            who = f"pid {holder}" if holder else "another process"
            raise RunLocked(
                f"{self.path.parent.name}: run is in use by {who} ({self.path}); wait for it to finish "
                "or stop that process"
            ) from None
        with open(self.path, "w") as f:
            f.write(f"{os.getpid()}\n")

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()


class Journal:
    """An open, locked, recovered journal that appends durably.

    Use :meth:`open`; the events already on disk are in :attr:`events` (for the engine to
    fold), and :attr:`last_seq` is the seq of the last durable event.
    """

    def __init__(self, run_dir: Path, fd: int, events: list[AnyEvent], lock: RunLock | None) -> None:
        self.run_dir = run_dir
        self.path = run_dir / JOURNAL_NAME
        self._fd = fd
        self.events = events
        self.last_seq = events[-1].seq if events else 0
        self._lock = lock
        self._broken: str | None = None
        self._failure: LocalIOError | None = None  # a later append (another task's) raises it again

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, run_dir: Path, *, create: bool = False, lock: bool = True, wait: float = 0.0) -> Journal:
        """Lock the run, recover the tail, and return a journal ready to append.

        ``create`` makes the run folder and an empty journal (both fsynced) if needed;
        ``wait``: seconds to wait for another holder of the lock (see :meth:`RunLock.acquire`).
        """
        run_dir = Path(run_dir)
        if create:
            existed = run_dir.exists()
            run_dir.mkdir(parents=True, exist_ok=True)
            if not existed:
                fsync_dir(run_dir.parent)
        elif not (run_dir / JOURNAL_NAME).exists():
            raise JournalError(f"{run_dir / JOURNAL_NAME}: no journal here")
        run_lock = RunLock(run_dir) if lock else None
        if run_lock:
            run_lock.acquire(wait)
        try:
            return cls._open_locked(run_dir, run_lock)
        except BaseException:
            if run_lock:
                run_lock.release()
            raise

    @classmethod
    def _open_locked(cls, run_dir: Path, run_lock: RunLock | None) -> Journal:
        path = run_dir / JOURNAL_NAME
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if created:
                fsync(fd, path=path)
                fsync_dir(run_dir)
            with naming(path):
                data = _read_all(fd)
            scan = scan_bytes(data)
            if scan.tail_bytes:
                os.ftruncate(fd, scan.valid_bytes)
                fsync(fd, path=path)
        except BaseException:
            os.close(fd)
            raise
        return cls(run_dir, fd, scan.events, run_lock)

    # -- appending -----------------------------------------------------------------

    def append(self, event: Event) -> AnyEvent:
        """Append one event durably (one write, one fsync) and return it stamped."""
        return self.append_many((event,))[0]

    def append_many(self, events: Sequence[Event] | Iterable[Event], *, now: float | None = None) -> list[AnyEvent]:
        """Group commit: stamp, write all lines in one ``os.write``, fsync once."""
        if self._failure is not None:  # the disk refused an earlier append: the same named error again
            raise self._failure.located(None, None)
        if self._broken:
            raise JournalError(f"{self.path}: journal is unusable after an earlier failure: {self._broken}")
        at = utc_now_ms(now)
        seq = self.last_seq
        stamped: list[AnyEvent] = []
        parts: list[bytes] = []
        for event in events:
            seq += 1
            ev = msgspec.structs.replace(event, seq=seq, at=at)
            stamped.append(ev)  # type: ignore[arg-type]
            parts.append(seal_line(ENCODER.encode(ev)))
        if not parts:
            return []
        data = b"".join(parts)
        try:
            write_all(self._fd, data, path=self.path, point=APPEND_POINT)  # short writes are finished
            fsync(self._fd, path=self.path, point=APPEND_POINT)
        except OSError as exc:
            self._broken = f"{exc.strerror or exc}"
            named = local_io_error(exc, journal=True)
            if named is not None:  # disk full, I/O error …: fatal, named like any other local I/O error
                self._failure = named
                raise named from exc
            raise JournalError(f"{self.path}: append failed ({self._broken}); the run stops here and "
                               "`chargen-es resume` will recover from the last durable line") from exc
        self.last_seq = seq
        self.events.extend(stamped)
        return stamped

    @property
    def broken(self) -> bool:
        """An append failed: nothing more may be written through this journal."""
        return self._broken is not None

    # -- closing -------------------------------------------------------------------

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_all(fd: int) -> bytes:
    return _read_from(fd, 0, os.fstat(fd).st_size)


def _read_from(fd: int, offset: int, size: int) -> bytes:
    chunks = []
    while offset < size:
        chunk = os.pread(fd, min(size - offset, 1 << 24), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)
