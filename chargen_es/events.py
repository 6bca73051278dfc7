"""The event catalogue: every fact a run records, as data.

Events are frozen, keyword-only msgspec Structs tagged by their public ``type`` name
(a run on disk: docs/run-format.md). The tag names are a public contract: ``inspect --type`` filters by
them and old journals must replay forever, so the schema-evolution rules are:

1. a tag never changes meaning and is never reused;
2. a new field always has a default, so an old line still decodes;
3. a field is never removed or retyped; stop writing it instead.

``seq`` and ``at`` are stamped by the journal when the event is appended (the clock enters
the system only here, as data), so the folds in ``projections`` stay pure.

One encoder and one decoder are built once and reused: building them per call would cost
more than the encoding itself.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Base for value objects carried inside events."""


# ---------------------------------------------------------------------------- values


class FileRef(Struct, kw_only=True, frozen=True):
    """A local file the run depends on: path relative to --root (posix), content hash."""

    path: str
    sha256: str
    size: int = 0
    mime: str = ""


class Task(Struct, kw_only=True, frozen=True):
    """One unit of work: one scene to draw, or one existing image to analyse.

    Everything the result depends on is here, so the task key can be re-derived and a
    resumed run never needs to read the content tree again.
    """

    key: str
    kind: Literal["generate", "analyze"]
    entity_type: str  # characters | locations | chapters
    slug: str
    scene: str  # scene id, or "analyze:<image stem>"
    prompt: str
    model: str
    output_dir: str  # relative to --root, posix
    output_stem: str  # file name without extension; the extension comes from the result mime
    title: str = ""
    references: tuple[FileRef, ...] = ()
    input_image: FileRef | None = None  # analysis tasks: the image analysed
    generation_config: dict[str, Any] = {}
    chunk: int = 0
    reason: str = "new"  # new | missing | changed | forced
    entity_file: str = ""  # the YAML file the task came from, for messages


class Output(Struct, kw_only=True, frozen=True):
    """A file chargen-es wrote for a task."""

    path: str  # relative to --root, posix
    sha256: str
    bytes: int
    mime: str


