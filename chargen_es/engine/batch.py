"""The batch runner: each open chunk driven from ``next_step`` to its end, exactly once.

``run`` and ``resume`` both end here, with the model folded from the journal. Each chunk
loops ``next_step(model, chunk)`` (:mod:`chargen_es.engine.decide`, pure) → act → journal.
The acts belong to their owners: :class:`~chargen_es.engine.uploads.Uploads` (staging,
shared with the live runner), :class:`~chargen_es.engine.jobs.Jobs` (submit, settle,
create, poll), :class:`~chargen_es.engine.collect.Results` (download, collect) and
:mod:`~chargen_es.engine.cleanup`. Every external effect is bracketed by journal events
(intent, effect, outcome), so a crash anywhere leaves an intent the next invocation
settles by asking the remote side before doing anything again.

Concurrency (trio): one nursery for uploads (``--upload-concurrency``), one task per
chunk with at most ``max_jobs`` chunks between submit and download at once. Blocking SDK
calls run in worker threads under one ``CapacityLimiter``; journal appends always happen
on the trio thread, so the journal has exactly one writer.
"""

from __future__ import annotations

import trio

from chargen_es import events as ev
from chargen_es.engine import preflight
from chargen_es.engine.cleanup import delete_run_files
from chargen_es.engine.collect import Results
from chargen_es.engine.decide import Step, next_step, rerunnable, retry_keys
from chargen_es.engine.fallback import Fallback
from chargen_es.engine.jobs import Jobs
from chargen_es.engine.options import EngineOptions, RunOptions
from chargen_es.engine.pauses import stop_on_error_message
from chargen_es.engine.preflight import models_ready
from chargen_es.engine.preview import run_preview
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.uploads import Uploads
from chargen_es.gateway import Gateway
from projections import Projections, Upload

_RERUN_WHY = "results lost or referenced files gone before the job read them"


