"""Retry policy for reads and settled effects: exponential backoff with jitter.

1, 2, 4, 8, 16 s (5 tries) on transient errors (408/429/5xx, timeouts, connection errors),
honouring the server's RetryInfo when it asks for longer. Permanent errors pass through at
once. ``base`` scales every wait, so tests and the emulator demo do not sleep for real.

A 429 on ``batches.create`` is different: the limits it names (concurrent batch jobs,
enqueued tokens per model) free only as other jobs finish, which takes minutes to hours.
``queue_delay`` waits 1, 2, 4, 8 then 15 minutes between asks, never giving up, and never
less than the server's RetryInfo; ``base`` scales it the same way.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import trio

from chargen_es.errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base: float = 1.0
    cap: float = 60.0
    queue_first: float = 60.0  # first wait after a create-time 429, in seconds (times base)
    queue_cap: float = 900.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Wait before try ``attempt + 1`` (attempt counts from 1)."""
        wait = min(self.base * (2 ** (attempt - 1)) + random.uniform(0, self.base), self.cap)
        if retry_after is not None:  # the server's word, within reason
            wait = min(max(wait, retry_after * self.base), self.cap * 5)
        return wait

    def queue_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Wait before asking ``batches.create`` again after its ``attempt``-th 429."""
        wait = min(self.queue_first * (2 ** min(attempt - 1, 10)), self.queue_cap)
        wait = max(wait, retry_after or 0.0) * self.base
        return wait * random.uniform(1.0, 1.1)  # spread the chunks that wait together


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy,
                       on_retry: Callable[[TransientError, int], None] | None = None) -> T:
    """Run ``call`` until it succeeds, fails permanently, or the tries run out."""
    attempt = 1
    while True:
        try:
            return await call()
        except TransientError as exc:
            if attempt >= policy.attempts:
                raise
            if on_retry:
                on_retry(exc, attempt)
            await trio.sleep(policy.delay(attempt, exc.retry_after))
            attempt += 1
