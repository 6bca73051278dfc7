"""The dashboard's model of one run: the public projections plus what a page shows live.

Pure like every fold: ``RunModel.take(events)`` reads only the events (their ``at`` is
the clock), and the records it renders (`summary`, `item`, `chunks`) are plain dicts the
server sends as JSON. The model is kept per run and fed only the events appended since
the last look (the journal's :class:`~chargen_es.journal.Follower`), so a page update
costs the size of what changed, never a re-read of the journal.

Item states, from the journal alone:

* ``skipped`` (with the planner's reason), ``done`` (``line.applied``), ``failed`` (with
  stage, code and message of the latest ``item.failed``);
* otherwise by runner: live items are ``processing`` while a ``call.started`` has no
  outcome, else ``queued``; batch items follow their chunk's job: ``queued`` before a
  job (or after a failed attempt, waiting for the next), ``submitted`` while the job is
  being created or pending, ``processing`` while it runs and its results come back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import projections
from chargen_es import events as ev
from projections.report import actual_cost
from projections.state import chunk_records
from projections.workspace import run_name

_SUBMITTED = frozenset({"SUBMITTING", "SUBMITTED", "PENDING", "JOB_STATE_PENDING"})
_PROCESSING = frozenset({"RUNNING", "JOB_STATE_RUNNING", "SUCCEEDED", "JOB_STATE_SUCCEEDED"})
_CHUNK_EVENTS = (ev.JobSubmitting, ev.JobSubmitted, ev.JobStateChanged, ev.ResultsDownloaded)
_RUN_EVENTS = (ev.RunPaused, ev.RunCompleted, ev.RunFailed, ev.RunCancelled, ev.RunResumed, ev.PlanSealed)
ENDED_PHASES = frozenset({"completed", "failed", "cancelled", "paused"})
IMAGE_MIMES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


def _seconds(a: str, b: str) -> float | None:
    try:
        return (datetime.fromisoformat(b.replace("Z", "+00:00"))
                - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return None


@dataclass
class RunModel:
    """One run as the dashboard shows it; ``take`` folds new events in."""

    run_id: str
    p: projections.Projections = field(default_factory=projections.Projections)
    calling: set[str] = field(default_factory=set)  # live keys with a call and no outcome yet
    keys_by_chunk: dict[int, list[str]] = field(default_factory=dict)
    session_at: str = ""  # when the latest run.started / run.resumed happened
    session_settled: int = 0  # outcomes since then (the ETA's rate)
    last_outcome_at: str = ""

    def take(self, events: Iterable[ev.Event]) -> set[str] | None:
        """Fold events in; returns the task keys whose item changed (None: possibly all)."""
        batch = list(events)
        if not batch:
            return set()
        self.p = projections.fold(self.p, batch)
        touched: set[str] | None = set()
        for e in batch:
            cls = e.__class__
            if cls is ev.TaskPlanned:
                task = e.task  # type: ignore[attr-defined]
                self.keys_by_chunk.setdefault(task.chunk, []).append(task.key)
                if touched is not None:
                    touched.add(task.key)
            elif cls is ev.CallStarted:
                self.calling.add(e.key)  # type: ignore[attr-defined]
                if touched is not None:
                    touched.add(e.key)  # type: ignore[attr-defined]
            elif cls is ev.LineApplied or cls is ev.ItemFailed:
                self.calling.discard(e.key)  # type: ignore[attr-defined]
                self.session_settled += 1
                self.last_outcome_at = e.at
                if touched is not None:
                    touched.add(e.key)  # type: ignore[attr-defined]
            elif cls is ev.TaskSkipped:
                if touched is not None:
                    touched.add(e.key)  # type: ignore[attr-defined]
            elif isinstance(e, _CHUNK_EVENTS):
                if touched is not None:
                    touched.update(self.keys_by_chunk.get(e.chunk, ()))
            elif isinstance(e, _RUN_EVENTS) or cls is ev.RunStarted:
                if cls is ev.RunStarted or cls is ev.RunResumed:
                    self.session_at = e.at
                    self.session_settled = 0
                if cls is not ev.RunResumed and cls is not ev.RunStarted:
                    self.calling.clear()  # the process stopped: nothing is in flight any more
                touched = None
        if touched is not None:  # keys the run never planned (a stray result) have no row
            touched = {k for k in touched if k in self.p.tasks or k in self.p.skipped}
        return touched

    # -- records -------------------------------------------------------------------

    def summary(self, *, active: bool) -> dict[str, Any]:
        """One row of the runs page (and the head of the run page)."""
        p = self.p
        ok, failed = p.outcome_counts()
        processing = sum(1 for k in p.tasks if self.item_state(k)[0] in ("processing", "submitted"))
        ended_at = p.ended.at if p.ended is not None else ""
        pending = len(p.tasks) - ok - failed
        return {
            "id": self.run_id, "name": run_name(p.run.config) if p.run else "", "mode": p.run.mode if p.run else "", "runner": p.run.runner if p.run else "",
            "phase": p.phase, "active": active, "seq": p.seq,
            "tasks": len(p.tasks), "ok": ok, "failed": failed, "skipped": len(p.skipped), "pending": pending,
            "in_flight": processing,
            "started_at": p.run.at if p.run else "", "ended_at": ended_at, "updated_at": p.last_at,
            "duration_s": _seconds(p.run.at, ended_at) if p.run and ended_at else None,
            "eta_at": self.eta_at() if active and pending else "",
            "cost_estimated_usd": p.sealed.estimated_cost_usd if p.sealed else None,
            "cost_actual_usd": actual_cost(p),
            "ended": _ended_text(p.ended), "error": "",
        }

    def eta_at(self) -> str:
        """When the pending items will be done at this session's rate so far ("" unknown)."""
        if not self.session_settled or not self.session_at or not self.last_outcome_at:
            return ""
        spent = _seconds(self.session_at, self.last_outcome_at)
        if not spent or spent <= 0:
            return ""
        ok, failed = self.p.outcome_counts()
        pending = len(self.p.tasks) - ok - failed
        last = datetime.fromisoformat(self.last_outcome_at.replace("Z", "+00:00"))
        finish = last.timestamp() + pending * spent / self.session_settled
        return datetime.fromtimestamp(finish, last.tzinfo).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def item_state(self, key: str) -> tuple[str, str]:
        """(state, reason) of one planned or skipped key."""
        p = self.p
        outcome = p.outcomes.get(key)
        if outcome is not None:
            if outcome.__class__ is ev.ItemFailed:
                return "failed", f"{outcome.stage} {outcome.code}: {outcome.message}"
            return "done", ""
        skipped = p.skipped.get(key)
        if skipped is not None:
            return "skipped", f"{skipped.reason}{': ' + skipped.detail if skipped.detail else ''}"
        if key in self.calling:
            return "processing", ""
        task = p.tasks.get(key)
        if task is None or (p.run is not None and p.run.runner == "live"):
            return "queued", ""
        chunk = p.chunks.get(task.chunk)
        state = chunk["job_state"] if chunk else ""
        if state in _SUBMITTED:
            return "submitted", ""
        if state in _PROCESSING:
            return "processing", ""
        return "queued", ""

    def item(self, key: str) -> dict[str, Any]:
        """One row of the run page's item list; files are named by index, never by path."""
        p = self.p
        state, reason = self.item_state(key)
        task = p.tasks.get(key)
        outcome = p.outcomes.get(key)
        outputs = outcome.outputs if isinstance(outcome, ev.LineApplied) else ()
        record: dict[str, Any] = {"key": key, "state": state, "reason": reason,
                                  "outputs": [{"n": i, "mime": o.mime, "path": o.path, "image": o.mime in IMAGE_MIMES}
                                              for i, o in enumerate(outputs)]}
        if task is not None:
            record.update(kind=task.kind, entity_type=task.entity_type, slug=task.slug, scene=task.scene,
                          title=task.title, chunk=task.chunk, prompt=task.prompt,
                          input_image=task.input_image.path if task.input_image else "")
        else:
            s = p.skipped[key]
            record.update(kind=p.run.mode if p.run else "", entity_type=s.entity_type, slug=s.slug, scene=s.scene,
                          title="", chunk=None, prompt="", input_image="")
        return record

    def item_keys(self) -> list[str]:
        return [*self.p.tasks, *(k for k in self.p.skipped if k not in self.p.tasks)]

    def chunks(self) -> list[dict[str, Any]]:
        return [{k: c[k] for k in ("chunk", "tasks", "attempt", "job_name", "job_state", "stats", "applied",
                                   "failed", "results_downloaded", "error")} for c in chunk_records(self.p)]


def _ended_text(e: ev.Event | None) -> str:
    if e is None:
        return ""
    if isinstance(e, ev.RunPaused):
        return f"paused: {e.reason} {e.message}".rstrip()
    if isinstance(e, ev.RunFailed):
        return f"failed: {e.code}: {e.message}"
    if isinstance(e, ev.RunCancelled):
        return f"cancelled by {e.by}"
    return ""
