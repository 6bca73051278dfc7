"""The engine's working view of a run: an in-memory fold of the journal for decisions.

``projections`` renders the public documents (state.json, report.json, ...); this fold
keeps the indices the engine decides from (tasks by chunk, the latest upload per content
hash, intents without outcomes, the current job of each chunk, applied and failed keys).
It is pure like every fold: events in, view out, no clock or I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chargen_es import events as ev

TERMINAL_JOB_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})


@dataclass
class UploadRecord:
    sha256: str
    name: str
    uri: str
    expires: str
    mime: str
    size: int
    path: str


@dataclass
class JobRecord:
    attempt: int
    display_name: str
    input_file: str = ""
    job_name: str = ""  # empty while only the intent (job.submitting) is durable
    state: str = ""
    output_file: str = ""
    stats: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_JOB_STATES


@dataclass
class RunView:
    run_id: str = ""
    mode: str = "generate"
    runner: str = "batch"
    config: dict = field(default_factory=dict)
    last_seq: int = 0
    last_at: str = ""
    tasks: dict[str, ev.Task] = field(default_factory=dict)
    chunks: dict[int, list[str]] = field(default_factory=dict)
    skipped: int = 0
    sealed: bool = False
    uploads: dict[str, UploadRecord] = field(default_factory=dict)  # sha256 -> latest live record
    upload_intents: dict[str, ev.UploadStarted] = field(default_factory=dict)  # sha256 -> no outcome yet
    requests: dict[int, ev.RequestsWritten] = field(default_factory=dict)
    jobs: dict[int, JobRecord] = field(default_factory=dict)
    downloads: dict[int, ev.ResultsDownloaded] = field(default_factory=dict)
    applied: dict[str, ev.LineApplied] = field(default_factory=dict)
    failed: dict[str, ev.ItemFailed] = field(default_factory=dict)
    ignored: set[tuple[int, str, str]] = field(default_factory=set)
    call_attempts: dict[str, int] = field(default_factory=dict)
    deleted_files: set[str] = field(default_factory=set)
    lost: dict[str, str] = field(default_factory=dict)  # sha256 -> files/<id> found gone, until re-uploaded
    reopened: dict[int, int] = field(default_factory=dict)  # chunk -> job attempt whose failures run again
    queued: dict[int, ev.JobQueued] = field(default_factory=dict)  # chunk -> latest 429 on create
    terminal: str = ""  # completed | failed | cancelled, "" while open
    paused: str = ""  # reason of the last run.paused, cleared by run.resumed
    message: str = ""  # why the run last failed or paused

    # -- derived -------------------------------------------------------------------

    def settled(self, key: str) -> bool:
        return key in self.applied or key in self.failed

    def pending_keys(self, chunk: int) -> list[str]:
        return [k for k in self.chunks.get(chunk, ()) if k not in self.applied and k not in self.failed]

    def open_chunks(self) -> list[int]:
        return [c for c in sorted(self.chunks) if self.pending_keys(c)]

    @property
    def finished(self) -> bool:
        return bool(self.terminal)


def apply(view: RunView, event: ev.Event) -> RunView:
    """Fold one event into the view (mutates and returns it)."""
    view.last_seq = event.seq
    view.last_at = event.at
    match event:
        case ev.RunStarted():
            view.run_id, view.mode, view.runner, view.config = event.run_id, event.mode, event.runner, event.config
        case ev.RunResumed():
            view.paused = ""
            if view.terminal == "failed":  # a failed run is resumable: it reopens
                view.terminal = ""
        case ev.TaskPlanned():
            task = event.task
            view.tasks[task.key] = task
            view.chunks.setdefault(task.chunk, []).append(task.key)
        case ev.TaskSkipped():
            view.skipped += 1
        case ev.PlanSealed():
            view.sealed = True
        case ev.UploadStarted():
            view.upload_intents[event.sha256] = event
        case ev.UploadCompleted():
            view.upload_intents.pop(event.sha256, None)
            view.lost.pop(event.sha256, None)
            view.uploads[event.sha256] = UploadRecord(event.sha256, event.name, event.uri, event.expires,
                                                      event.mime, event.size, event.path)
        case ev.UploadLost():
            record = view.uploads.get(event.sha256)
            if record is not None and record.name == event.name:
                del view.uploads[event.sha256]
                view.lost[event.sha256] = event.name
        case ev.UploadReused():
            view.upload_intents.pop(event.sha256, None)
            view.lost.pop(event.sha256, None)
            view.uploads[event.sha256] = UploadRecord(event.sha256, event.name, event.uri, event.expires,
                                                      event.mime, event.size, event.path)
        case ev.RequestsWritten():
            view.requests[event.chunk] = event
        case ev.JobSubmitting():
            view.jobs[event.chunk] = JobRecord(attempt=event.attempt, display_name=event.display_name,
                                               input_file=event.input_file)
            view.downloads.pop(event.chunk, None)
            view.queued.pop(event.chunk, None)
        case ev.JobQueued():
            view.queued[event.chunk] = event
        case ev.ItemsReopened():
            for key in event.keys:
                view.failed.pop(key, None)
            view.reopened[event.chunk] = event.attempt
        case ev.JobSubmitted():
            view.queued.pop(event.chunk, None)
            job = view.jobs.setdefault(event.chunk, JobRecord(attempt=event.attempt, display_name=event.display_name))
            job.job_name = event.job_name
            job.state = job.state or "PENDING"
        case ev.JobStateChanged():
            current = view.jobs.get(event.chunk)
            if current is not None and current.job_name == event.job_name:
                current.state = event.state
                current.output_file = event.output_file or current.output_file
                current.stats = dict(event.stats or {})
                current.error = event.error
        case ev.ResultsDownloaded():
            view.downloads[event.chunk] = event
        case ev.LineApplied():
            view.applied[event.key] = event
            view.failed.pop(event.key, None)
        case ev.ItemFailed():
            if event.key not in view.applied:
                view.failed[event.key] = event
        case ev.ResultIgnored():
            view.ignored.add((event.chunk, event.key, event.reason))
        case ev.CallStarted():
            view.call_attempts[event.key] = event.attempt
        case ev.FilesDeleted():
            view.deleted_files.update(event.names)
        case ev.RunPaused():
            view.paused = event.reason
            view.message = event.message or event.reason
        case ev.RunCompleted():
            view.terminal = "completed"
        case ev.RunFailed():
            view.terminal = "failed"
            view.message = event.message
        case ev.RunCancelled():
            view.terminal = "cancelled"
    return view


def build(events: list[ev.AnyEvent]) -> RunView:
    view = RunView()
    for event in events:
        apply(view, event)
    return view
