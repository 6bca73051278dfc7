"""The event catalogue: every fact a run records, as data.

Events are frozen, keyword-only msgspec Structs tagged by their public ``type`` name
(a run on disk: docs/run-format.md). The tag names are a public contract: ``inspect --type`` filters by
them and old journals must replay forever, so the schema-evolution rules are:

1. a tag never changes meaning and is never reused;
2. a new field always has a default, so an old line still decodes;
3. a field is never removed or retyped; stop writing it instead;
4. a closed vocabulary (the ``Literal`` aliases below) only grows: a value once written
   stays a member forever, even when nothing writes it any more, and a member never
   changes meaning. msgspec refuses a value outside a field's ``Literal`` on decode, so
   a reader meeting a value it does not know refuses the journal with
   ``journal.jsonl:LINE`` and "the journal's writer is newer than this chargen-es", just
   as it refuses an unknown tag: acting on a run whose facts it cannot read (a pause
   reason, the path that delivered a result) could repeat a paid effect or misstate a
   cost, and upgrading is the cure. ``tests/core/test_vocabulary.py`` holds every
   member ever written and fails when one is dropped. Narrowing a ``str`` field to a
   vocabulary (rule 3's one exception) needs every value any release ever wrote as a
   member: read every writer, the committed journals and ``git log -p -S`` first.

What stays ``str`` on purpose: anything Google names (job states, finish reasons and the
item failure codes made from them), free text (messages, ``upload.lost`` and
``items.reopened`` reasons, ``run.cancelled``'s ``by``), mime types, and ``run.failed``'s
``code`` (an exception class name of ``chargen_es.errors``, so it grows with that tree).

``seq`` and ``at`` are stamped by the journal when the event is appended (the clock enters
the system only here, as data), so the folds in ``projections`` stay pure.

One encoder and one decoder are built once and reused: building them per call would cost
more than the encoding itself.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

# ---------------------------------------------------------------------------- vocabularies
# Each alias is closed because chargen-es alone writes and reads it: a new member is a new
# writer in this repository, so mypy checks every writer and every comparison. Members
# written once stay members (rule 4), even when no writer uses them any more.

# What a run does (``run --mode``; a task's ``kind``). Closed: a third mode would need its
# own requests, apply path and imagery.yaml entries.
Mode = Literal["generate", "analyze"]

# The path that carries requests to Gemini (``run --runner``). Closed: each is an engine module.
Runner = Literal["batch", "live"]

# Which path delivered a result (``line.applied`` / ``result.ignored``); "" in journals
# written before the field, where the run's ``runner`` is the answer.
Via = Literal["", Runner]

# A content tree's entity folders (``planner.tree.ENTITY_FILES``) plus ``batch`` for a batch
# file's items. Closed: each has its own entity file and imagery.yaml shape.
EntityType = Literal["characters", "locations", "chapters", "batch"]

# Why a task is planned: the skip check's verdict (``new``, ``missing``, ``changed``,
# ``forced``) or, with the workspace history, what changed since the scene's last result.
# Closed: the planner's skip check is the only writer; the plan views print them.
TaskReason = Literal[
    "new", "missing", "changed", "forced",
    "inputs changed", "prompt changed", "references changed", "image changed", "model changed",
    "config changed", "analysis changed", "new take", "rejected",
]

# Why a task is not planned: ``done`` (imagery.yaml proves its outputs intact) or ``held``
# (another unfinished run of the workspace holds the key and will deliver it) or ``picked``
# (the user picked a take of the scene: it is settled, even when its inputs changed). Closed:
# the skip check's verdicts that skip; anything the planner refuses is a validation problem.
SkipReason = Literal["done", "held", "picked"]

# What an uploaded file is for. Closed: the engine's staging decides, and the files cache,
# reuse and cleanup treat each differently (requests files are never reused across runs).
UploadPurpose = Literal["reference", "analysis-input", "requests"]

# Where an item failed: in the job's result, applying it, a live call, or (the sample
# journal only; nothing writes it now) a key with no result line. Closed: one per engine step.
ItemStage = Literal["result", "apply", "call", "missing"]

# Why a result line was ignored. Closed: the collector's and live runner's verdicts.
IgnoredReason = Literal["duplicate", "unknown", "unparseable", "already_applied"]

# How a live call failed, as chargen-es classified Google's answer (``gateway.translation``):
# the classes are ours, so the set is closed even though the status codes are Google's.
CallFailureKind = Literal["rate_limit", "transient", "permanent", "daily_quota", "billing"]

# Where a chunk's remaining work goes at its deadline (``--fallback``). Closed: a click choice.
FallbackMode = Literal["live", "none"]

# Why a chunk fell back to live calls: its deadline passed, or its job ended EXPIRED or
# FAILED. Closed: ``engine.fallback`` decides; Google's job state stays in ``job.state_changed``.
FallbackReason = Literal["deadline", "expired", "failed"]

# Why a run paused (resumable). Closed: each is one stop in the engine and one hint in the cli.
PauseReason = Literal["interrupted", "detached", "daily_quota", "billing", "retry", "max_cost", "preview",
                      "stop_on_error"]

# Every alias above, by name: the vocabulary test walks it so a new alias is covered the day
# it is added.
VOCABULARIES: dict[str, Any] = {
    "Mode": Mode, "Runner": Runner, "Via": Via, "EntityType": EntityType, "TaskReason": TaskReason,
    "SkipReason": SkipReason, "UploadPurpose": UploadPurpose, "ItemStage": ItemStage,
    "IgnoredReason": IgnoredReason, "CallFailureKind": CallFailureKind, "FallbackMode": FallbackMode,
    "FallbackReason": FallbackReason, "PauseReason": PauseReason,
}


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
    kind: Mode
    entity_type: EntityType
    slug: str
    scene: str  # scene id, or "analyze:<image stem>"
    prompt: str
    model: str
    output_dir: str  # relative to --root, posix
    output_stem: str  # file name without extension; the extension comes from the result mime
    title: str = ""
    references: tuple[FileRef, ...] = ()
    input_image: FileRef | None = None  # analysis tasks: the image analysed
    # the request's settings beside its contents: ``generationConfig`` fields, plus
    # ``safetySettings`` when the plan set any (sent at the request's top level)
    generation_config: dict[str, Any] = {}
    chunk: int = 0
    reason: TaskReason = "new"
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
    mode: Mode
    runner: Runner
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
    reason: SkipReason
    entity_type: EntityType | Literal[""] = ""
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
    purpose: UploadPurpose
    path: str
    sha256: str
    size: int
    mime: str
    display_name: str
    chunk: int | None = None


class UploadCompleted(Event, tag="upload.completed", kw_only=True, frozen=True):
    purpose: UploadPurpose
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
    # Which server and account holds the file (``Backend.identity``: base URL, API version,
    # key fingerprint); "" in journals written before it was recorded (never reused)
    backend: str = ""


class UploadReused(Event, tag="upload.reused", kw_only=True, frozen=True):
    path: str
    sha256: str
    name: str
    uri: str
    expires: str
    from_run: str
    purpose: UploadPurpose = "reference"
    mime: str = ""
    size: int = 0
    backend: str = ""  # as upload.completed: where the reused file lives


class UploadLost(Event, tag="upload.lost", kw_only=True, frozen=True):
    """A remote file this run relied on is gone before its recorded expiry (expired by the
    server's clock, deleted): found by listing, so no attempt or run uses it again."""

    sha256: str
    name: str  # files/<id>
    path: str = ""
    reason: str = ""  # free text


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
    reason: str = ""  # open: the item.failed codes reopened, comma-joined


class JobSubmitted(Event, tag="job.submitted", kw_only=True, frozen=True):
    chunk: int
    job_name: str
    display_name: str
    attempt: int = 1
    adopted: bool = False  # found by listing batches on resume instead of created now
    backend: str = ""  # Backend.identity of the server holding the job ("" before it was recorded)


class JobStateChanged(Event, tag="job.state_changed", kw_only=True, frozen=True):
    chunk: int
    job_name: str
    state: str  # Google's: PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED | EXPIRED | a new one (open)
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


class ResultsDiscarded(Event, tag="results.discarded", kw_only=True, frozen=True):
    """A collected results file deleted from the run folder (``keep_results`` off).

    Every line of it was applied or reported and journaled first; its images are in the
    tree and each output's SHA-256 and size in ``line.applied``, so the raw answers
    (base64 images, thought signatures) would only be a second copy. Recorded after the
    deletion (an unlink is idempotent, and a resume discards what a crash left)."""

    chunk: int
    path: str
    sha256: str
    bytes: int


class LineApplied(Event, tag="line.applied", kw_only=True, frozen=True, omit_defaults=True):
    """``omit_defaults``: ``via`` came later; a line without it re-encodes byte for byte."""

    key: str
    chunk: int
    outputs: tuple[Output, ...] = ()
    files_updated: tuple[str, ...] = ()
    usage: Usage | None = None
    via: Via = ""  # the path that delivered it ("" in old journals: the run's runner)
    # the model that answered, as the response's ``modelVersion`` says ("" in old journals
    # and when the response did not say): Google answers retired models with another one
    model_version: str = ""
    # set only when another model than the task's answered and the catalogue prices it:
    # live USD per 1M tokens (input, output), so the report prices the item at that model
    answered_price: dict[str, float] | None = None


class ItemFailed(Event, tag="item.failed", kw_only=True, frozen=True):
    key: str
    stage: ItemStage
    code: str  # open: ours (no_image, bad_analysis, http_429, ...) or Google's finishReason
    message: str
    retryable: bool = False
    detail_path: str = ""
    chunk: int | None = None


class ResultIgnored(Event, tag="result.ignored", kw_only=True, frozen=True, omit_defaults=True):
    """A result that was reported and ignored: a duplicate or unplanned key, or a key the other
    path (batch / live) applied first. ``omit_defaults``: ``via`` and ``usage`` came later."""

    key: str
    chunk: int
    reason: IgnoredReason  # already_applied: the other path delivered it first
    line: int = 0
    via: Via = ""  # already_applied: the path whose result was ignored, a paid duplicate
    usage: Usage | None = None  # already_applied: what the ignored result cost in tokens


class CallStarted(Event, tag="call.started", kw_only=True, frozen=True):
    key: str
    attempt: int


class CallFailed(Event, tag="call.failed", kw_only=True, frozen=True):
    key: str
    attempt: int
    kind: CallFailureKind
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
    fallback: FallbackMode = "live"
    keep_batch: bool = False  # let the batch job run on; the first delivery of a key wins
    max_cost: float | None = None


class ChunkFallback(Event, tag="chunk.fallback", kw_only=True, frozen=True):
    """A chunk's unapplied tasks go live (decided once per chunk, before any cancel or call)."""

    chunk: int
    reason: FallbackReason
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
    state: str  # Google's job state (open, like job.state_changed's)


class FilesDeleted(Event, tag="files.deleted", kw_only=True, frozen=True):
    names: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()


class RunPaused(Event, tag="run.paused", kw_only=True, frozen=True):
    """The run stopped on purpose and can be resumed (Ctrl-C, --detach, daily quota)."""

    reason: PauseReason
    message: str = ""


class RunCompleted(Event, tag="run.completed", kw_only=True, frozen=True):
    ok: int
    failed: int
    skipped: int


class RunFailed(Event, tag="run.failed", kw_only=True, frozen=True):
    code: str  # open: a chargen_es.errors class name, "internal", "job_failed", MODEL_UNAVAILABLE ...
    message: str


# run.failed's code for a pre-flight refusal (a model the server does not have): nothing was
# sent and a resume asks the same question again, so no command offers to resume it
MODEL_UNAVAILABLE = "model_unavailable"


# ---------------------------------------------------------------------------- the review journal
# A workspace's verdicts on its images (``.chargen/review/journal.jsonl``, same journal rules
# as a run's). An image is one output: its task key and the SHA-256 of its bytes, so a take
# made again under the same key (``--force``) is a new image waiting for its own verdict.
# ``path`` is where the image was (root-relative) when judged, for people.


class ImagePicked(Event, tag="image.picked", kw_only=True, frozen=True):
    """The user keeps this take (the scene is settled; a later run never re-plans it)."""

    key: str
    sha256: str
    path: str = ""


class ImageRejected(Event, tag="image.rejected", kw_only=True, frozen=True):
    """The user does not keep this take; ``note`` says why (it steers the next round)."""

    key: str
    sha256: str
    path: str = ""
    note: str = ""


class ImageCleared(Event, tag="image.cleared", kw_only=True, frozen=True):
    """An earlier verdict withdrawn: the image waits for one again."""

    key: str
    sha256: str
    path: str = ""


class RunCancelled(Event, tag="run.cancelled", kw_only=True, frozen=True):
    by: str  # free text: "user (pid N)", "remote"
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
    | ImagePicked
    | ImageRejected
    | ImageCleared
    | ResultsDiscarded
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
