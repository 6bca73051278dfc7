"""The fold: every journal event folded into one in-memory model of a run.

This is the one fold of a run's events. The four projection files (``state.json``,
``files-cache.json``, ``report.json``, ``plan.json``) are *views* of the model, and the
engine decides from the same model (tasks by chunk, the live upload per content hash,
upload intents without an outcome, the current job per chunk, each key's outcome, call
attempts): it holds the model it folded while appending, so what the engine acts on and
what ``report.json`` says can never disagree. Replay touches each event exactly once: one
dictionary lookup on the event's class picks one handler, and every handler is O(1) (a
few attribute and dict writes, never a copy). Anything that needs a pass over all tasks
(counts per chunk, usage sums) is computed when a view is rendered, once.

The rules where histories could be read two ways:

- ``line.applied k`` then ``item.failed k``: *applied is final*. The key's files and
  imagery entries were written and flushed before ``line.applied``; a later failure (a
  stale duplicate, a retry that lost a race) stays in the journal but does not change the
  outcome. ``item.failed`` then ``line.applied`` is a retry that worked: applied.
- ``run.completed`` or ``run.cancelled`` then ``run.resumed``: *closed is final*. The
  resume is history only and the run stays closed (the engine refuses to resume a closed
  run). ``run.failed`` and ``run.paused`` are reopened by ``run.resumed``. A later ending
  event is still the run's latest end: the committed sample journal, written when a
  cancelled run could be resumed, goes cancelled → resumed → completed and must replay
  to ``completed`` byte for byte.
- ``job.state_changed`` for a job that is not the chunk's current one (an earlier
  attempt's job, or before any ``job.submitting``) is history only: it changes neither the
  chunk's job nor the phase.

Purity: handlers read only the event. The clock enters as the events' ``at`` field, ids as
event fields; nothing here touches the disk, the environment or randomness.

``project(events)`` builds a model; ``fold(model, events)`` continues one without changing
it (one copy per call, not per event), so ``project(a + b) == fold(project(a), b)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from chargen_es import events as ev

# Progress milestones in order; the phase is the furthest one reached unless the run
# ended or paused (docs/run-format.md, section 2). "planning" covers run.started before plan.sealed.
MILESTONES: tuple[str, ...] = (
    "planning", "planned", "staging", "staged", "submitted", "running", "downloading", "applying",
)
_PLANNED, _STAGING, _STAGED, _SUBMITTED, _RUNNING, _DOWNLOADING, _APPLYING = range(1, 8)
_RUNNING_STATES = frozenset({"PENDING", "RUNNING", "JOB_STATE_PENDING", "JOB_STATE_RUNNING"})
_SUCCEEDED_STATES = frozenset({"SUCCEEDED", "JOB_STATE_SUCCEEDED"})

ItemOutcome = ev.LineApplied | ev.ItemFailed
# A batch job that will not change state again (Google's states without the JOB_STATE_
# prefix, as the gateway reports them).
FINISHED_JOB_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})


@dataclass(frozen=True, slots=True)
class Upload:
    """The live remote copy of one content hash (completed or reused upload)."""

    sha256: str
    name: str  # files/<id>
    uri: str
    expires: str  # RFC 3339
    mime: str
    size: int
    path: str
    backend: str = ""  # which server and account holds it (events.UploadCompleted.backend)


@dataclass(frozen=True, slots=True)
class Job:
    """A chunk's current job attempt; replaced (never mutated) as its events arrive."""

    attempt: int
    display_name: str
    input_file: str = ""
    job_name: str = ""  # empty while only the intent (job.submitting) is durable
    state: str = ""
    output_file: str = ""
    stats: dict[str, int] | None = None
    error: str = ""
    backend: str = ""  # where the job lives (job.submitted's backend)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_JOB_STATES


