"""The one error tree of chargen-es.

Everything the tool raises on purpose derives from ``ChargenError``; the cli catches that
root once, prints ``str(error)`` as one line and exits with ``error.exit_code``. Only the
gateway sees SDK exceptions, and it translates them into ``GeminiError`` subclasses here.

::

    ChargenError                      exit 1 unless stated
    ├── UsageError                    exit 2: bad options or arguments
    ├── ContentError                  the content tree: file:line and what is wrong
    │     └── ValidationFailed        several ContentErrors at once (pre-flight)
    │           └── BatchFileInvalid  the same, for a batch file (no --skip-invalid there)
    ├── JournalError                  journal.jsonl:LINE: corrupt or unreadable journal
    ├── RunLocked                     another process holds run.lock (names its pid)
    ├── KeysHeld                      a resume whose tasks another run holds or delivered
    ├── RunNotFound                   no such run id (lists the runs that exist)
    ├── ConfigError                   missing API key, bad base URL, price table
    ├── CostLimitExceeded             the plan costs more than --max-cost
    ├── Interrupted                   exit 130: Ctrl-C / SIGTERM, resumable
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
