"""The one retry policy: tenacity under trio, exponential backoff with one jitter.

Waits are 1, 2, 4, 8 s (``base`` doubled, at most ``cap``) plus one uniform jitter of up
to ``base``, five tries in all, on transient errors only (408/429/5xx, timeouts,
connection errors: :class:`TransientError`); permanent errors pass through at once. When
the server names a wait (RetryInfo, carried by the exception as ``retry_after``) the wait
is at least that, within ``5 * cap``. Every wait is a ``trio.sleep``, so tests of backoff
and queueing run the engine in-process on ``trio.testing.MockClock`` (production waits,
no wall time) rather than scaling the waits down with a flag.

tenacity is the library the SDK itself retries with; :meth:`RetryPolicy.retrying` hands
out an ``AsyncRetrying`` that sleeps with ``trio.sleep`` (so a ``MockClock`` jumps it).
A 429 on ``batches.create`` is different: the limits it names (concurrent batch jobs,
enqueued tokens per model) free only as other jobs finish, which takes minutes to hours.
:meth:`RetryPolicy.queue_backoff` gives 1, 2, 4, 8 then 15 minutes between asks, never
giving up, never less than the server's RetryInfo.

Effects that are not idempotent (an upload, a batch create) settle by listing before any
retry; that line is written where the effect is, not hidden in here.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity
import trio

from chargen_es.errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base: float = 1.0
    cap: float = 60.0
    queue_first: float = 60.0  # first wait after a create-time 429, in seconds
    queue_cap: float = 900.0

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try ``attempt`` (from 1): backoff, one jitter, RetryInfo."""
        wait = min(self.base * (2 ** (attempt - 1)) + random.uniform(0, self.base), self.cap)
        if retry_after is not None:  # the server's word, within reason
            wait = min(max(wait, retry_after), self.cap * 5)
        return wait

    def queue_backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before asking ``batches.create`` again after its ``attempt``-th 429."""
        wait = min(self.queue_first * (2 ** min(attempt - 1, 10)), self.queue_cap)
        wait = max(wait, retry_after or 0.0)
        return wait * random.uniform(1.0, 1.1)  # one jitter: spread the chunks that wait together

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.backoff(state.attempt_number, getattr(exc, "retry_after", None))

    def retrying(self, *, except_: tuple[type[BaseException], ...] = ()) -> tenacity.AsyncRetrying:
        """``async for attempt in policy.retrying(): with attempt: ...`` under trio.

        ``except_``: transient errors the caller handles itself (raised at once).
        """
        retry: tenacity.retry_base = tenacity.retry_if_exception_type(TransientError)
        if except_:
            retry = retry & tenacity.retry_if_not_exception_type(except_)
        return tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry,
            sleep=trio.sleep,
            reraise=True,
        )

    async def call(self, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """``await fn(*args)`` until it succeeds, fails permanently or the tries run out."""
        return await self.retrying()(fn, *args)


def is_retry(attempt: tenacity.AttemptManager) -> bool:
    """True from the second try on: where a non-idempotent effect must settle first."""
    return attempt.retry_state.attempt_number > 1
