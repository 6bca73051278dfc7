"""Which path writes a key's outputs in this invocation, when batch and live race for it.

With ``--keep-batch`` a fallback chunk's batch results may arrive while its live calls are
in flight. The journal decides between invocations (``line.applied`` is final); within
one, the first path to take a key's claim writes it, and the other records its result as
``result.ignored`` (``already_applied``, a paid duplicate). The collect path runs in a
worker thread and the live path on the trio thread, hence the lock.
"""

from __future__ import annotations

import threading


class Claims:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: dict[str, str] = {}  # key -> the path that took it (batch | live)

    def take(self, key: str, via: str) -> bool:
        """True when ``via`` may write ``key`` (first taker, or the same path again)."""
        with self._lock:
            holder = self._taken.setdefault(key, via)
            return holder == via
