"""The per-minute request quota of generateContent, as a sliding window.

A sliding window (rather than a fixed one) gives the retry delay a precise meaning: the
time until the oldest accepted call leaves the window. That is what a live runner needs
to use about all of its quota without hammering the server with 429s. The window length
is configurable so benchmarks can run many "minutes" per second.
"""

from __future__ import annotations

import threading
from collections import deque

from chargen_es.emulator.clock import Clock, WallClock


class Quota:
    """Admits at most ``limit`` calls per ``window_s`` seconds per model; None admits all.

    Per model, like Google's ``...PerProjectPerModel`` quotas.
    """

    def __init__(self, limit: int | None, window_s: float = 60.0, clock: Clock | None = None) -> None:
        self.limit = limit
        self.clock: Clock = clock or WallClock()
        self.window_s = window_s
        self._lock = threading.Lock()
        self._accepted: dict[str, deque[float]] = {}

    def admit(self, model: str) -> float | None:
        """Record an accepted call and return None, or return the seconds to wait."""
        if self.limit is None:
            return None
        now = self.clock.now()
        with self._lock:
            accepted = self._accepted.setdefault(model, deque())
            horizon = now - self.window_s
            while accepted and accepted[0] <= horizon:
                accepted.popleft()
            if len(accepted) >= self.limit:
                return max(0.001, accepted[0] + self.window_s - now)
            accepted.append(now)
            return None