class Usage(Struct, kw_only=True, frozen=True):
    """Token usage reported by the model for one item."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


# ---------------------------------------------------------------------------- events


class Event(Struct, tag_field="type", kw_only=True, frozen=True):
    """Base of every journal event; ``seq`` and ``at`` are stamped by the journal."""

    seq: int = 0
    at: str = ""  # UTC, millisecond precision, e.g. 2025-12-19T12:00:00.123Z


class RunStarted(Event, tag="run.started", kw_only=True, frozen=True):
    run_id: str
    tool_version: str
    mode: str  # generate | analyze
    runner: str  # batch | live
    root: str = ""
    pid: int = 0
    config: dict[str, Any] = {}  # snapshot of options and chargen.yaml; never the API key


class RunResumed(Event, tag="run.resumed", kw_only=True, frozen=True):
    pid: int
    tool_version: str
    from_seq: int


class TaskPlanned(Event, tag="task.planned", kw_only=True, frozen=True):
    task: Task


class TaskSkipped(Event, tag="task.skipped", kw_only=True, frozen=True):
    key: str
    reason: str  # done | invalid | ...
    entity_type: str = ""
    slug: str = ""
    scene: str = ""
    detail: str = ""


class PlanSealed(Event, tag="plan.sealed", kw_only=True, frozen=True):
    tasks: int
    skipped: int
    chunks: int
    plan_sha256: str
    estimated_cost_usd: float = 0.0
    live_cost_usd: float = 0.0


class UploadStarted(Event, tag="upload.started", kw_only=True, frozen=True):
    purpose: str  # reference | analysis-input | requests
    path: str
    sha256: str
    size: int
    mime: str
    display_name: str
    chunk: int | None = None


class UploadCompleted(Event, tag="upload.completed", kw_only=True, frozen=True):
    purpose: str
    path: str
    sha256: str
    size: int
    mime: str
    display_name: str
    name: str  # files/<id>
    uri: str
    expires: str  # RFC 3339 UTC
    chunk: int | None = None
    adopted: bool = False  # settled on resume by finding the upload remotely


class UploadReused(Event, tag="upload.reused", kw_only=True, frozen=True):
    path: str
    sha256: str
    name: str
    uri: str
    expires: str
    from_run: str
    purpose: str = "reference"
    mime: str = ""
    size: int = 0


class UploadLost(Event, tag="upload.lost", kw_only=True, frozen=True):
    """A remote file this run relied on is gone before its recorded expiry (expired by the
    server's clock, deleted): found by listing, so no attempt or run uses it again."""

    sha256: str
    name: str  # files/<id>
    path: str = ""
    reason: str = ""


class RequestsWritten(Event, tag="requests.written", kw_only=True, frozen=True):
    chunk: int
    path: str
    sha256: str
    lines: int
    bytes: int = 0


class JobSubmitting(Event, tag="job.submitting", kw_only=True, frozen=True):
    chunk: int
    display_name: str
    attempt: int
    model: str = ""
    input_file: str = ""  # files/<id> of the uploaded requests JSONL


class JobQueued(Event, tag="job.queued", kw_only=True, frozen=True):
    """``batches.create`` answered 429 (too many concurrent jobs or enqueued tokens): the
    chunk waits ``wait_s`` and asks again under the same intent; nothing was created."""

    chunk: int
    display_name: str
    attempt: int
    message: str = ""
    retry_after: float | None = None  # the server's RetryInfo, if any
    wait_s: float = 0.0


class ItemsReopened(Event, tag="items.reopened", kw_only=True, frozen=True):
    """Failed items a new attempt of their chunk runs again (their results file was lost,
    or a file they reference was gone): they count as pending from here on."""

    chunk: int
    keys: tuple[str, ...]
    attempt: int  # the job attempt whose failures are reopened
    reason: str = ""


class JobSubmitted(Event, tag="job.submitted", kw_only=True, frozen=True):
    chunk: int
    job_name: str
    display_name: str
    attempt: int = 1
    adopted: bool = False  # found by listing batches on resume instead of created now


class JobStateChanged(Event, tag="job.state_changed", kw_only=True, frozen=True):
    chunk: int
    job_name: str
    state: str  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED | EXPIRED | other
    stats: dict[str, int] | None = None
    output_file: str = ""  # files/batch-... once SUCCEEDED
    error: str = ""


class ResultsDownloaded(Event, tag="results.downloaded", kw_only=True, frozen=True):
    chunk: int
    path: str
    sha256: str
    bytes: int
    lines: int
    remote_name: str = ""


class LineApplied(Event, tag="line.applied", kw_only=True, frozen=True, omit_defaults=True):
    """``omit_defaults``: ``via`` came later; a line without it re-encodes byte for byte."""

    key: str
    chunk: int
    outputs: tuple[Output, ...] = ()
    files_updated: tuple[str, ...] = ()
    usage: Usage | None = None
    via: str = ""  # batch | live: the path that delivered it ("" in old journals: the run's runner)


class ItemFailed(Event, tag="item.failed", kw_only=True, frozen=True):
    key: str
    stage: str  # result | apply | call | missing
    code: str
    message: str
    retryable: bool = False
    detail_path: str = ""
    chunk: int | None = None


class ResultIgnored(Event, tag="result.ignored", kw_only=True, frozen=True, omit_defaults=True):
    """A result that was reported and ignored: a duplicate or unplanned key, or a key the other
    path (batch / live) applied first. ``omit_defaults``: ``via`` and ``usage`` came later."""

    key: str
    chunk: int
    reason: str  # duplicate | unknown | unparseable | already_applied (the other path delivered it first)
    line: int = 0
    via: str = ""  # already_applied: the path whose result was ignored (batch | live), a paid duplicate
    usage: Usage | None = None  # already_applied: what the ignored result cost in tokens


class CallStarted(Event, tag="call.started", kw_only=True, frozen=True):
    key: str
    attempt: int


class CallFailed(Event, tag="call.failed", kw_only=True, frozen=True):
    key: str
    attempt: int
    kind: str  # rate_limit | transient | permanent | daily_quota | billing | file_missing
    status: int = 0
    message: str = ""
    retry_after: float | None = None


class FallbackPolicy(Event, tag="fallback.policy", kw_only=True, frozen=True):
    """When a chunk's remaining work leaves the batch path for live calls (the latest one holds).

    ``deadline`` is decided once, when the policy is journaled: the ``at`` of the run's
    latest ``run.started`` / ``run.resumed`` plus ``duration_s`` ("" = no deadline: only
    EXPIRED and FAILED jobs fall back). ``max_cost`` bounds the run's projected cost once
    a fallback is priced at live prices (None: no limit).
    """

    deadline: str = ""
    duration_s: float | None = None
    fallback: str = "live"  # live | none
    keep_batch: bool = False  # let the batch job run on; the first delivery of a key wins
    max_cost: float | None = None


class ChunkFallback(Event, tag="chunk.fallback", kw_only=True, frozen=True):
    """A chunk's unapplied tasks go live (decided once per chunk, before any cancel or call)."""

    chunk: int
    reason: str  # deadline | expired | failed
    job_name: str = ""
    keys: int = 0  # tasks not applied yet when it was decided
    keep_batch: bool = False
    live_cost_usd: float = 0.0  # those tasks at live prices, as checked against --max-cost


class JobCancelling(Event, tag="job.cancelling", kw_only=True, frozen=True):
    """Intent: ``batches.cancel`` is about to be called (settled on resume by getting the job)."""

    chunk: int
    job_name: str


class JobCancelConfirmed(Event, tag="job.cancel_confirmed", kw_only=True, frozen=True):
    """Outcome of a cancel: the state the job reported afterwards (SUCCEEDED if it won the race)."""

    chunk: int
    job_name: str
    state: str


class FilesDeleted(Event, tag="files.deleted", kw_only=True, frozen=True):
    names: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()


class RunPaused(Event, tag="run.paused", kw_only=True, frozen=True):
    """The run stopped on purpose and can be resumed (Ctrl-C, --detach, daily quota)."""

    reason: str  # interrupted | detached | daily_quota | billing | retry | max_cost
    message: str = ""


class RunCompleted(Event, tag="run.completed", kw_only=True, frozen=True):
    ok: int
    failed: int
    skipped: int


class RunFailed(Event, tag="run.failed", kw_only=True, frozen=True):
    code: str
    message: str


class RunCancelled(Event, tag="run.cancelled", kw_only=True, frozen=True):
    by: str
    jobs: tuple[str, ...] = ()


AnyEvent = (
    RunStarted
    | RunResumed
    | TaskPlanned
    | TaskSkipped
    | PlanSealed
    | UploadStarted
    | UploadCompleted
    | UploadReused
    | RequestsWritten
    | JobSubmitting
    | JobSubmitted
    | JobStateChanged
    | ResultsDownloaded
    | LineApplied
    | ItemFailed
    | ResultIgnored
    | CallStarted
    | CallFailed
    | FallbackPolicy
    | ChunkFallback
    | JobCancelling
    | JobCancelConfirmed
    | FilesDeleted
    | RunPaused
    | RunCompleted
    | RunFailed
    | RunCancelled
    | UploadLost
    | JobQueued
    | ItemsReopened
)

EVENT_TYPES: tuple[type[Event], ...] = AnyEvent.__args__
TYPE_NAMES: tuple[str, ...] = tuple(t.__struct_config__.tag for t in EVENT_TYPES)  # type: ignore[misc]
BY_NAME: dict[str, type[Event]] = dict(zip(TYPE_NAMES, EVENT_TYPES, strict=True))

ENCODER = msgspec.json.Encoder()
DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


def encode(event: Event) -> bytes:
    """Compact JSON for one event, tag first (msgspec writes the tag field first)."""
    return ENCODER.encode(event)


def decode(data: bytes | str) -> Event:
    """Decode one event; unknown fields are ignored so newer writers stay readable."""
    return DECODER.decode(data)


def type_name(event: Event) -> str:
    """The public ``type`` tag of an event."""
    return event.__struct_config__.tag  # type: ignore[return-value]


def to_builtins(obj: Any) -> Any:
    """Structs to plain JSON-able Python values (for --json output and projections)."""
    return msgspec.to_builtins(obj)