@dataclass(eq=True, slots=True)
class Projections:
    """Everything the journal says about one run, up to event ``seq``.

    Containers are mutated by the fold that owns the object; values inside them are
    immutable (events, :class:`Upload`, :class:`Job`) or small containers that
    :meth:`copy` duplicates (``chunks`` records, ``chunk_keys`` lists).
    """

    seq: int = 0
    last_at: str = ""
    run: ev.RunStarted | None = None
    resumes: list[ev.RunResumed] = field(default_factory=list)
    tasks: dict[str, ev.Task] = field(default_factory=dict)  # plan order
    chunk_keys: dict[int, list[str]] = field(default_factory=dict)  # chunk -> its task keys, plan order
    skipped: dict[str, ev.TaskSkipped] = field(default_factory=dict)
    sealed: ev.PlanSealed | None = None
    milestone: int = 0
    ended: ev.Event | None = None  # run.completed/failed/cancelled/paused; resumed clears failed/paused
    chunks: dict[int, dict[str, Any]] = field(default_factory=dict)  # state.json's chunk records
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # local path -> upload record
    file_names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # files/<id> -> paths
    upload_intents: dict[str, ev.UploadStarted] = field(default_factory=dict)  # sha256 -> intent, no outcome
    uploads: dict[str, Upload] = field(default_factory=dict)  # sha256 -> latest live upload
    requests: dict[int, ev.RequestsWritten] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)  # chunk -> current attempt
    downloads: dict[int, ev.ResultsDownloaded] = field(default_factory=dict)  # of the current attempt
    discarded: dict[int, ev.ResultsDiscarded] = field(default_factory=dict)  # its file deleted once collected
    lost: dict[str, str] = field(default_factory=dict)  # sha256 -> files/<id> found gone, until re-uploaded
    reopened: dict[int, int] = field(default_factory=dict)  # chunk -> job attempt whose failures run again
    reopen_counts: dict[str, int] = field(default_factory=dict)  # key -> times reopened (its retries so far)
    queued: dict[int, ev.JobQueued] = field(default_factory=dict)  # chunk -> latest 429 on create
    outcomes: dict[str, ItemOutcome] = field(default_factory=dict)  # key -> outcome (applied is final)
    ignored: list[ev.ResultIgnored] = field(default_factory=list)
    calls: int = 0
    call_attempts: dict[str, int] = field(default_factory=dict)  # key -> latest call.started attempt
    call_failures: dict[str, int] = field(default_factory=dict)  # kind -> count
    deleted_files: list[str] = field(default_factory=list)
    deleted_jobs: list[str] = field(default_factory=list)
    fallback_policy: ev.FallbackPolicy | None = None  # the latest one
    fallbacks: dict[int, ev.ChunkFallback] = field(default_factory=dict)  # chunk -> its fallback decision
    cancel_intents: dict[int, ev.JobCancelling] = field(default_factory=dict)  # chunk -> cancel, no outcome
    cancels: dict[int, ev.JobCancelConfirmed] = field(default_factory=dict)  # chunk -> confirmed cancel

    def copy(self) -> Projections:
        """An independent copy: containers are duplicated, immutable events are shared."""
        return Projections(
            seq=self.seq, last_at=self.last_at, run=self.run, resumes=list(self.resumes),
            tasks=dict(self.tasks), chunk_keys={k: list(v) for k, v in self.chunk_keys.items()},
            skipped=dict(self.skipped), sealed=self.sealed, milestone=self.milestone, ended=self.ended,
            chunks={k: dict(v) for k, v in self.chunks.items()}, files=dict(self.files),
            file_names=dict(self.file_names), upload_intents=dict(self.upload_intents),
            uploads=dict(self.uploads), requests=dict(self.requests), jobs=dict(self.jobs),
            downloads=dict(self.downloads), discarded=dict(self.discarded), lost=dict(self.lost),
            reopened=dict(self.reopened), reopen_counts=dict(self.reopen_counts),
            queued=dict(self.queued), outcomes=dict(self.outcomes), ignored=list(self.ignored),
            calls=self.calls, call_attempts=dict(self.call_attempts), call_failures=dict(self.call_failures),
            deleted_files=list(self.deleted_files), deleted_jobs=list(self.deleted_jobs),
            fallback_policy=self.fallback_policy, fallbacks=dict(self.fallbacks),
            cancel_intents=dict(self.cancel_intents), cancels=dict(self.cancels),
        )

    @property
    def run_id(self) -> str:
        return self.run.run_id if self.run else ""

    @property
    def mode(self) -> str:
        return self.run.mode if self.run else ""

    @property
    def runner(self) -> str:
        return self.run.runner if self.run else ""

    @property
    def store(self) -> bool:
        """Whether the run's requests ask Google to keep them (``store: true``); runs that
        never said so send ``store: false``, whatever the project's default."""
        return bool(self.run.config.get("store", False)) if self.run else False

    @property
    def closed(self) -> bool:
        """Completed or cancelled: nothing may resume the run (see the rules above)."""
        return isinstance(self.ended, CLOSING_TYPES)

    @property
    def message(self) -> str:
        """Why the run last failed or paused ("" when it did neither)."""
        e = self.ended
        if isinstance(e, ev.RunFailed):
            return e.message
        if isinstance(e, ev.RunPaused):
            return e.message or e.reason
        return ""

    # -- the engine's decision queries (pure reads) ----------------------------------

    def settled(self, key: str) -> bool:
        """The key has an outcome (applied, or failed and not reopened)."""
        return key in self.outcomes

    def applied(self, key: str) -> bool:
        """The key's outputs are in the tree (``line.applied``): final, whichever path delivered it."""
        return self.outcomes.get(key).__class__ is ev.LineApplied

    def pending_keys(self, chunk: int) -> list[str]:
        outcomes = self.outcomes
        return [k for k in self.chunk_keys.get(chunk, ()) if k not in outcomes]

    def open_chunks(self) -> list[int]:
        return [c for c in sorted(self.chunk_keys) if self.pending_keys(c)]

    def outcome_counts(self) -> tuple[int, int]:
        """(applied, failed), one pass over the outcomes."""
        failed = sum(1 for o in self.outcomes.values() if o.__class__ is ev.ItemFailed)
        return len(self.outcomes) - failed, failed

    @property
    def phase(self) -> str:
        """planned → … → applying, or completed / failed / cancelled / paused."""
        if self.ended is not None:
            return _ENDED_PHASE[type(self.ended)]
        return MILESTONES[self.milestone]


