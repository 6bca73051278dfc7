"""The fold: every journal event folded into one in-memory model of a run.

The four projection files (``state.json``, ``files-cache.json``, ``report.json``,
``plan.json``) are *views* of one model rather than four separate folds, so replay touches
each event exactly once: one dictionary lookup on the event's class picks one handler, and
every handler is O(1) (a few attribute and dict writes, never a copy). Anything that needs
a pass over all tasks (counts per chunk, usage sums) is computed when a view is rendered,
once, instead of on every event.

Purity: handlers read only the event. The clock enters as the events' ``at`` field, ids as
event fields; nothing here touches the disk, the environment or randomness.

``project(events)`` builds a model; ``fold(model, events)`` continues one without changing
it (one copy per call, not per event), so ``project(a + b) == fold(project(a), b)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chargen_es import events as ev

# Progress milestones in order; the phase is the furthest one reached unless the run
# ended or paused (design.md section 4). "planning" covers run.started before plan.sealed.
MILESTONES: tuple[str, ...] = (
    "planning", "planned", "staging", "staged", "submitted", "running", "downloading", "applying",
)
_PLANNED, _STAGING, _STAGED, _SUBMITTED, _RUNNING, _DOWNLOADING, _APPLYING = range(1, 8)
_RUNNING_STATES = frozenset({"PENDING", "RUNNING", "JOB_STATE_PENDING", "JOB_STATE_RUNNING"})
_SUCCEEDED_STATES = frozenset({"SUCCEEDED", "JOB_STATE_SUCCEEDED"})

Outcome = ev.LineApplied | ev.ItemFailed


@dataclass(eq=True, slots=True)
class Projections:
    """Everything the journal says about one run, up to event ``seq``.

    Containers are mutated by the fold that owns the object; values inside them are
    either immutable events or (for ``chunks``) small dicts that :meth:`copy` duplicates.
    """

    seq: int = 0
    last_at: str = ""
    run: ev.RunStarted | None = None
    resumes: list[ev.RunResumed] = field(default_factory=list)
    tasks: dict[str, ev.Task] = field(default_factory=dict)  # plan order
    skipped: dict[str, ev.TaskSkipped] = field(default_factory=dict)
    sealed: ev.PlanSealed | None = None
    milestone: int = 0
    ended: ev.Event | None = None  # run.completed/failed/cancelled/paused, cleared by run.resumed
    chunks: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # local path -> upload record
    file_names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # files/<id> -> paths
    in_flight: dict[str, ev.UploadStarted] = field(default_factory=dict)  # sha256 -> intent
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # key -> latest outcome
    ignored: list[ev.ResultIgnored] = field(default_factory=list)
    calls: int = 0
    call_failures: dict[str, int] = field(default_factory=dict)  # kind -> count
    deleted_files: list[str] = field(default_factory=list)
    deleted_jobs: list[str] = field(default_factory=list)

    def copy(self) -> Projections:
        """An independent copy: containers are duplicated, immutable events are shared."""
        return Projections(
            seq=self.seq, last_at=self.last_at, run=self.run, resumes=list(self.resumes),
            tasks=dict(self.tasks), skipped=dict(self.skipped), sealed=self.sealed,
            milestone=self.milestone, ended=self.ended,
            chunks={k: dict(v) for k, v in self.chunks.items()}, files=dict(self.files),
            file_names=dict(self.file_names), in_flight=dict(self.in_flight),
            outcomes=dict(self.outcomes), ignored=list(self.ignored), calls=self.calls,
            call_failures=dict(self.call_failures), deleted_files=list(self.deleted_files),
            deleted_jobs=list(self.deleted_jobs),
        )

    @property
    def run_id(self) -> str:
        return self.run.run_id if self.run else ""

    @property
    def phase(self) -> str:
        """planned → … → applying, or completed / failed / cancelled / paused."""
        if self.ended is not None:
            return _ENDED_PHASE[type(self.ended)]
        return MILESTONES[self.milestone]


_ENDED_PHASE: dict[type, str] = {
    ev.RunCompleted: "completed", ev.RunFailed: "failed", ev.RunCancelled: "cancelled", ev.RunPaused: "paused",
}
TERMINAL_TYPES: tuple[type[ev.Event], ...] = tuple(_ENDED_PHASE)


def new_chunk(n: int) -> dict[str, Any]:
    """A chunk's record in state.json before anything happened to it."""
    return {
        "chunk": n, "requests": None, "input_file": "", "attempt": 0, "display_name": "",
        "job_name": "", "job_state": "", "stats": None, "output_file": "", "error": "", "results": None,
    }


