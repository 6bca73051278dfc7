"""What a chunk needs next: a pure function of the run's model (no clock, no I/O).

The batch runner loops ``next_step`` → act → journal (which folds the outcome into the
model) until the chunk is done or blocked, so a resumed run continues from whatever the
journal says, with the same code path as a fresh one.
"""

from __future__ import annotations

import enum

from chargen_es import events as ev
from projections import Projections

RESULT_FAILED_STATES = frozenset({"FAILED", "EXPIRED"})
# Failures a new attempt of the chunk fixes by itself: its results file was lost (404 on
# download), or a file its line referenced was gone when the job read it. They are
# retryable, the run pauses instead of completing, and ``resume`` reopens them.
RESULTS_LOST = "results_lost"
FILE_MISSING = "file_missing"
RERUN_CODES = frozenset({RESULTS_LOST, FILE_MISSING})


class Step(enum.Enum):
    SUBMIT = "submit"  # write + upload requests, then create (or adopt) a job
    SETTLE_JOB = "settle_job"  # an intent without outcome: list batches first
    POLL = "poll"
    DOWNLOAD = "download"
    COLLECT = "collect"  # read the results file and write each item's outputs
    BLOCKED = "blocked"  # the job FAILED/EXPIRED/CANCELLED in this invocation
    DONE = "done"


def next_step(model: Projections, chunk: int, retry_failed: bool) -> Step:
    """The chunk's next step; ``retry_failed`` lets a failed or expired job be submitted again."""
    if not model.pending_keys(chunk):
        return Step.DONE
    job = model.jobs.get(chunk)
    if job is None:
        return Step.SUBMIT
    if not job.job_name:
        return Step.SETTLE_JOB
    if model.reopened.get(chunk) == job.attempt and job.finished:
        return Step.SUBMIT  # failed items of this attempt were reopened: a new attempt runs them
    if job.state in RESULT_FAILED_STATES:
        return Step.SUBMIT if retry_failed else Step.BLOCKED
    if job.state == "CANCELLED":
        return Step.BLOCKED
    if job.state != "SUCCEEDED":
        return Step.POLL
    if chunk not in model.downloads:
        return Step.DOWNLOAD
    return Step.COLLECT


def retry_keys(model: Projections, chunk: int, item_retries: dict[str, int]) -> list[str]:
    """The chunk's items with ``retries`` left whose last attempt failed retryably: a new
    attempt of the chunk, for them only, runs them again within the run (the codes that
    ``rerunnable`` covers wait for ``resume`` as before)."""
    job = model.jobs.get(chunk)
    if not item_retries or job is None or not job.job_name or not job.finished:
        return []
    out = []
    for key in model.chunk_keys.get(chunk, ()):
        outcome = model.outcomes.get(key)
        if (isinstance(outcome, ev.ItemFailed) and outcome.retryable and outcome.code not in RERUN_CODES
                and model.reopen_counts.get(key, 0) < item_retries.get(key, 0)):
            out.append(key)
    return out


def rerunnable(model: Projections) -> dict[int, list[str]]:
    """Failed keys a new attempt fixes, per chunk whose job has finished (nothing in flight)."""
    out: dict[int, list[str]] = {}
    for key, outcome in model.outcomes.items():
        if not isinstance(outcome, ev.ItemFailed) or outcome.code not in RERUN_CODES or outcome.chunk is None:
            continue
        job = model.jobs.get(outcome.chunk)
        if job is not None and job.job_name and job.finished:
            out.setdefault(outcome.chunk, []).append(key)
    return out
