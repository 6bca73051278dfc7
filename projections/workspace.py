"""The workspace index: one fold over every run's journal of a content tree.

A tree is run hundreds of times; reading every earlier journal at the start of each run
(to find live uploads and unfinished runs) and in ``inspect`` (one row per run) grew
without bound. This fold keeps, across all runs:

- ``runs``: one summary row per run (mode, runner, counts, timing, estimate, tokens,
  retries, 429s, the phase), stamped by the store with the journal size and last line it
  reflects, so only new journal bytes are ever read again;
- ``uploads``: every live remote copy of a local file (the workspace files cache; the
  same answer as :func:`projections.files.workspace_files_cache`), minus deleted names;
- ``scenes``: per scene (``character/ada/map-room``), what its latest applied result was
  made from (key, prompt digest, reference hashes, model, config) and where it landed: the
  history behind ``status`` and the plan's ``prompt changed`` / ``model changed`` reasons.

Pure like every fold here: events in, no clock, disk or environment. Handlers mutate the
index they are given (the store loads a fresh one per invocation); per-task detail of a
run is kept only while the run can still change (``open``) and dropped once it
completed, so the index stays proportional to the tree, not to its history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec

from chargen_es import events as ev
from projections.files import _expiry_key

INDEX_VERSION = 2  # 2: runs carry their name
_SINGULAR = {"characters": "character", "locations": "location", "chapters": "chapter"}
_RUNNING_STATES = frozenset({"PENDING", "RUNNING", "JOB_STATE_PENDING", "JOB_STATE_RUNNING"})
_SUCCEEDED_STATES = frozenset({"SUCCEEDED", "JOB_STATE_SUCCEEDED"})
_MILESTONES = ("planning", "planned", "staging", "staged", "submitted", "running", "downloading", "applying")
_SENDING = 2  # the first milestone at which something went out (an upload, a call)
_ENDED = {ev.RunCompleted: "completed", ev.RunFailed: "failed", ev.RunCancelled: "cancelled",
          ev.RunPaused: "paused"}
FINAL = frozenset({"completed", "cancelled"})  # a run that can no longer change
HOLDING = frozenset({"", "paused"})  # a run that holds its unapplied keys


class OpenTask(msgspec.Struct, array_like=True):
    """What the index needs of a planned task while its run is open."""

    model: str
    scene: str  # canonical scene id: character/ada/map-room
    prompt_sha: str
    references: list[str]
    config: dict[str, Any]
    status: str = ""  # "" | ok | failed
    prompt_tokens: int = 0
    output_tokens: int = 0


class RunRow(msgspec.Struct, kw_only=True):
    """One run, as the runs table, ``stats`` and ``resume`` need it."""

    run_id: str
    name: str = ""  # ``run --name``, or a batch file's ``name:``
    size: int = 0  # journal bytes folded (stamped by the store)
    tail_crc: str = ""  # CRC of the last folded line (stamped by the store)
    error: str = ""  # why the journal could not be read, if it could not
    seq: int = 0
    mode: str = ""
    runner: str = ""
    started_at: str = ""
    last_at: str = ""
    ended: str = ""  # completed | failed | cancelled | paused | "" while going
    ended_at: str = ""
    milestone: int = 0
    sealed: bool = False
    tasks: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    estimated_batch_usd: float | None = None
    estimated_live_usd: float | None = None
    prices: dict[str, dict[str, float]] = {}
    batch_discount: float = 0.5
    tokens: dict[str, list[int]] = {}  # model -> [prompt, output] over each key's latest outcome
    retries: int = 0  # repeated calls and resubmitted jobs
    rate_limited: int = 0  # calls refused with 429 (rate limit or daily quota)
    resumes: int = 0
    open: dict[str, OpenTask] | None = None  # per planned key, while the run can change
    deleted: bool = False  # the run's folder was deleted (``chargen-es delete``); its totals stay

    @property
    def phase(self) -> str:
        return "deleted" if self.deleted else self.ended or _MILESTONES[self.milestone]

    @property
    def unfinished(self) -> bool:
        """Sealed, neither completed nor cancelled, and worth offering: ``resume`` can continue it."""
        return self.sealed and self.ended not in FINAL and not self.error and not self.stillborn

    @property
    def stillborn(self) -> bool:
        """Failed before it sent anything (a pre-flight refusal: a model the server does not
        have): nothing was paid and a new ``run`` plans the same work, so no command offers
        it (``resume RUN_ID`` still may)."""
        return self.ended == "failed" and self.milestone < _SENDING

    @property
    def holding(self) -> bool:
        """The run still owns its unapplied task keys (workspace invariant: one owner per
        key): sealed, and going, killed or paused. A completed, failed or cancelled run
        holds nothing; resuming a failed one claims its keys again (``engine.keyclaims``)."""
        return self.sealed and self.ended in HOLDING and not self.error


class Upload(msgspec.Struct, kw_only=True):
    sha256: str
    path: str
    mime: str
    name: str
    uri: str
    expires: str
    size: int
    purpose: str
    from_run: str  # the run that uploaded it
    run: str  # the run whose journal recorded it
    backend: str = ""  # which server and account holds it ("" before it was recorded)


class Scene(msgspec.Struct, kw_only=True):
    """The latest applied result of a scene (or of an image's analysis)."""

    key: str
    run: str
    at: str
    model: str
    prompt_sha: str
    references: list[str]
    config: dict[str, Any]
    outputs: list[str]  # paths relative to the root


class WorkspaceIndex(msgspec.Struct, kw_only=True):
    version: int = INDEX_VERSION
    runs: dict[str, RunRow] = {}
    uploads: dict[str, list[Upload]] = {}  # sha256 -> every live record of it
    upload_names: dict[str, str] = {}  # files/<id> -> sha256
    deleted: list[str] = []  # remote names some run deleted (order of folding)
    scenes: dict[str, Scene] = {}


def prompt_digest(prompt: str) -> str:
    """How a prompt is remembered (the planner computes the same: first 16 hex of SHA-256)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def scene_id(key: str) -> str:
    """``characters/ada/x@sha256:…`` or ``character/ada/x@…`` -> ``character/ada/x``."""
    head, sep, rest = key.partition("@")[0].partition("/")
    return f"{_SINGULAR.get(head, head)}{sep}{rest}"


# ------------------------------------------------------------------------ the fold


def fold_run(index: WorkspaceIndex, run_id: str, events: Iterable[ev.Event]) -> WorkspaceIndex:
    """Fold more events of one run (in journal order) into the index; returns it."""
    row = index.runs.get(run_id)
    if row is None:
        row = index.runs[run_id] = RunRow(run_id=run_id, open={})
    deleted = set(index.deleted) if index.deleted else set()
    for e in events:
        handler = _HANDLERS.get(e.__class__)
        if handler is not None:
            handler(index, row, e, deleted)
        row.seq = e.seq
        row.last_at = e.at
    if row.ended == "completed":
        # resume refuses a completed run, so its tasks no longer change: keep the totals only
        # (a cancelled run keeps its detail; resume refuses it too, so it could be dropped the same way)
        row.open = None
    return index


def build(journals: Iterable[tuple[str, Iterable[ev.Event]]]) -> WorkspaceIndex:
    """The index from nothing, folding each run's whole journal (run-id order)."""
    index = WorkspaceIndex()
    for run_id, events in journals:
        fold_run(index, run_id, events)
    return index


def _reach(row: RunRow, rank: int) -> None:
    if row.milestone < rank:
        row.milestone = rank


def _run_started(ix: WorkspaceIndex, row: RunRow, e: ev.RunStarted, _d: set[str]) -> None:
    row.mode, row.runner, row.started_at = e.mode, e.runner, e.at
    row.name = run_name(e.config)
    prices = e.config.get("prices") or {}
    # the numbers only: a price entry also names its ``source`` (catalogue, chargen.yaml)
    row.prices = {str(m): {k: float(v) for k, v in (p or {}).items()
                           if isinstance(v, int | float) and not isinstance(v, bool)}
                  for m, p in prices.items()}
    row.batch_discount = float(e.config.get("batch_discount", 0.5))


def run_name(config: dict[str, Any]) -> str:
    """A run's name: ``run --name``, else its batch file's ``name:``, else none."""
    return str(config.get("name") or config.get("batch_name") or "")


def _run_resumed(ix: WorkspaceIndex, row: RunRow, e: ev.RunResumed, _d: set[str]) -> None:
    row.resumes += 1
    row.ended = row.ended_at = ""


def _task_planned(ix: WorkspaceIndex, row: RunRow, e: ev.TaskPlanned, _d: set[str]) -> None:
    t = e.task
    row.tasks += 1
    if row.open is not None:
        refs = [r.sha256 for r in t.references] + ([t.input_image.sha256] if t.input_image else [])
        row.open[t.key] = OpenTask(model=t.model, scene=scene_id(t.key), prompt_sha=prompt_digest(t.prompt),
                                   references=refs, config=dict(t.generation_config))


def _task_skipped(ix: WorkspaceIndex, row: RunRow, e: ev.TaskSkipped, _d: set[str]) -> None:
    row.skipped += 1


def _plan_sealed(ix: WorkspaceIndex, row: RunRow, e: ev.PlanSealed, _d: set[str]) -> None:
    row.sealed = True
    row.estimated_batch_usd = e.estimated_cost_usd
    row.estimated_live_usd = e.live_cost_usd
    _reach(row, 1)


def _staging(ix: WorkspaceIndex, row: RunRow, e: ev.Event, _d: set[str]) -> None:
    _reach(row, 2)


def _upload(ix: WorkspaceIndex, row: RunRow, e: ev.UploadCompleted | ev.UploadReused, deleted: set[str]) -> None:
    _reach(row, 2)
    if e.name in deleted:
        return
    from_run = e.from_run if isinstance(e, ev.UploadReused) else row.run_id
    ix.uploads.setdefault(e.sha256, []).append(Upload(
        sha256=e.sha256, path=e.path, mime=e.mime, name=e.name, uri=e.uri, expires=e.expires, size=e.size,
        purpose=e.purpose, from_run=from_run, run=row.run_id, backend=e.backend))
    ix.upload_names[e.name] = e.sha256


def _job_submitting(ix: WorkspaceIndex, row: RunRow, e: ev.JobSubmitting, _d: set[str]) -> None:
    _reach(row, 3)
    if e.attempt > 1:
        row.retries += 1


def _job_submitted(ix: WorkspaceIndex, row: RunRow, e: ev.JobSubmitted, _d: set[str]) -> None:
    _reach(row, 4)


def _job_state(ix: WorkspaceIndex, row: RunRow, e: ev.JobStateChanged, _d: set[str]) -> None:
    if e.state in _RUNNING_STATES:
        _reach(row, 5)
    elif e.state in _SUCCEEDED_STATES:
        _reach(row, 6)


def _downloaded(ix: WorkspaceIndex, row: RunRow, e: ev.ResultsDownloaded, _d: set[str]) -> None:
    _reach(row, 7)


def _outcome(ix: WorkspaceIndex, row: RunRow, e: ev.LineApplied | ev.ItemFailed, _d: set[str]) -> None:
    _reach(row, 7)
    task = row.open.get(e.key) if row.open is not None else None
    if task is None:  # not planned by this run, or the run already final: count nothing twice
        return
    if task.status == "ok":
        row.ok -= 1
        _add_tokens(row, task.model, -task.prompt_tokens, -task.output_tokens)
    elif task.status == "failed":
        row.failed -= 1
    if isinstance(e, ev.ItemFailed):
        task.status, task.prompt_tokens, task.output_tokens = "failed", 0, 0
        row.failed += 1
        return
    usage = e.usage
    task.status = "ok"
    task.prompt_tokens = usage.prompt_tokens if usage else 0
    task.output_tokens = usage.output_tokens if usage else 0
    row.ok += 1
    _add_tokens(row, task.model, task.prompt_tokens, task.output_tokens)
    current = ix.scenes.get(task.scene)
    if current is None or e.at >= current.at:
        ix.scenes[task.scene] = Scene(key=e.key, run=row.run_id, at=e.at, model=task.model,
                                      prompt_sha=task.prompt_sha, references=list(task.references),
                                      config=task.config, outputs=[o.path for o in e.outputs])


def _add_tokens(row: RunRow, model: str, prompt: int, output: int) -> None:
    acc = row.tokens.setdefault(model, [0, 0])
    acc[0] += prompt
    acc[1] += output


def _call_started(ix: WorkspaceIndex, row: RunRow, e: ev.CallStarted, _d: set[str]) -> None:
    _reach(row, 5)
    if e.attempt > 1:
        row.retries += 1


def _call_failed(ix: WorkspaceIndex, row: RunRow, e: ev.CallFailed, _d: set[str]) -> None:
    if e.kind in ("rate_limit", "daily_quota") or e.status == 429:
        row.rate_limited += 1


def _files_deleted(ix: WorkspaceIndex, row: RunRow, e: ev.FilesDeleted | ev.UploadLost, deleted: set[str]) -> None:
    """A deleted or lost remote file leaves the workspace files cache: no run reuses it."""
    for name in e.names if isinstance(e, ev.FilesDeleted) else (e.name,):
        if name in deleted:
            continue
        deleted.add(name)
        ix.deleted.append(name)
        sha = ix.upload_names.pop(name, None)
        if sha is not None:
            kept = [u for u in ix.uploads.get(sha, ()) if u.name != name]
            if kept:
                ix.uploads[sha] = kept
            else:
                ix.uploads.pop(sha, None)


def _ended(ix: WorkspaceIndex, row: RunRow, e: ev.Event, _d: set[str]) -> None:
    row.ended = _ENDED[e.__class__]
    row.ended_at = e.at


_HANDLERS: dict[type, Any] = {
    ev.RunStarted: _run_started, ev.RunResumed: _run_resumed, ev.TaskPlanned: _task_planned,
    ev.TaskSkipped: _task_skipped, ev.PlanSealed: _plan_sealed, ev.UploadStarted: _staging,
    ev.UploadCompleted: _upload, ev.UploadReused: _upload, ev.RequestsWritten: _staging,
    ev.JobSubmitting: _job_submitting, ev.JobSubmitted: _job_submitted, ev.JobStateChanged: _job_state,
    ev.ResultsDownloaded: _downloaded, ev.LineApplied: _outcome, ev.ItemFailed: _outcome,
    ev.CallStarted: _call_started, ev.CallFailed: _call_failed, ev.FilesDeleted: _files_deleted,
    ev.UploadLost: _files_deleted,
    ev.RunPaused: _ended, ev.RunCompleted: _ended, ev.RunFailed: _ended, ev.RunCancelled: _ended,
}


# ------------------------------------------------------------------------ views


def files_cache(index: WorkspaceIndex, exclude_run: str = "", backend: str | None = None) -> dict[str, dict[str, Any]]:
    """SHA-256 -> the live upload with the latest expiry, as ``workspace_files_cache`` gives
    it (records of ``exclude_run``'s own journal left out: a run knows its own uploads;
    with ``backend``, only files that server and account holds)."""
    out: dict[str, dict[str, Any]] = {}
    for sha, records in sorted(index.uploads.items()):
        best: Upload | None = None
        for u in records:
            if u.run == exclude_run or (backend is not None and u.backend != backend):
                continue
            if best is None or _expiry_key(u.expires) > _expiry_key(best.expires):
                best = u
        if best is not None:
            out[sha] = {"sha256": best.sha256, "path": best.path, "mime": best.mime, "name": best.name,
                        "uri": best.uri, "expires": best.expires, "size": best.size, "purpose": best.purpose,
                        "from_run": best.from_run, "backend": best.backend}
    return out


def unfinished(index: WorkspaceIndex) -> list[str]:
    """Runs ``resume`` can continue, newest first."""
    return sorted((r.run_id for r in index.runs.values() if r.unfinished), reverse=True)


def holders(index: WorkspaceIndex, exclude_run: str = "") -> dict[str, str]:
    """Task key -> the run that holds it: every key planned by a holding run and not yet
    applied by it (an applied key is final in its run, so it is never sent again)."""
    out: dict[str, str] = {}
    for run_id in sorted(index.runs):
        row = index.runs[run_id]
        if run_id == exclude_run or not row.holding or not row.open:
            continue
        for key, task in row.open.items():
            if task.status != "ok":
                out.setdefault(key, run_id)
    return out


def marks(index: WorkspaceIndex) -> dict[str, int]:
    """Run id -> the last seq folded: how far every run had got when the index was read."""
    return {run_id: row.seq for run_id, row in index.runs.items()}


def history(index: WorkspaceIndex) -> dict[str, dict[str, Any]]:
    """Per scene, what its latest result was made from (the planner's ``history`` option)."""
    return {sid: {"key": s.key, "prompt_sha": s.prompt_sha, "references": s.references, "model": s.model,
                  "config": s.config, "run": s.run, "outputs": s.outputs}
            for sid, s in index.scenes.items()}


def estimate_at_runner(row: RunRow) -> float | None:
    """The plan's estimate at the prices of the runner that ran it (live pays full price)."""
    return row.estimated_live_usd if row.runner == "live" else row.estimated_batch_usd


def token_cost(row: RunRow, factor: float) -> float | None:
    if not row.prices:
        return None
    total = 0.0
    for model, (tin, tout) in row.tokens.items():
        price = row.prices.get(model) or {}
        total += (tin * float(price.get("input", 0.0)) + tout * float(price.get("output", 0.0))) / 1e6
    return round(total * factor, 6)


def actual_cost(row: RunRow) -> float | None:
    """USD from the reported tokens at the run's own price snapshot and runner."""
    return token_cost(row, row.batch_discount if row.runner == "batch" else 1.0)


def saving_vs_live(row: RunRow) -> float | None:
    """What the same work would have cost as live calls, minus what it cost."""
    actual = actual_cost(row)
    if actual is not None and row.tokens:
        live = token_cost(row, 1.0)
        return None if live is None else round(live - actual, 6)
    est, live_est = estimate_at_runner(row), row.estimated_live_usd
    return None if est is None or live_est is None else round(live_est - est, 6)


ENCODER = msgspec.json.Encoder()
DECODER = msgspec.json.Decoder(WorkspaceIndex)
