"""The emulator's clock: every lifetime (files, jobs, results, the quota window) reads it.

Why injectable: files live 48 h and a batch job may take up to 48 h before it ends EXPIRED;
no test can wait for that. ``EmulatorConfig.clock`` takes anything with ``now()`` (seconds
since the epoch); the emulator wraps it in a :class:`ShiftedClock` so that
``POST /_emulator/clock`` (``{"advance_s": N}`` or ``{"set": T}``, T in epoch seconds or
RFC 3339) can move time forward from another process, whatever the base clock is.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Clock(Protocol):
    """What the emulator needs of a clock."""

    def now(self) -> float: ...


class WallClock:
    """The default: the real time."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told (for in-process tests)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._t = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds


class ShiftedClock:
    """A base clock plus an offset the control endpoint can change."""

    def __init__(self, base: Clock, offset: float = 0.0,
                 on_change: Callable[[float], None] | None = None) -> None:
        self.base = base
        self._offset = offset
        self._on_change = on_change  # persists the offset with ``--data``
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def now(self) -> float:
        with self._lock:
            return self.base.now() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
            offset = self._offset
        if self._on_change is not None:
            self._on_change(offset)

    def set(self, when: float) -> None:
        base = self.base.now()
        with self._lock:
            self._offset = when - base
            offset = self._offset
        if self._on_change is not None:
            self._on_change(offset)

    def apply(self, body: Any) -> dict[str, Any]:
        """Handle a ``POST /_emulator/clock`` body; returns ``{"now": RFC 3339, "now_s": T}``."""
        if not isinstance(body, dict):
            raise ValueError("clock body must be a JSON object")
        if "advance_s" in body:
            seconds = body["advance_s"]
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ValueError(f"advance_s must be a number >= 0, got {seconds!r}")
            self.advance(float(seconds))
        elif "set" in body:
            self.set(parse_instant(body["set"]))
        elif body:
            raise ValueError(f"clock body needs 'advance_s' or 'set', got keys {sorted(body)}")
        return self.describe()

    def describe(self) -> dict[str, Any]:
        now = self.now()
        return {"now_s": now, "now": _dt.datetime.fromtimestamp(now, _dt.UTC).isoformat()}


def parse_instant(value: Any) -> float:
    """Epoch seconds from a number or an RFC 3339 / ISO 8601 string (UTC if no zone)."""
    if isinstance(value, bool):
        raise ValueError(f"set must be epoch seconds or an RFC 3339 time, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"set: not an RFC 3339 time: {value!r}") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_dt.UTC)
        return parsed.timestamp()
    raise ValueError(f"set must be epoch seconds or an RFC 3339 time, got {value!r}")
