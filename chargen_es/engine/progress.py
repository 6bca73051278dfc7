"""How the engine reports progress, without knowing how it is shown.

The engine calls a :class:`Progress`; the cli passes a rich implementation on a TTY and
:class:`LineProgress` otherwise (one line per phase change, so logs stay readable).
"""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """Silent progress: the base every view extends."""

    def phase(self, name: str, detail: str = "") -> None:
        """A new phase began (staging, submitted, running, downloading, applying, ...)."""

    def start(self, bar: str, total: int | None, unit: str = "") -> None:
        """A countable piece of work began (uploads n/N, bytes, items)."""

    def advance(self, bar: str, amount: int = 1) -> None:
        """Some of it is done."""

    def status(self, bar: str, text: str) -> None:
        """A free-form status (job state, batch stats, concurrency and rate)."""

    def close(self) -> None:
        """Stop drawing."""


class LineProgress(Progress):
    """One line per phase change: what a log file or CI wants."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._last = ""

    def phase(self, name: str, detail: str = "") -> None:
        line = f"[{name}] {detail}".rstrip()
        if line != self._last:
            print(line, file=self.stream, flush=True)
            self._last = line