_ENDED_PHASE: dict[type, str] = {
    ev.RunCompleted: "completed", ev.RunFailed: "failed", ev.RunCancelled: "cancelled", ev.RunPaused: "paused",
}
ENDING_TYPES: tuple[type[ev.Event], ...] = tuple(_ENDED_PHASE)  # end or pause a run
CLOSING_TYPES: tuple[type[ev.Event], ...] = (ev.RunCompleted, ev.RunCancelled)  # nothing resumes after


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
    if not isinstance(p.ended, CLOSING_TYPES):
        p.ended = None


def _task_planned(p: Projections, e: ev.TaskPlanned) -> None:
    task = e.task
    p.tasks[task.key] = task
    try:
        p.chunk_keys[task.chunk].append(task.key)
    except KeyError:
        p.chunk_keys[task.chunk] = [task.key]


def _task_skipped(p: Projections, e: ev.TaskSkipped) -> None:
    p.skipped[e.key] = e


def _plan_sealed(p: Projections, e: ev.PlanSealed) -> None:
    p.sealed = e
    _reach(p, _PLANNED)


def _upload_started(p: Projections, e: ev.UploadStarted) -> None:
    p.upload_intents[e.sha256] = e
    if p.milestone < _STAGING:
        p.milestone = _STAGING


def _record_file(p: Projections, path: str, record: dict[str, Any]) -> None:
    p.files[path] = record
    name = record["name"]
    known = p.file_names.get(name, ())
    if path not in known:
        p.file_names[name] = (*known, path)


def _upload_completed(p: Projections, e: ev.UploadCompleted) -> None:
    p.upload_intents.pop(e.sha256, None)
    p.lost.pop(e.sha256, None)
    p.uploads[e.sha256] = Upload(e.sha256, e.name, e.uri, e.expires, e.mime, e.size, e.path, e.backend)
    _record_file(p, e.path, {
        "sha256": e.sha256, "mime": e.mime, "name": e.name, "uri": e.uri, "expires": e.expires,
        "from_run": p.run.run_id if p.run else "", "purpose": e.purpose, "size": e.size, "seq": e.seq,
        **({"backend": e.backend} if e.backend else {}),
    })
    if e.chunk is not None and e.purpose == "requests":
        _chunk(p, e.chunk)["input_file"] = e.name
    if p.milestone < _STAGING:
        p.milestone = _STAGING