class BatchRunner:
    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
                 workspace: dict[str, tuple[str, Upload]] | None = None) -> None:
        self.rec = recorder
        self.gw = gateway
        self.opt = options
        self.progress = progress
        self.uploads = Uploads(recorder, gateway, options, progress, workspace)
        self.jobs = Jobs(recorder, gateway, options, progress, self.uploads)
        self.results = Results(recorder, gateway, options, progress, self.uploads)
        self.job_slots = trio.CapacityLimiter(options.max_jobs)
        self.fallback = Fallback(recorder, gateway, options, progress, self.uploads, self.jobs, self.results,
                                 self.stop)
        self._scope: trio.CancelScope | None = None
        run = recorder.model.run
        self.run_options = RunOptions.of(run.config if run else {})
        self.stopped_on_error = ""  # stopOnError: the permanent failure that stopped the run

    def stop(self) -> None:
        """Stop every chunk at its next checkpoint (a pause: effects in flight land first)."""
        if self._scope is not None:
            self._scope.cancel()

    @property
    def model(self) -> Projections:
        return self.rec.model

    async def run(self) -> str:
        """Drive every open chunk to its end; returns completed | failed | cancelled | detached | paused."""
        model = self.model
        self.reopen_rerunnable()
        self.fallback.record_policy(self.opt.fallback)
        stopped = await run_preview(self.rec, self.fallback.live, self.progress, self.uploads)
        if stopped:  # a first look (engine.preview): resume sends the rest
            return stopped
        chunks = model.open_chunks()
        # only chunks that will send requests need their inputs live (and their model
        # checked): a chunk past its create must not re-upload (and so forget) a reference
        # its job found gone
        sending = [c for c in chunks if next_step(model, c, True) in (Step.SUBMIT, Step.SETTLE_JOB)]
        if not await models_ready(self.rec, self.jobs.get_model, {self.jobs.chunk_model(c) for c in sending},
                                  preflight.BATCH_METHOD):
            return "failed"
        self.progress.phase("staging", f"{len(model.tasks)} tasks in {len(model.chunk_keys)} chunks")
        await self.uploads.stage(sending)
        self.progress.phase("submitted" if chunks else "applying")
        self.progress.start("items", len(model.tasks), "items")
        self.progress.advance("items", len(model.outcomes))
        async with trio.open_nursery() as nursery:
            self._scope = nursery.cancel_scope
            for chunk in chunks:  # jobs that failed before this invocation get a fresh attempt
                nursery.start_soon(self.drive_chunk, chunk, True)
        if self.fallback.failed:
            return "failed"
        if self.stopped_on_error:
            self.rec.record(ev.RunPaused(reason="stop_on_error", message=self.stopped_on_error))
            self.progress.phase("paused", self.stopped_on_error)
            return "paused"
        if self.fallback.pause_reason:
            self.rec.record(ev.RunPaused(reason=self.fallback.pause_reason, message=self.fallback.pause_message))
            return "paused"
        if self.opt.detach and any(next_step(model, c, False) == Step.POLL for c in model.chunk_keys):
            self.rec.record(ev.RunPaused(reason="detached", message="jobs submitted; `resume` collects them"))
            return "detached"
        return await self.finish()

    async def finish(self) -> str:
        model = self.model
        unfinished = [c for c in sorted(model.fallbacks) if model.pending_keys(c)]
        if unfinished:
            self.rec.record(ev.RunFailed(code="fallback_incomplete", message=f"chunks {unfinished} still have "
                                         "items the live fallback did not deliver; `resume` continues them"))
            return "failed"
        blocked = [c for c in sorted(model.chunk_keys) if next_step(model, c, False) == Step.BLOCKED]
        if blocked:
            states = ", ".join(f"chunk {c}: {model.jobs[c].state}" for c in blocked)
            if all(model.jobs[c].state == "CANCELLED" for c in blocked):
                self.rec.record(ev.RunCancelled(by="remote", jobs=tuple(model.jobs[c].job_name for c in blocked)))
                return "cancelled"
            self.rec.record(ev.RunFailed(code="job_failed", message=f"{states}; uploads are kept and `resume` "
                                         "submits a new attempt for these chunks only"))
            return "failed"
        rerun = rerunnable(model)
        if rerun:
            lines = []
            for chunk, keys in sorted(rerun.items()):
                codes = sorted({model.outcomes[k].code for k in keys})  # type: ignore[union-attr]
                lines.append(f"chunk {chunk}: {len(keys)} item(s) {' / '.join(codes)}")
            message = (f"{'; '.join(lines)} ({_RERUN_WHY}); they are marked failed (retryable) and "
                       "`resume` runs them again in a new attempt")
            self.rec.record(ev.RunPaused(reason="retry", message=message))
            self.progress.phase("paused", message)
            return "paused"
        await self.results.discard_collected()
        if self.opt.cleanup:
            await delete_run_files(self.rec, self.gw, self.uploads.calls)
        ok, failed = model.outcome_counts()
        skipped = len(model.skipped)
        self.rec.record(ev.RunCompleted(ok=ok, failed=failed, skipped=skipped))
        self.progress.phase("completed", f"{ok} ok, {failed} failed, {skipped} skipped")
        return "completed"

    def reopen_rerunnable(self) -> None:
        """At the start of an invocation: failures a new attempt fixes become pending again
        (and items with ``retries`` left, when a kill came before their reopening)."""
        model = self.model
        self.rec.record(*(ev.ItemsReopened(chunk=chunk, keys=tuple(keys), attempt=model.jobs[chunk].attempt,
                                           reason=",".join(sorted({model.outcomes[k].code  # type: ignore[union-attr]
                                                                   for k in keys})))
                          for chunk, keys in sorted(rerunnable(model).items())))
        for chunk in sorted(model.chunk_keys):
            self.reopen_retries(chunk)

    def reopen_retries(self, chunk: int) -> bool:
        """Per-item ``retries``: the chunk's retryable failures with tries left are reopened,
        so its next attempt sends those items only; True when any were."""
        model = self.model
        keys = retry_keys(model, chunk, self.run_options.item_retries)
        if keys:
            self.rec.record(ev.ItemsReopened(chunk=chunk, keys=tuple(keys), attempt=model.jobs[chunk].attempt,
                                             reason="retries"))
        return bool(keys)

    def _permanent_failures(self, chunk: int) -> dict[str, ev.ItemFailed]:
        found = {}
        for key in self.model.chunk_keys[chunk]:
            outcome = self.model.outcomes.get(key)
            if isinstance(outcome, ev.ItemFailed) and not outcome.retryable:
                found[key] = outcome
        return found

    def check_stop_on_error(self, chunk: int, before: dict[str, ev.ItemFailed]) -> bool:
        """stopOnError: a permanent failure this collect brought stops every chunk (resumably)."""
        new = [f for k, f in self._permanent_failures(chunk).items() if k not in before]
        if not self.run_options.stop_on_error or not new:
            return False
        first = min(new, key=lambda f: f.seq)
        self.stopped_on_error = stop_on_error_message(first)
        self.stop()
        return True

    async def drive_chunk(self, chunk: int, retry_failed: bool) -> None:
        async with self.job_slots:
            while True:
                if self.fallback.takes(chunk) and await self.fallback.drive(chunk):
                    return
                step = next_step(self.model, chunk, retry_failed)
                if step in (Step.DONE, Step.BLOCKED):
                    return
                if step == Step.SUBMIT:
                    await self.jobs.submit(chunk)
                    retry_failed = False
                elif step == Step.SETTLE_JOB:
                    await self.jobs.settle(chunk)
                elif step == Step.POLL:
                    if self.opt.detach:
                        return
                    await self.jobs.wait_finished(chunk, until=self.fallback.deadline())
                elif step == Step.DOWNLOAD:
                    await self.results.download(chunk)
                elif step == Step.COLLECT:
                    before = self._permanent_failures(chunk) if self.run_options.stop_on_error else {}
                    await self.results.collect(chunk)
                    if self.check_stop_on_error(chunk, before) or not self.reopen_retries(chunk):
                        return
