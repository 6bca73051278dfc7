"""Never stuck: a chunk whose batch job misses the deadline, or ends EXPIRED or FAILED,
finishes live, each item applied exactly once (issue 14).

The rule:

- The policy (``--deadline``, ``--fallback live|none``, ``--keep-batch``, ``--max-cost``)
  enters the journal as ``fallback.policy``; its deadline instant is decided once, as the
  ``at`` of the run's latest ``run.started`` / ``run.resumed`` plus the duration, so every
  decision below is a pure function of the model and a ``now`` (the wall clock the journal
  stamps ``at`` with, read where the runner already waits: between polls).
- :func:`due_reason` says when a chunk leaves the batch path: its job (or the lack of one)
  is not finished at the deadline (``deadline``), or it ended ``EXPIRED`` / ``FAILED``.
  Other chunks carry on as batch.
- Before anything changes, :func:`refusal` prices the fallback at live prices against
  ``--max-cost`` (conservatively: the whole plan at batch prices, plus every fallback's
  unapplied tasks at live prices); above it, the run pauses resumably with a message and
  nothing is journaled for the chunk.
- ``chunk.fallback`` is then journaled. By default the job is cancelled first (intent
  ``job.cancelling``, ``batches.cancel``, outcome ``job.cancel_confirmed`` with the state
  the job reports afterwards; an intent without outcome is settled on resume by getting the
  job and cancelling again only if it is still running), so nothing is paid twice. A job
  that won the race (SUCCEEDED) is collected as batch first. The chunk's unapplied tasks
  then run through the live runner (same workers, throttle and apply path, shared uploads).
- With ``--keep-batch`` the job keeps running while the live calls go; whichever path
  delivers a key first writes it (:class:`~chargen_es.engine.claims.Claims` within an
  invocation, ``line.applied`` across them), the other result is ``result.ignored``
  (``already_applied``, with its path and usage: a paid duplicate). Once live has
  delivered every key, the job is no longer followed.

Facts about Google this relies on (read 2026-12-02): the Batch API's target turnaround is
24 hours, "in majority of cases" much quicker (ai.google.dev/gemini-api/docs/batch-mode);
jobs have PENDING / RUNNING / SUCCEEDED / FAILED / CANCELLED / EXPIRED states and a
``batches.cancel`` method (ai.google.dev/api/batch-mode; python-genai ``batches.cancel``).
Whether the requests a cancelled job already finished are billed was not found documented,
so the ``--max-cost`` check counts the whole plan at batch prices as well as the live part.

A crash anywhere leaves a journal this module continues from: ``chunk.fallback`` is final
for its chunk, a cancel intent is settled by asking Google, a ``call.started`` without
outcome costs at most that one call again, and no key is ever applied twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import trio

from chargen_es import events as ev
from chargen_es.engine import preflight
from chargen_es.engine.claims import Claims
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.options import EngineOptions, FallbackOptions
from chargen_es.engine.preflight import models_ready
from projections import Projections

if TYPE_CHECKING:
    from chargen_es.engine.collect import Results
    from chargen_es.engine.jobs import Jobs
    from chargen_es.engine.live import LiveRunner
    from chargen_es.engine.progress import Progress
    from chargen_es.engine.recorder import Recorder
    from chargen_es.engine.uploads import Uploads
    from chargen_es.gateway import Gateway

SUCCEEDED = "SUCCEEDED"
ENDED_WITHOUT_RESULTS: dict[str, ev.FallbackReason] = {"EXPIRED": "expired", "FAILED": "failed"}


def _parse_at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _stamp(epoch: float) -> str:
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def make_policy(wanted: FallbackOptions, current: ev.FallbackPolicy | None, base_at: str,
                planned_max_cost: float | None) -> ev.FallbackPolicy | None:
    """The policy to journal (None: the journal's one stands); pure.

    A duration counts from ``base_at`` (the invocation's own start); what is not given is
    inherited from ``current``, and ``max_cost`` from the plan when nothing else set it.
    """
    if not wanted.given:
        return None
    if wanted.deadline_s is not None:
        duration: float | None = wanted.deadline_s
        deadline = _stamp(_parse_at(base_at) + wanted.deadline_s) if base_at else ""
    else:
        duration, deadline = (current.duration_s, current.deadline) if current else (None, "")
    fallback = wanted.fallback or (current.fallback if current else "live")
    keep = wanted.keep_batch if wanted.keep_batch is not None else (current.keep_batch if current else False)
    if wanted.max_cost is not None:
        max_cost: float | None = wanted.max_cost
    elif current is not None:
        max_cost = current.max_cost
    else:
        max_cost = planned_max_cost
    return ev.FallbackPolicy(deadline=deadline, duration_s=duration, fallback=fallback, keep_batch=keep,
                             max_cost=max_cost)


def policy_for(model: Projections, wanted: FallbackOptions) -> ev.FallbackPolicy | None:
    """The policy a resumed (or started) run journals for this invocation's options."""
    base = model.resumes[-1].at if model.resumes else (model.run.at if model.run else "")
    planned = (model.run.config if model.run else {}).get("max_cost")
    return make_policy(wanted, model.fallback_policy, base, float(planned) if planned is not None else None)


def _fields(policy: ev.FallbackPolicy) -> tuple[object, ...]:
    return policy.deadline, policy.duration_s, policy.fallback, policy.keep_batch, policy.max_cost


def deadline_epoch(model: Projections) -> float | None:
    policy = model.fallback_policy
    if policy is None or policy.fallback != "live" or not policy.deadline:
        return None
    return _parse_at(policy.deadline)


def due_reason(model: Projections, chunk: int, now: float) -> ev.FallbackReason | Literal[""]:
    """Why ``chunk`` leaves the batch path now ("" = it does not); pure."""
    policy = model.fallback_policy
    if policy is None or policy.fallback != "live" or chunk in model.fallbacks or not model.pending_keys(chunk):
        return ""
    job = model.jobs.get(chunk)
    if job is not None and not job.job_name:
        return ""  # a create intent without outcome is settled first: it may have made a job
    if job is not None and job.state in ENDED_WITHOUT_RESULTS:
        return ENDED_WITHOUT_RESULTS[job.state]
    deadline = deadline_epoch(model)
    if deadline is not None and now >= deadline and not (job is not None and job.state == SUCCEEDED):
        return "deadline"
    return ""


def live_price_per_task(model: Projections) -> float:
    sealed = model.sealed
    return sealed.live_cost_usd / len(model.tasks) if sealed and model.tasks else 0.0


def refusal(model: Projections, chunk: int) -> str:
    """The ``--max-cost`` message when falling back on ``chunk`` would exceed it ("" = go)."""
    policy = model.fallback_policy
    if policy is None or policy.max_cost is None or model.sealed is None:
        return ""
    # Every open chunk whose batch job has not succeeded may still fall back, so the check
    # prices all of them at once: the verdict does not depend on which chunk reaches its
    # deadline first (a small last chunk alone could pass where the run as a whole cannot).
    per = live_price_per_task(model)
    exposed = [c for c in model.open_chunks() if c not in model.fallbacks
               and not ((job := model.jobs.get(c)) is not None and job.state == SUCCEEDED)]
    items = sum(len(model.pending_keys(c)) for c in exposed) or len(model.pending_keys(chunk))
    live = sum(f.live_cost_usd for f in model.fallbacks.values()) + per * items
    projected = model.sealed.estimated_cost_usd + live
    if projected <= policy.max_cost:
        return ""
    return (f"falling back to live calls for chunk {chunk} (with every open chunk: {items} items) would bring "
            f"the run to an estimated ${projected:.4f} (the plan at batch prices ${model.sealed.estimated_cost_usd:.4f}"
            f" + ${live:.4f} live), above --max-cost ${policy.max_cost:.4f}; the batch jobs keep running: "
            "`resume` collects them, `resume --max-cost USD` raises the limit, `resume --fallback none` waits")


class Fallback:
    """The batch runner's fallback path: decide, cancel (or keep), call live, apply once."""

    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
                 uploads: Uploads, jobs: Jobs, results: Results, stop: Callable[[], None]) -> None:
        """The batch runner's own parts (shared uploads, job polling, collect) and its stop."""
        self.rec, self.gw, self.opt, self.progress = recorder, gateway, options, progress
        self.uploads, self.jobs, self.results, self.stop = uploads, jobs, results, stop
        self.claims = Claims()
        results.claims = self.claims
        self._live: LiveRunner | None = None
        self.pause_reason: ev.PauseReason | Literal[""] = ""  # max_cost | daily_quota | billing, once paused
        self.pause_message = ""
        self.failed = False  # the live model failed its pre-flight (run.failed is journaled)
        self._checked: set[str] = set()  # models that passed the generateContent pre-flight

    @property
    def model(self) -> Projections:
        return self.rec.model

    def record_policy(self, wanted: FallbackOptions) -> None:
        policy = policy_for(self.model, wanted)
        current = self.model.fallback_policy
        if policy is not None and (current is None or _fields(policy) != _fields(current)):
            self.rec.record(policy)  # (a fresh run journaled its policy with its plan already)

    def deadline(self) -> float | None:
        return deadline_epoch(self.model)

    def takes(self, chunk: int) -> bool:
        """True when this chunk goes (or went) the fallback way; reads the clock for the deadline."""
        if self.pause_reason or self.failed:
            return False
        model = self.model
        if chunk in model.fallbacks:
            return bool(model.pending_keys(chunk)) or chunk in model.cancel_intents
        return bool(due_reason(model, chunk, self.opt.wall_clock()))

    def pause(self, reason: ev.PauseReason, message: str) -> None:
        if not self.pause_reason:
            self.pause_reason, self.pause_message = reason, message
        self.stop()

    async def drive(self, chunk: int) -> bool:
        """Carry ``chunk`` through its fallback, from wherever the journal left it; False when
        it no longer falls back (the wall clock stepped back since ``takes`` read it)."""
        model = self.model
        if chunk not in model.fallbacks:
            reason = due_reason(model, chunk, self.opt.wall_clock())
            if not reason:
                return False  # never journal a chunk.fallback without a reason
            message = refusal(model, chunk)
            if message:
                self.pause("max_cost", message)
                return True
            policy = model.fallback_policy
            job = model.jobs.get(chunk)
            keys = len(model.pending_keys(chunk))
            self.rec.record(ev.ChunkFallback(chunk=chunk, reason=reason, job_name=job.job_name if job else "",
                                             keys=keys, keep_batch=bool(policy and policy.keep_batch),
                                             live_cost_usd=round(keys * live_price_per_task(model), 6)))
            self.progress.phase("fallback", f"chunk {chunk}: {reason}; {keys} items go live")
        fb = model.fallbacks[chunk]
        if chunk in model.cancel_intents:
            await self.settle_cancel(chunk)
        job = model.jobs.get(chunk)
        if not fb.keep_batch and job is not None and job.job_name and not job.finished and chunk not in model.cancels:
            await self.cancel(chunk)
        job = model.jobs.get(chunk)
        if job is not None and job.state == SUCCEEDED and not fb.keep_batch:
            await self.collect_batch(chunk)  # the job won the race with its cancel: paid, so used
        if not model.pending_keys(chunk):
            return True
        follow = job is not None and job.job_name and fb.keep_batch and job.state not in ("CANCELLED", "EXPIRED",
                                                                                          "FAILED")
        async with trio.open_nursery() as nursery:
            polling = trio.CancelScope()
            if follow:
                nursery.start_soon(self.follow_batch, chunk, polling)
            await self.call_live(chunk)
            polling.cancel()  # live delivered everything: the job is no longer followed
        return True

    async def cancel(self, chunk: int) -> None:
        job = self.model.jobs[chunk]
        self.rec.record(ev.JobCancelling(chunk=chunk, job_name=job.job_name))
        await self._cancel_and_confirm(chunk, job.job_name)

    async def settle_cancel(self, chunk: int) -> None:
        """A cancel intent without outcome: ask the job; cancel again only if it still runs."""
        intent = self.model.cancel_intents[chunk]
        remote = await self.jobs._read(self.gw.get_batch, intent.job_name)
        if remote.state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"):
            self._confirmed(chunk, intent.job_name, remote)
            return
        await self._cancel_and_confirm(chunk, intent.job_name)

    async def _cancel_and_confirm(self, chunk: int, job_name: str) -> None:
        jobs = self.jobs
        crash_point("before", "job.cancel")
        await self.opt.retry.call(jobs._call, self.gw.cancel_batch, job_name)  # idempotent
        crash_point("after", "job.cancel")
        remote = await jobs._read(self.gw.get_batch, job_name)
        self._confirmed(chunk, job_name, remote)

    def _confirmed(self, chunk: int, job_name: str, remote: object) -> None:
        state = getattr(remote, "state", "")
        events: list[ev.Event] = [ev.JobCancelConfirmed(chunk=chunk, job_name=job_name, state=state)]
        if state == SUCCEEDED:  # its results file is needed to collect it
            events.append(ev.JobStateChanged(chunk=chunk, job_name=job_name, state=state,
                                             stats=getattr(remote, "stats", None) or None,
                                             output_file=getattr(remote, "output_file", ""),
                                             error=getattr(remote, "error", "")))
        self.rec.record(*events)

    async def follow_batch(self, chunk: int, polling: trio.CancelScope) -> None:
        """``--keep-batch``: wait for the job beside the live calls; collect it if it delivers."""
        with polling:
            await self.jobs.wait_finished(chunk)
        job = self.model.jobs[chunk]
        if job.state == SUCCEEDED and self.model.pending_keys(chunk):
            await self.collect_batch(chunk)

    async def collect_batch(self, chunk: int) -> None:
        results = self.results
        if chunk not in self.model.downloads:
            await results.download(chunk)
        await results.collect(chunk)

    def live(self) -> LiveRunner:
        if self._live is None:
            from chargen_es.engine.live import LiveRunner

            self._live = LiveRunner(self.rec, self.gw, self.opt, self.progress, uploads=self.uploads,
                                    claims=self.claims)
        return self._live

    async def call_live(self, chunk: int) -> None:
        live = self.live()
        keys = self.model.pending_keys(chunk)
        models = {self.model.tasks[k].model for k in keys} - self._checked
        if models:  # the same pre-flight as a live run: one models.get per model, generateContent
            if not await models_ready(self.rec, live.get_model, models, preflight.LIVE_METHOD):
                self.failed = True
                self.stop()
                return
            self._checked |= models
        await live.call(keys)
        if live.stop_kind is not None:
            self.pause(live.stop_kind, live.stop_reason)