def _upload_reused(p: Projections, e: ev.UploadReused) -> None:
    p.upload_intents.pop(e.sha256, None)
    p.lost.pop(e.sha256, None)
    p.uploads[e.sha256] = Upload(e.sha256, e.name, e.uri, e.expires, e.mime, e.size, e.path, e.backend)
    _record_file(p, e.path, {
        "sha256": e.sha256, "mime": e.mime, "name": e.name, "uri": e.uri, "expires": e.expires,
        "from_run": e.from_run, "purpose": e.purpose, "size": e.size, "seq": e.seq,
        **({"backend": e.backend} if e.backend else {}),
    })
    if p.milestone < _STAGING:
        p.milestone = _STAGING


def _requests_written(p: Projections, e: ev.RequestsWritten) -> None:
    p.requests[e.chunk] = e
    _chunk(p, e.chunk)["requests"] = {"path": e.path, "sha256": e.sha256, "lines": e.lines, "bytes": e.bytes}
    _reach(p, _STAGING)


def _job_submitting(p: Projections, e: ev.JobSubmitting) -> None:
    p.jobs[e.chunk] = Job(attempt=e.attempt, display_name=e.display_name, input_file=e.input_file)
    p.downloads.pop(e.chunk, None)
    p.discarded.pop(e.chunk, None)
    p.queued.pop(e.chunk, None)
    c = _chunk(p, e.chunk)
    c.update(attempt=e.attempt, display_name=e.display_name, job_name="", job_state="SUBMITTING",
             stats=None, output_file="", error="", results=None)
    if e.input_file:
        c["input_file"] = e.input_file
    _reach(p, _STAGED)


def _job_submitted(p: Projections, e: ev.JobSubmitted) -> None:
    p.queued.pop(e.chunk, None)
    job = p.jobs.get(e.chunk) or Job(attempt=e.attempt, display_name=e.display_name)
    p.jobs[e.chunk] = replace(job, job_name=e.job_name, state=job.state or "PENDING", backend=e.backend)
    c = _chunk(p, e.chunk)
    c.update(job_name=e.job_name, display_name=e.display_name, job_state="SUBMITTED")
    if e.attempt > c["attempt"]:
        c["attempt"] = e.attempt
    _reach(p, _SUBMITTED)


def _job_state_changed(p: Projections, e: ev.JobStateChanged) -> None:
    job = p.jobs.get(e.chunk)
    if job is None or job.job_name != e.job_name:
        return  # not the chunk's current job: history only (see the rules above)
    p.jobs[e.chunk] = replace(job, state=e.state, output_file=e.output_file or job.output_file,
                              stats=dict(e.stats) if e.stats else None, error=e.error)
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
    p.downloads[e.chunk] = e
    _chunk(p, e.chunk)["results"] = {"path": e.path, "sha256": e.sha256, "bytes": e.bytes, "lines": e.lines}
    _reach(p, _APPLYING)


def _results_discarded(p: Projections, e: ev.ResultsDiscarded) -> None:
    """The current attempt's results file is gone on purpose (an older attempt's: history)."""
    download = p.downloads.get(e.chunk)
    if download is None or download.sha256 != e.sha256:
        return
    p.discarded[e.chunk] = e
    c = _chunk(p, e.chunk)
    c["results"] = {**c["results"], "discarded": True}


def _line_applied(p: Projections, e: ev.LineApplied) -> None:
    p.outcomes[e.key] = e
    if p.milestone < _APPLYING:
        p.milestone = _APPLYING


def _item_failed(p: Projections, e: ev.ItemFailed) -> None:
    if p.outcomes.get(e.key).__class__ is ev.LineApplied:
        return  # applied is final: the failure stays in the journal only
    p.outcomes[e.key] = e
    if p.milestone < _APPLYING:
        p.milestone = _APPLYING


def _result_ignored(p: Projections, e: ev.ResultIgnored) -> None:
    p.ignored.append(e)