def _chunk(p: Projections, n: int) -> dict[str, Any]:
    try:
        return p.chunks[n]
    except KeyError:
        c = p.chunks[n] = new_chunk(n)
        return c


def _reach(p: Projections, rank: int) -> None:
    if p.milestone < rank:
        p.milestone = rank


# ------------------------------------------------------------------------ handlers


def _run_started(p: Projections, e: ev.RunStarted) -> None:
    p.run = e


def _run_resumed(p: Projections, e: ev.RunResumed) -> None:
    p.resumes.append(e)
    p.ended = None


def _task_planned(p: Projections, e: ev.TaskPlanned) -> None:
    p.tasks[e.task.key] = e.task


def _task_skipped(p: Projections, e: ev.TaskSkipped) -> None:
    p.skipped[e.key] = e


def _plan_sealed(p: Projections, e: ev.PlanSealed) -> None:
    p.sealed = e
    _reach(p, _PLANNED)


def _upload_started(p: Projections, e: ev.UploadStarted) -> None:
    p.in_flight[e.sha256] = e
    if p.milestone < _STAGING:
        p.milestone = _STAGING


def _record_file(p: Projections, path: str, record: dict[str, Any]) -> None:
    p.files[path] = record
    name = record["name"]
    known = p.file_names.get(name, ())
    if path not in known:
        p.file_names[name] = (*known, path)


def _upload_completed(p: Projections, e: ev.UploadCompleted) -> None:
    p.in_flight.pop(e.sha256, None)
    _record_file(p, e.path, {
        "sha256": e.sha256, "mime": e.mime, "name": e.name, "uri": e.uri, "expires": e.expires,
        "from_run": p.run.run_id if p.run else "", "purpose": e.purpose, "size": e.size, "seq": e.seq,
    })
    if e.chunk is not None and e.purpose == "requests":
        _chunk(p, e.chunk)["input_file"] = e.name
    if p.milestone < _STAGING:
        p.milestone = _STAGING


def _upload_reused(p: Projections, e: ev.UploadReused) -> None:
    p.in_flight.pop(e.sha256, None)
    _record_file(p, e.path, {
        "sha256": e.sha256, "mime": e.mime, "name": e.name, "uri": e.uri, "expires": e.expires,
        "from_run": e.from_run, "purpose": e.purpose, "size": e.size, "seq": e.seq,
    })
    if p.milestone < _STAGING:
        p.milestone = _STAGING


def _requests_written(p: Projections, e: ev.RequestsWritten) -> None:
    _chunk(p, e.chunk)["requests"] = {"path": e.path, "sha256": e.sha256, "lines": e.lines, "bytes": e.bytes}
    _reach(p, _STAGING)


def _job_submitting(p: Projections, e: ev.JobSubmitting) -> None:
    c = _chunk(p, e.chunk)
    c.update(attempt=e.attempt, display_name=e.display_name, job_name="", job_state="SUBMITTING",
             stats=None, output_file="", error="")
    if e.input_file:
        c["input_file"] = e.input_file
    _reach(p, _STAGED)


def _job_submitted(p: Projections, e: ev.JobSubmitted) -> None:
    c = _chunk(p, e.chunk)
    c.update(job_name=e.job_name, display_name=e.display_name, job_state="SUBMITTED")
    if e.attempt > c["attempt"]:
        c["attempt"] = e.attempt
    _reach(p, _SUBMITTED)


def _job_state_changed(p: Projections, e: ev.JobStateChanged) -> None:
    c = _chunk(p, e.chunk)
    c["job_name"] = e.job_name
    c["job_state"] = e.state
    if e.stats is not None:
        c["stats"] = e.stats
    if e.output_file:
        c["output_file"] = e.output_file
    c["error"] = e.error
    if e.state in _RUNNING_STATES:
        _reach(p, _RUNNING)
    elif e.state in _SUCCEEDED_STATES:
        _reach(p, _DOWNLOADING)


