"""Retry policy for reads and settled effects: exponential backoff with jitter.

1, 2, 4, 8, 16 s (5 tries) on transient errors (408/429/5xx, timeouts, connection errors),
honouring the server's RetryInfo when it asks for longer. Permanent errors pass through at
once. ``base`` scales every wait, so tests and the emulator demo do not sleep for real.
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

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Wait before try ``attempt + 1`` (attempt counts from 1)."""
        wait = min(self.base * (2 ** (attempt - 1)) + random.uniform(0, self.base), self.cap)
        if retry_after is not None:  # the server's word, within reason
            wait = min(max(wait, retry_after * self.base), self.cap * 5)
        return wait


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