def _call_started(p: Projections, e: ev.CallStarted) -> None:
    p.calls += 1
    p.call_attempts[e.key] = e.attempt
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
                upload = p.uploads.get(record["sha256"])
                if upload is not None and upload.name == name:
                    del p.uploads[record["sha256"]]  # a deleted file is not live
    p.deleted_jobs.extend(e.jobs)


def _upload_lost(p: Projections, e: ev.UploadLost) -> None:
    """A lost file leaves the files cache: no later attempt or run may reuse it."""
    upload = p.uploads.get(e.sha256)
    if upload is not None and upload.name == e.name:
        del p.uploads[e.sha256]
        p.lost[e.sha256] = e.name
    for path in p.file_names.pop(e.name, ()):
        record = p.files.get(path)
        if record is not None and record["name"] == e.name:
            del p.files[path]


def _job_queued(p: Projections, e: ev.JobQueued) -> None:
    p.queued[e.chunk] = e
    _chunk(p, e.chunk).update(attempt=e.attempt, display_name=e.display_name, job_state="QUEUED",
                              error=e.message)


def _items_reopened(p: Projections, e: ev.ItemsReopened) -> None:
    """Reopened items are pending again: their old failure no longer counts."""
    p.reopened[e.chunk] = e.attempt
    for key in e.keys:
        p.reopen_counts[key] = p.reopen_counts.get(key, 0) + 1
        outcome = p.outcomes.get(key)
        if isinstance(outcome, ev.ItemFailed):
            del p.outcomes[key]


def _fallback_policy(p: Projections, e: ev.FallbackPolicy) -> None:
    p.fallback_policy = e


def _chunk_fallback(p: Projections, e: ev.ChunkFallback) -> None:
    p.fallbacks[e.chunk] = e
    _chunk(p, e.chunk)["fallback"] = {"reason": e.reason, "job_name": e.job_name, "keys": e.keys,
                                      "keep_batch": e.keep_batch, "at": e.at}


def _job_cancelling(p: Projections, e: ev.JobCancelling) -> None:
    p.cancel_intents[e.chunk] = e


def _job_cancel_confirmed(p: Projections, e: ev.JobCancelConfirmed) -> None:
    p.cancel_intents.pop(e.chunk, None)
    p.cancels[e.chunk] = e
    job = p.jobs.get(e.chunk)
    if job is not None and job.job_name == e.job_name and job.state != e.state:
        p.jobs[e.chunk] = replace(job, state=e.state)
        _chunk(p, e.chunk)["job_state"] = e.state


def _ended(p: Projections, e: ev.Event) -> None:
    p.ended = e  # the latest end counts; only run.resumed is refused by a closed run


def _not_a_run_event(p: Projections, e: ev.Event) -> None:
    """The review journal's verdicts (``projections.review``) say nothing about a run."""


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
    ev.LineApplied: _line_applied,
    ev.ItemFailed: _item_failed,
    ev.ResultIgnored: _result_ignored,
    ev.CallStarted: _call_started,
    ev.CallFailed: _call_failed,
    ev.FilesDeleted: _files_deleted,
    ev.FallbackPolicy: _fallback_policy,
    ev.ChunkFallback: _chunk_fallback,
    ev.JobCancelling: _job_cancelling,
    ev.JobCancelConfirmed: _job_cancel_confirmed,
    ev.RunPaused: _ended,
    ev.RunCompleted: _ended,
    ev.RunFailed: _ended,
    ev.RunCancelled: _ended,
    ev.UploadLost: _upload_lost,
    ev.JobQueued: _job_queued,
    ev.ItemsReopened: _items_reopened,
    ev.ImagePicked: _not_a_run_event,
    ev.ImageRejected: _not_a_run_event,
    ev.ImageCleared: _not_a_run_event,
    ev.ResultsDiscarded: _results_discarded,
}
assert set(HANDLERS) == set(ev.EVENT_TYPES), "every event type needs a handler"


def mutate(p: Projections, event: ev.Event) -> None:
    """Fold one event into ``p`` in place (the engine's owner of the model calls this)."""
    HANDLERS[event.__class__](p, event)
    p.seq = event.seq
    p.last_at = event.at


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
