"""The one error tree of chargen-es.

Everything the tool raises on purpose derives from ``ChargenError``; the cli catches that
root once, prints ``str(error)`` as one line and exits with ``error.exit_code``. Only the
gateway sees SDK exceptions, and it translates them into ``GeminiError`` subclasses here.

::

    ChargenError                      exit 1 unless stated
    ├── UsageError                    exit 2: bad options or arguments
    ├── ContentError                  the content tree: file:line and what is wrong
    │     ├── UnknownKey              a key chargen-es does not read (a warning unless a typo or --strict)
    │     └── ValidationFailed        several ContentErrors at once (pre-flight)
    │           └── BatchFileInvalid  the same, for a batch file (no --skip-invalid there)
    ├── JournalError                  journal.jsonl:LINE: corrupt or unreadable journal
    ├── RunLocked                     another process holds run.lock (names its pid)
    ├── KeysHeld                      a resume whose tasks another run holds or delivered
    ├── RunNotFound                   no such run id (lists the runs that exist)
    ├── ConfigError                   missing API key, bad base URL, price table
    ├── CostLimitExceeded             the plan costs more than --max-cost
    ├── Interrupted                   exit 130: Ctrl-C / SIGTERM, resumable
    ├── LocalIOError                  the local file system refused: names the file, what to do, resume
    │     ├── DiskFull                ENOSPC, EDQUOT
    │     ├── ReadOnlyFileSystem      EROFS
    │     ├── PermissionDenied        EACCES, EPERM
    │     ├── DiskIOError             EIO
    │     └── FileTooLarge            EFBIG
    └── GeminiError                   the remote side, translated by the gateway
          ├── TransientError          408/429/5xx, timeouts, connection errors: retry
          │     └── RateLimited       429 RESOURCE_EXHAUSTED, with retry_after
          │           └── BatchCapacityExceeded  429 on batches.create: wait minutes
          ├── DailyQuotaExhausted     429 whose QuotaFailure names a per-day quota
          ├── BillingError            402, or 429/403 for credit, spend cap or billing: pause
          ├── PermanentError          other 4xx: fail at once with the server's message
          └── NotFound                404 on a named resource
"""

from __future__ import annotations

import errno as _errno
import os
from pathlib import Path


class ChargenError(Exception):
    """Root of every error chargen-es raises on purpose."""

    exit_code = 1


class UsageError(ChargenError):
    exit_code = 2