def _results_downloaded(p: Projections, e: ev.ResultsDownloaded) -> None:
    _chunk(p, e.chunk)["results"] = {"path": e.path, "sha256": e.sha256, "bytes": e.bytes, "lines": e.lines}
    _reach(p, _APPLYING)


def _outcome(p: Projections, e: Outcome) -> None:
    p.outcomes[e.key] = e
    if p.milestone < _APPLYING:
        p.milestone = _APPLYING


def _result_ignored(p: Projections, e: ev.ResultIgnored) -> None:
    p.ignored.append(e)


def _call_started(p: Projections, e: ev.CallStarted) -> None:
    p.calls += 1
    if p.milestone < _RUNNING:
        p.milestone = _RUNNING


def _call_failed(p: Projections, e: ev.CallFailed) -> None:
    p.call_failures[e.kind] = p.call_failures.get(e.kind, 0) + 1


def _files_deleted(p: Projections, e: ev.FilesDeleted) -> None:
    for name in e.names:
        p.deleted_files.append(name)
        for path in p.file_names.pop(name, ()):
            record = p.files.get(path)
            if record is not None and record["name"] == name:
                del p.files[path]
    p.deleted_jobs.extend(e.jobs)


def _upload_lost(p: Projections, e: ev.UploadLost) -> None:
    """A lost file leaves the files cache: no later attempt or run may reuse it."""
    for path in p.file_names.pop(e.name, ()):
        record = p.files.get(path)
        if record is not None and record["name"] == e.name:
            del p.files[path]


def _job_queued(p: Projections, e: ev.JobQueued) -> None:
    _chunk(p, e.chunk).update(attempt=e.attempt, display_name=e.display_name, job_state="QUEUED",
                              error=e.message)


def _items_reopened(p: Projections, e: ev.ItemsReopened) -> None:
    """Reopened items are pending again: their old failure no longer counts."""
    for key in e.keys:
        outcome = p.outcomes.get(key)
        if isinstance(outcome, ev.ItemFailed):
            del p.outcomes[key]


def _ended(p: Projections, e: ev.Event) -> None:
    p.ended = e


Handler = Callable[[Projections, Any], None]

HANDLERS: dict[type, Handler] = {
    ev.RunStarted: _run_started,
    ev.RunResumed: _run_resumed,
    ev.TaskPlanned: _task_planned,
    ev.TaskSkipped: _task_skipped,
    ev.PlanSealed: _plan_sealed,
    ev.UploadStarted: _upload_started,
    ev.UploadCompleted: _upload_completed,
    ev.UploadReused: _upload_reused,
    ev.RequestsWritten: _requests_written,
    ev.JobSubmitting: _job_submitting,
    ev.JobSubmitted: _job_submitted,
    ev.JobStateChanged: _job_state_changed,
    ev.ResultsDownloaded: _results_downloaded,
    ev.LineApplied: _outcome,
    ev.ItemFailed: _outcome,
    ev.ResultIgnored: _result_ignored,
    ev.CallStarted: _call_started,
    ev.CallFailed: _call_failed,
    ev.FilesDeleted: _files_deleted,
    ev.RunPaused: _ended,
    ev.RunCompleted: _ended,
    ev.RunFailed: _ended,
    ev.RunCancelled: _ended,
    ev.UploadLost: _upload_lost,
    ev.JobQueued: _job_queued,
    ev.ItemsReopened: _items_reopened,
}
assert set(HANDLERS) == set(ev.EVENT_TYPES), "every event type needs a handler"


def _fold_into(p: Projections, events: Iterable[ev.Event]) -> Projections:
    handlers = HANDLERS
    last: ev.Event | None = None
    for last in events:
        handlers[last.__class__](p, last)
    if last is not None:
        p.seq = last.seq
        p.last_at = last.at
    return p


def project(events: Iterable[ev.Event]) -> Projections:
    """Fold a run's events (in journal order) from nothing."""
    return _fold_into(Projections(), events)


def fold(projections: Projections, events: Iterable[ev.Event]) -> Projections:
    """Continue a fold with more events; the object passed in is left as it was."""
    return _fold_into(projections.copy(), events)
