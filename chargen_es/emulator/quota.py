"""The per-minute request quota of generateContent, as a sliding window.

A sliding window (rather than a fixed one) gives the retry delay a precise meaning: the
time until the oldest accepted call leaves the window. That is what a live runner needs
to use about all of its quota without hammering the server with 429s. The window length
is configurable so benchmarks can run many "minutes" per second.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class Quota:
    """Admits at most ``limit`` calls per ``window_s`` seconds; ``limit=None`` admits all."""

    def __init__(self, limit: int | None, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._accepted: deque[float] = deque()

    def admit(self) -> float | None:
        """Record an accepted call and return None, or return the seconds to wait."""
        if self.limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            horizon = now - self.window_s
            while self._accepted and self._accepted[0] <= horizon:
                self._accepted.popleft()
            if len(self._accepted) >= self.limit:
                return max(0.001, self._accepted[0] + self.window_s - now)
            self._accepted.append(now)
            return None