class ContentError(ChargenError):
    """A problem in the content tree, located by file and (when known) line."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")


class UnknownKey(ContentError):
    """A key chargen-es does not read; ``suggestion`` is the known key it resembles, if any.

    The planner keeps it as a problem when it looks like a typo (a suggestion) or under
    ``--strict``, and turns it into a warning otherwise (planner/unknown_keys.py says why).
    """

    def __init__(self, file: str, message: str, line: int | None = None, *, suggestion: str | None = None) -> None:
        super().__init__(file, message, line)
        self.suggestion = suggestion


class ValidationFailed(ChargenError):
    """Pre-flight found problems; every one is listed."""

    def __init__(self, problems: list[ContentError]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"the content tree has {len(problems)} problem(s); fix them or pass --skip-invalid:\n{lines}"
        )


class BatchFileInvalid(ValidationFailed):
    """A batch file has problems; every one is listed with its ``file:line``."""

    def __init__(self, file: str, problems: list[ContentError]) -> None:  # noqa: D107
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        ChargenError.__init__(self, f"the batch file {file} has {len(problems)} problem(s); fix them and run "
                                    f"again:\n{lines}")


class JournalError(ChargenError):
    """The journal cannot be trusted: names ``journal.jsonl:LINE`` and why."""


class RunLocked(ChargenError):
    pass


class KeysHeld(ChargenError):
    """A run cannot claim task keys another run of the workspace holds or has delivered."""


class RunNotFound(ChargenError):
    pass


class ConfigError(ChargenError):
    pass


class CostLimitExceeded(ChargenError):
    pass


class Interrupted(ChargenError):
    exit_code = 130


class LocalIOError(ChargenError):
    """The local file system refused a read or write; one subclass per errno class.

    Built by :func:`local_io_error` from the ``OSError`` (``chargen_es.fsio`` puts the
    final name of the file in ``filename``, never a temp name): the message names the
    file relative to ``--root``, what the user can do, and the exact ``resume`` command
    when the run's journal allows one (otherwise: run the command again). Exit 1, never
    the "internal error" line: nothing is wrong with chargen-es. ``journal`` marks the
    journal's own append or fsync failing, which is fatal (the journal stops at its last
    durable line; ``resume`` recovers from there).
    """

    what = "local I/O error"
    advice = "check {folder}"

    def __init__(self, *, errno: int, strerror: str, path: str, root: Path | None = None,
                 resume: str | None = None, journal: bool = False) -> None:
        self.errno, self.strerror, self.path, self.root = errno, strerror, path, root
        self.resume, self.journal = resume, journal
        self.file = _shown(path, root)
        # the file's folder; the root when the file is unknown (a read or a flush that names none)
        self.folder = (os.path.dirname(os.path.abspath(path)) if path != "?"
                       else os.path.abspath(root) if root is not None else os.getcwd()) or "/"
        then = f"continue with `{resume}`" if resume else "run the same command again"
        stop = "; the journal stops at its last durable line" if journal else ""
        super().__init__(f"{self.what}: {self.file} ({strerror}){stop}; {self.advice.format(folder=self.folder)}, "
                         f"then {then}")

    def located(self, root: Path | None, resume: str | None) -> LocalIOError:
        """The same error named for the user: the file relative to ``root``, the resume command."""
        return type(self)(errno=self.errno, strerror=self.strerror, path=self.path, root=root or self.root,
                          resume=resume or self.resume, journal=self.journal)


class DiskFull(LocalIOError):
    what = "disk full, cannot write"
    advice = "free space on the disk holding {folder} (or raise your quota there)"


class ReadOnlyFileSystem(LocalIOError):
    what = "read-only file system, cannot write"
    advice = "remount the file system holding {folder} read-write, or use a --root on a writable disk"


class PermissionDenied(LocalIOError):
    what = "permission denied"
    advice = "check permissions of {folder} and the file (this user must be able to write them)"


class DiskIOError(LocalIOError):
    what = "disk I/O error"
    advice = "the disk holding {folder} reported a failure: check it (dmesg, SMART) or free a healthy one"


class FileTooLarge(LocalIOError):
    what = "file too large, cannot write"
    advice = ("the file system holding {folder} or the process's limit (`ulimit -f`) caps file size: raise the "
              "limit or use a --root on another file system")


LOCAL_IO_ERRORS: dict[int, type[LocalIOError]] = {
    _errno.ENOSPC: DiskFull,
    _errno.EDQUOT: DiskFull,
    _errno.EROFS: ReadOnlyFileSystem,
    _errno.EACCES: PermissionDenied,
    _errno.EPERM: PermissionDenied,
    _errno.EIO: DiskIOError,
    _errno.EFBIG: FileTooLarge,
}


def is_local_io(exc: BaseException) -> bool:
    """An ``OSError`` of a named class (disk full, read-only, permission, I/O, too large)."""
    return isinstance(exc, LocalIOError) or (isinstance(exc, OSError) and exc.errno in LOCAL_IO_ERRORS)


def local_io_error(exc: BaseException, *, root: Path | None = None, resume: str | None = None,
                   journal: bool = False) -> LocalIOError | None:
    """The named error for ``exc``, or None when it is no local I/O error of a named class."""
    if isinstance(exc, LocalIOError):
        return exc.located(root, resume)
    if not isinstance(exc, OSError) or exc.errno not in LOCAL_IO_ERRORS:
        return None
    path = exc.filename if isinstance(exc.filename, str) else os.fsdecode(exc.filename) if exc.filename else "?"
    return LOCAL_IO_ERRORS[exc.errno](errno=exc.errno, strerror=exc.strerror or os.strerror(exc.errno), path=path,
                                      root=root, resume=resume, journal=journal)


def _shown(path: str, root: Path | None) -> str:
    """``path`` relative to ``root`` (or the working folder) when inside it."""
    if path == "?":
        return "a file"
    absolute = Path(os.path.abspath(path))
    for base in ((Path(os.path.abspath(root)),) if root is not None else ()) + (Path.cwd(),):
        if absolute.is_relative_to(base):
            return absolute.relative_to(base).as_posix() or "."
    return str(absolute)


class GeminiError(ChargenError):
    """An error from the Gemini API (or the emulator), already classified."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", retry_after: float | None = None):
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(message)

    retryable = False


class TransientError(GeminiError):
    retryable = True


class RateLimited(TransientError):
    pass


class BatchCapacityExceeded(RateLimited):
    """A 429 on ``batches.create``: too many concurrent batch jobs or enqueued tokens.

    Still a rate limit (retryable, ``retry_after`` when Google sends RetryInfo), but one
    that frees only as other jobs finish, so the engine waits minutes, not seconds, and
    shows the chunk as queued instead of failing the run.
    """


class DailyQuotaExhausted(GeminiError):
    pass


class BillingError(GeminiError):
    """Prepaid credit exhausted, a spend cap reached or a billing problem.

    Google answers these with 429 RESOURCE_EXHAUSTED like a rate limit, but no waiting
    frees them: the run pauses resumably with a message that names billing.
    """


class PermanentError(GeminiError):
    pass


class NotFound(PermanentError):
    pass
