"""How one invocation of the engine runs: folders, pacing, concurrency, retries.

Kept apart from the runners so the cli builds it without importing them, and both
runners read the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chargen_es.engine.retry import RetryPolicy


@dataclass(frozen=True)
class FallbackOptions:
    """What this invocation was told (None: keep what the journal's policy says)."""

    deadline_s: float | None = None
    fallback: str | None = None  # live | none
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
    reuse_margin_s: float = 25 * 3600.0  # reuse an upload while it has more life left than this
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    workers: int = 5  # live runner: concurrent calls at most
    generated_at: str = ""  # stamp written into imagery.yaml entries
    fallback: FallbackOptions = field(default_factory=FallbackOptions)  # deadline, live fallback (batch runs)
