"""What a chunk needs next: a pure function of the run's model (no clock, no I/O).

The batch runner loops ``next_step`` → act → journal (which folds the outcome into the
model) until the chunk is done or blocked, so a resumed run continues from whatever the
journal says, with the same code path as a fresh one.
"""

from __future__ import annotations

import enum

from projections import Projections

RESULT_FAILED_STATES = frozenset({"FAILED", "EXPIRED"})


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
    if job.state in RESULT_FAILED_STATES:
        return Step.SUBMIT if retry_failed else Step.BLOCKED
    if job.state == "CANCELLED":
        return Step.BLOCKED
    if job.state != "SUCCEEDED":
        return Step.POLL
    if chunk not in model.downloads:
        return Step.DOWNLOAD
    return Step.COLLECT
