"""How one invocation of the engine runs: folders, pacing, concurrency, retries.

Kept apart from the runners so the cli builds it without importing them, and both
runners read the same fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chargen_es import events as ev
from chargen_es.engine.retry import RetryPolicy

# A reference is reused only while it has this much of its 48 h left (ARCHITECTURE.md,
# "Lifetimes"): a job may stay pending or running up to 48 h, so a reused file must be
# about as young as a fresh upload. Files: 48 h (ai.google.dev/gemini-api/docs/files);
# jobs: pending or running past 48 h become EXPIRED (ai.google.dev/gemini-api/docs/batch-api),
# read 2026-12-02.
REUSE_MARGIN_S = 47 * 3600.0


@dataclass(frozen=True)
class FallbackOptions:
    """What this invocation was told (None: keep what the journal's policy says)."""

    deadline_s: float | None = None
    fallback: ev.FallbackMode | None = None
    keep_batch: bool | None = None
    max_cost: float | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.deadline_s, self.fallback, self.keep_batch, self.max_cost))


@dataclass(frozen=True)
class EngineOptions:
    root: Path
    run_dir: Path
    poll_interval: float = 30.0  # seconds between job state checks
    upload_concurrency: int = 5
    max_jobs: int = 100  # chunks between submit and download at once
    cleanup: bool = True  # delete the run's remote request and result files at the end
    detach: bool = False  # return once every job is submitted
    reuse_margin_s: float = REUSE_MARGIN_S  # reuse an upload while it has more life left than this
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    workers: int = 5  # live runner: concurrent calls at most
    generated_at: str = ""  # stamp written into imagery.yaml entries
    fallback: FallbackOptions = field(default_factory=FallbackOptions)  # deadline, live fallback (batch runs)
    # The clock a --deadline is read off: the wall clock the journal stamps events with (a
    # user's promise in wall time). Tests on trio's MockClock pass one that moves with it,
    # so a deadline arrives in virtual time (tests/engine/inproc.py).
    wall_clock: Callable[[], float] = time.time
    resume_command: str = ""  # the exact command that continues this run (the cli's, with its backend flags)
    keep_results: bool = False  # --keep-results: keep each collected results file (or the plan's keep_results)


@dataclass(frozen=True)
class RunOptions:
    """The batch generation guide's options, as the plan journaled them (``options:`` in a
    batch file or chargen.yaml, per-item ``retries``): read from the run's config, so a
    ``resume`` keeps what the run was planned with."""

    max_concurrent: int | None = None  # live workers (instead of --workers)
    delay_s: float = 0.0  # the least time between two live calls' starts
    stop_on_error: bool = False  # pause the run at the first permanent failure
    item_retries: dict[str, int] = field(default_factory=dict)  # key -> new tries after a retryable failure
    keep_results: bool = False  # chargen.yaml's keep_results: keep each collected results file

    @classmethod
    def of(cls, config: dict[str, object]) -> RunOptions:
        options = config.get("options")
        given = options if isinstance(options, dict) else {}
        retries = config.get("item_retries")
        concurrent = given.get("max_concurrent")
        return cls(max_concurrent=concurrent if isinstance(concurrent, int) else None,
                   delay_s=float(given.get("delay_ms") or 0) / 1000.0,
                   stop_on_error=bool(given.get("stop_on_error", False)),
                   item_retries=dict(retries) if isinstance(retries, dict) else {},
                   keep_results=bool(config.get("keep_results")))
