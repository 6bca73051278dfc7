"""The batch runner: stage, submit, poll, download, apply, clean up, exactly once.

``run`` and ``resume`` both end here: the journal is folded into a :class:`RunView`, and
each chunk is driven from whatever its view says is next (:func:`next_step`, a pure
function). Every external effect is bracketed by journal events (intent, effect,
outcome), so a crash anywhere leaves an intent the next invocation settles by asking the
remote side (list files, list batches) before doing anything again.

Concurrency (trio): one nursery for uploads (``--upload-concurrency``), one task per
chunk with at most ``max_jobs`` chunks between submit and download at once. Blocking SDK
calls run in worker threads under a ``CapacityLimiter``; journal appends always happen on
the trio thread, so the journal has exactly one writer.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import trio

from chargen_es import events as ev
from chargen_es.engine import preflight, staging
from chargen_es.engine.apply import ApplyContext, Group
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.results import decode_line, from_line
from chargen_es.engine.retry import RetryPolicy, with_retries
from chargen_es.engine.view import JobRecord, RunView, UploadRecord
from chargen_es.errors import (
    BillingError,
    ContentError,
    DailyQuotaExhausted,
    GeminiError,
    NotFound,
    RateLimited,
    TransientError,
)
from chargen_es.gateway import Gateway, RemoteFile, RemoteJob
from projections.atomic import fsync_dir, sha256_file

T = TypeVar("T")
RESULT_FAILED_STATES = frozenset({"FAILED", "EXPIRED"})
UPLOAD_GROUP = 32  # upload outcomes per journal group commit while staging
# Line outcomes per flush and journal group commit while applying. Large, because Gemini
# returns lines in no order: a small group touches most entities of the chunk, and each
# touched imagery.yaml is one locked, fsynced read-modify-write per group.
APPLY_GROUP = 1024
APPLY_GROUP_BYTES = 64 << 20  # ... or fewer, once this much result data is waiting
# Failures a new attempt of the chunk fixes by itself: its results file was lost (404 on
# download), or a file its line referenced was gone when the job read it. They are
# retryable, the run pauses instead of completing, and ``resume`` reopens them.
RESULTS_LOST = "results_lost"
FILE_MISSING = "file_missing"
RERUN_CODES = frozenset({RESULTS_LOST, FILE_MISSING})
# A reference is reused only while it has this much of its 48 h left (see ARCHITECTURE.md,
# "Lifetimes"): a job may stay pending or running up to 48 h, so a reused file must be
# about as young as a fresh upload. Files: 48 h (ai.google.dev/gemini-api/docs/files);
# jobs: pending or running past 48 h become EXPIRED (ai.google.dev/gemini-api/docs/batch-api),
# both as given in the project's wire-protocol notes, read 2026-12-02.
REUSE_MARGIN_S = 47 * 3600.0


@dataclass(frozen=True)
class EngineOptions:
    root: Path
    run_dir: Path
    poll_interval: float = 30.0
    upload_concurrency: int = 5
    max_jobs: int = 100
    cleanup: bool = True
    detach: bool = False
    reuse_margin_s: float = REUSE_MARGIN_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    workers: int = 5
    generated_at: str = ""


class Step(enum.Enum):
    SUBMIT = "submit"  # write + upload requests, then create (or adopt) a job
    SETTLE_JOB = "settle_job"  # an intent without outcome: list batches first
    POLL = "poll"
    DOWNLOAD = "download"
    APPLY = "apply"
    BLOCKED = "blocked"  # the job FAILED/EXPIRED/CANCELLED in this invocation
    DONE = "done"


def next_step(view: RunView, chunk: int, retry_failed: bool) -> Step:
    """What a chunk needs next, from the view alone (no clock, no I/O)."""
    if not view.pending_keys(chunk):
        return Step.DONE
    job = view.jobs.get(chunk)
    if job is None:
        return Step.SUBMIT
    if not job.job_name:
        return Step.SETTLE_JOB
    if view.reopened.get(chunk) == job.attempt and job.done:
        return Step.SUBMIT  # failed items of this attempt were reopened: a new attempt runs them
    if job.state in RESULT_FAILED_STATES:
        return Step.SUBMIT if retry_failed else Step.BLOCKED
    if job.state == "CANCELLED":
        return Step.BLOCKED
    if job.state != "SUCCEEDED":
        return Step.POLL
    if chunk not in view.downloads:
        return Step.DOWNLOAD
    return Step.APPLY


def _publish(part: Path, dest: Path) -> None:
    """Rename a fully written, fsynced file into place and make the rename durable."""
    os.replace(part, dest)
    fsync_dir(dest.parent)


_RERUN_WHY = "results lost or referenced files gone before the job read them"


def _lost_refs(task: ev.Task, gone: dict[str, str]) -> list[str]:
    refs = (*task.references, *((task.input_image,) if task.input_image else ()))
    return [f"{ref.path} ({gone[ref.sha256]})" for ref in refs if ref.sha256 in gone]


def _adoptable(match: RemoteFile, need: staging.Needed) -> bool:
    """A listed file may settle an upload intent only when it is whole: the size we sent
    (an empty or partial file is not ours to trust), a state other than FAILED, and, when
    the server gives one, the SHA-256 of our bytes."""
    if match.size == 0 or (need.size and match.size != need.size):
        return False
    if match.state in ("FAILED", "STATE_FAILED"):
        return False
    return not (match.sha256 and match.sha256 != need.sha256)


def pause_message(exc: BillingError | DailyQuotaExhausted) -> tuple[str, str]:
    """(reason, message) of the pause an account-level refusal causes: no retry frees it."""
    if isinstance(exc, BillingError):
        return "billing", (f"billing: Google refused the call for a billing reason ({exc}): prepaid credit "
                           "used up, a spend cap reached or a billing account problem; fix it in AI Studio or "
                           "Cloud billing, then resume; nothing was lost")
    return "daily_quota", f"per-day quota exhausted ({exc}); resume when it resets"


def requests_rel(chunk: int, root: Path, run_dir: Path) -> str:
    return (run_dir / f"requests-{chunk:03d}.jsonl").relative_to(root).as_posix()


class BatchRunner:
    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
                 workspace_uploads: dict[str, tuple[str, UploadRecord]] | None = None) -> None:
        self.rec = recorder
        self.gw = gateway
        self.opt = options
        self.progress = progress
        self.workspace = workspace_uploads or {}
        self.calls = trio.CapacityLimiter(max(options.upload_concurrency, 8))
        self.job_slots = trio.CapacityLimiter(options.max_jobs)
        self._listing: dict[str, RemoteFile] | None = None
        self._listing_lock = trio.Lock()
        self._sha_locks: dict[str, trio.Lock] = {}
        self._fresh_downloads: set[int] = set()
        self.ctx = ApplyContext(root=options.root, run_dir=options.run_dir, run_id=recorder.view.run_id,
                                generated_at=options.generated_at)

    @property
    def view(self) -> RunView:
        return self.rec.view

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.calls)

    async def _read(self, fn: Callable[..., T], *args: object) -> T:
        """A read (get, list, download): retried with backoff on transient errors."""
        async def once() -> T:
            return await self._call(fn, *args)
        return await with_retries(once, self.opt.retry)

    # -- the whole run -------------------------------------------------------------

    async def run(self) -> str:
        """Drive every open chunk to its end; returns completed | failed | detached."""
        retry_failed = True  # jobs that failed before this invocation get a fresh attempt
        self.reopen_rerunnable()
        chunks = self.view.open_chunks()
        # only chunks that will send requests need their inputs live (and their model
        # checked): a chunk past its create must not re-upload (and so forget) a reference
        # its job found gone
        sending = [c for c in chunks if next_step(self.view, c, retry_failed) in (Step.SUBMIT, Step.SETTLE_JOB)]
        if not await self.models_ready({self._chunk_model(c) for c in sending}, preflight.BATCH_METHOD):
            return "failed"
        self.progress.phase("staging", f"{len(self.view.tasks)} tasks in {len(self.view.chunks)} chunks")
        await self.stage_inputs(sending)
        self.progress.phase("submitted" if chunks else "applying")
        self.progress.start("items", len(self.view.tasks), "items")
        self.progress.advance("items", len(self.view.applied) + len(self.view.failed))
        async with trio.open_nursery() as nursery:
            for chunk in chunks:
                nursery.start_soon(self.drive_chunk, chunk, retry_failed)
        if self.opt.detach and any(next_step(self.view, c, False) == Step.POLL for c in self.view.chunks):
            self.rec.record(ev.RunPaused(reason="detached", message="jobs submitted; `resume` collects them"))
            return "detached"
        return await self.finish()

    async def finish(self) -> str:
        blocked = [c for c in sorted(self.view.chunks) if next_step(self.view, c, False) == Step.BLOCKED]
        if blocked:
            states = ", ".join(f"chunk {c}: {self.view.jobs[c].state}" for c in blocked)
            cancelled = all(self.view.jobs[c].state == "CANCELLED" for c in blocked)
            if cancelled:
                self.rec.record(ev.RunCancelled(by="remote", jobs=tuple(self.view.jobs[c].job_name for c in blocked)))
                return "cancelled"
            self.rec.record(ev.RunFailed(code="job_failed", message=f"{states}; uploads are kept and `resume` "
                                         "submits a new attempt for these chunks only"))
            return "failed"
        rerun = self.rerunnable()
        if rerun:
            lines = []
            for chunk, keys in sorted(rerun.items()):
                codes = sorted({self.view.failed[k].code for k in keys})
                lines.append(f"chunk {chunk}: {len(keys)} item(s) {' / '.join(codes)}")
            message = (f"{'; '.join(lines)} ({_RERUN_WHY}); they are marked failed (retryable) and "
                       "`resume` runs them again in a new attempt")
            self.rec.record(ev.RunPaused(reason="retry", message=message))
            self.progress.phase("paused", message)
            return "paused"
        if self.opt.cleanup:
            await self.cleanup()
        view = self.view
        self.rec.record(ev.RunCompleted(ok=len(view.applied), failed=len(view.failed), skipped=view.skipped))
        self.progress.phase("completed", f"{len(view.applied)} ok, {len(view.failed)} failed, {view.skipped} skipped")
        return "completed"

    async def models_ready(self, models: set[str], method: str) -> bool:
        """The pre-flight check (``engine.preflight``); a failure is journaled as run.failed."""
        problems = await preflight.check(models, method, lambda m: self._read(self.gw.get_model, m))
        if problems:
            self.rec.record(ev.RunFailed(code=preflight.FAILED_CODE, message="; ".join(problems)))
        return not problems

    def rerunnable(self) -> dict[int, list[str]]:
        """Failed keys a new attempt fixes, per chunk whose job has ended (nothing in flight)."""
        out: dict[int, list[str]] = {}
        for key, failure in self.view.failed.items():
            if failure.code not in RERUN_CODES or failure.chunk is None:
                continue
            job = self.view.jobs.get(failure.chunk)
            if job is not None and job.job_name and job.done:
                out.setdefault(failure.chunk, []).append(key)
        return out

    def reopen_rerunnable(self) -> None:
        """At the start of an invocation: failures a new attempt fixes become pending again."""
        events = [ev.ItemsReopened(chunk=chunk, keys=tuple(keys), attempt=self.view.jobs[chunk].attempt,
                                   reason=",".join(sorted({self.view.failed[k].code for k in keys})))
                  for chunk, keys in sorted(self.rerunnable().items())]
        self.rec.record(*events)

    # -- staging -------------------------------------------------------------------

    async def stage_inputs(self, chunks: list[int]) -> None:
        """Make every input of the pending tasks live remotely, with few journal flushes.

        Intents left by an earlier invocation are settled with one listing; the uploads
        still needed are announced in one group commit before any starts; their outcomes
        are appended in groups as they finish. An outcome lost to a crash leaves an
        intent, which the next invocation settles by listing: nothing is uploaded twice.
        """
        view = self.view
        margin = self.opt.reuse_margin_s
        needs = staging.needed_inputs(view, chunks)
        missing = [n for n in needs if not staging.usable(view.uploads.get(n.sha256), view.last_at, margin)]
        self.progress.start("uploads", len(needs), "files")
        self.progress.advance("uploads", len(needs) - len(missing))
        self.progress.start("upload bytes", sum(n.size for n in missing), "bytes")
        if any(n.sha256 in view.upload_intents for n in missing):
            listing = await self._remote_files(fresh=True)
            self.rec.record(*(e for n in missing if n.sha256 in view.upload_intents
                              and (e := self._adoption(listing, n)) is not None))
        announce: list[ev.Event] = []
        for need in missing:
            if staging.usable(view.uploads.get(need.sha256), view.last_at, margin):
                continue
            if need.sha256 in view.upload_intents:
                continue  # announced before, not found remotely: upload under that intent
            cached = self.workspace.get(need.sha256)
            if cached is not None and staging.usable(cached[1], view.last_at, margin):
                announce.append(ev.UploadReused(path=need.path, sha256=need.sha256, name=cached[1].name,
                                                uri=cached[1].uri, expires=cached[1].expires, from_run=cached[0],
                                                purpose=need.purpose, mime=need.mime, size=need.size))
            else:
                announce.append(self._intent(need))
        self.rec.record(*announce)
        todo = [n for n in missing if not staging.usable(view.uploads.get(n.sha256), view.last_at, margin)]
        self.progress.advance("uploads", len(missing) - len(todo))
        limiter = trio.CapacityLimiter(self.opt.upload_concurrency)
        outcomes: list[ev.Event] = []

        async def one(need: staging.Needed) -> None:
            async with limiter:
                outcomes.append(await self._upload(need))
            if len(outcomes) >= UPLOAD_GROUP:
                self.rec.record(*outcomes)
                outcomes.clear()
            self.progress.advance("uploads")
            self.progress.advance("upload bytes", need.size)

        try:
            async with trio.open_nursery() as nursery:
                for need in todo:
                    nursery.start_soon(one, need)
        finally:  # uploads that finished keep their outcome, even when a sibling failed
            self.rec.record(*outcomes)

    def _intent(self, need: staging.Needed) -> ev.UploadStarted:
        return ev.UploadStarted(purpose=need.purpose, path=need.path, sha256=need.sha256, size=need.size,
                                mime=need.mime, display_name=staging.display_name_for(need.sha256),
                                chunk=need.chunk)

    async def ensure_uploaded(self, need: staging.Needed) -> UploadRecord:
        """Make one file available remotely exactly once (intent, upload, outcome)."""
        lock = self._sha_locks.setdefault(need.sha256, trio.Lock())
        async with lock:
            view = self.view
            record = view.uploads.get(need.sha256)
            if staging.usable(record, view.last_at, self.opt.reuse_margin_s):
                return record  # type: ignore[return-value]
            if need.sha256 in view.upload_intents:
                adopted = self._adoption(await self._remote_files(fresh=True), need)
                if adopted is not None:
                    self.rec.record(adopted)
                    return self.view.uploads[need.sha256]
            else:
                self.rec.record(self._intent(need))
            self.rec.record(await self._upload(need))
            return self.view.uploads[need.sha256]

    async def _upload(self, need: staging.Needed) -> ev.UploadCompleted:
        """Upload under a durable intent; returns the outcome event (not yet appended)."""
        path = self.opt.root / need.path
        actual = await trio.to_thread.run_sync(sha256_file, path)
        if actual != need.sha256:
            now = f"sha256 {actual[:12]}…" if actual else "gone"
            raise ContentError(need.path, f"changed since it was planned ({now}, planned {need.sha256[:12]}…); "
                               "start a new run so the plan matches the files")
        attempt = 1
        while True:
            try:
                crash_point("before", "upload")
                remote = await self._call(self.gw.upload, self.opt.root / need.path, need.mime,
                                          staging.display_name_for(need.sha256))
                crash_point("after", "upload")
            except TransientError as exc:
                # the reply may have been lost after the server committed: look before retrying
                adopted = self._adoption(await self._remote_files(fresh=True), need)
                if adopted is not None:
                    return adopted
                if attempt >= self.opt.retry.attempts:
                    raise
                await trio.sleep(self.opt.retry.delay(attempt, exc.retry_after))
                attempt += 1
                continue
            return self._completed(need, remote, adopted=False)

    def _completed(self, need: staging.Needed, remote: RemoteFile, adopted: bool) -> ev.UploadCompleted:
        return ev.UploadCompleted(purpose=need.purpose, path=need.path, sha256=need.sha256, size=need.size,
                                  mime=need.mime, display_name=staging.display_name_for(need.sha256),
                                  name=remote.name, uri=remote.uri, expires=remote.expires, chunk=need.chunk,
                                  adopted=adopted)

    def _adoption(self, listing: dict[str, RemoteFile], need: staging.Needed) -> ev.UploadCompleted | None:
        """Settle an upload intent: a live remote file with our display name and size, if any."""
        match = listing.get(staging.display_name_for(need.sha256))
        if match is None or not _adoptable(match, need):
            return None
        if not staging.usable(UploadRecord(need.sha256, match.name, match.uri, match.expires, need.mime,
                                           need.size, need.path), self.view.last_at, self.opt.reuse_margin_s):
            return None
        return self._completed(need, match, adopted=True)

    async def _remote_files(self, fresh: bool) -> dict[str, RemoteFile]:
        async with self._listing_lock:
            if self._listing is None or fresh:
                files = await self._read(self.gw.list_files)
                listing: dict[str, RemoteFile] = {}
                for f in files:  # newest expiry wins when a name appears twice
                    old = listing.get(f.display_name)
                    if old is None or f.expires > old.expires:
                        listing[f.display_name] = f
                self._listing = listing
            return self._listing

    # -- one chunk -----------------------------------------------------------------

    async def drive_chunk(self, chunk: int, retry_failed: bool) -> None:
        async with self.job_slots:
            while True:
                step = next_step(self.view, chunk, retry_failed)
                if step in (Step.DONE, Step.BLOCKED):
                    return
                if step == Step.SUBMIT:
                    await self.submit(chunk)
                    retry_failed = False
                elif step == Step.SETTLE_JOB:
                    await self.settle_job(chunk)
                elif step == Step.POLL:
                    if self.opt.detach:
                        return
                    await self.poll(chunk)
                elif step == Step.DOWNLOAD:
                    await self.download(chunk)
                elif step == Step.APPLY:
                    await self.apply(chunk)
                    return

    async def prepare_requests(self, chunk: int) -> UploadRecord:
        """Write (or verify) the chunk's requests file and make sure it is uploaded."""
        view = self.view
        tasks = [view.tasks[k] for k in view.pending_keys(chunk)]  # a new attempt runs what is still open
        for task in tasks:  # a reference may have been re-uploaded (expired): make sure all are live
            for ref in (*task.references, *((task.input_image,) if task.input_image else ())):
                if not staging.usable(view.uploads.get(ref.sha256), view.last_at, self.opt.reuse_margin_s):
                    await self.ensure_uploaded(staging.Needed(ref.sha256, ref.path, ref.mime, ref.size,
                                                              "reference"))
        rel = requests_rel(chunk, self.opt.root, self.opt.run_dir)
        path = self.opt.root / rel
        sha, lines, size = await trio.to_thread.run_sync(staging.write_requests, path, tasks, view.uploads)
        written = view.requests.get(chunk)
        if written is None or written.sha256 != sha:
            self.rec.record(ev.RequestsWritten(chunk=chunk, path=rel, sha256=sha, lines=lines, bytes=size))
        return await self.ensure_uploaded(staging.Needed(sha, rel, "application/jsonl", size, "requests", chunk))

    async def submit(self, chunk: int) -> None:
        self.progress.phase("submitting", f"chunk {chunk}")
        uploaded = await self.prepare_requests(chunk)
        previous = self.view.jobs.get(chunk)
        attempt = previous.attempt + 1 if previous else 1
        display = f"chargen-es:{self.view.run_id}:{chunk}:{attempt}"
        self.rec.record(ev.JobSubmitting(chunk=chunk, display_name=display, attempt=attempt,
                                         model=self._chunk_model(chunk), input_file=uploaded.name))
        await self._create(chunk)

    def _chunk_model(self, chunk: int) -> str:
        return self.view.tasks[self.view.chunks[chunk][0]].model

    async def settle_job(self, chunk: int) -> None:
        """An intent without outcome: adopt the job if it exists, else submit a new attempt.

        A new attempt (not a create under the old intent) because time may have passed: its
        requests are rebuilt against live uploads, so an expired input is never sent.
        """
        job = self.view.jobs[chunk]
        if not await self._adopt_job(chunk, job):
            await self.submit(chunk)

    async def _adopt_job(self, chunk: int, job: JobRecord) -> bool:
        """Find the job an intent may have created: same display name *and* same input.

        The input check keeps two trees that share an API key and a ``--run-id`` from
        adopting each other's jobs.
        """
        jobs = await self._read(self.gw.list_batches)
        for listed in jobs:
            if listed.display_name != job.display_name:
                continue
            remote = await self._read(self.gw.get_batch, listed.name)
            if job.input_file and remote.input_file and remote.input_file != job.input_file:
                continue
            self.rec.record(ev.JobSubmitted(chunk=chunk, job_name=remote.name, display_name=job.display_name,
                                            attempt=job.attempt, adopted=True))
            return True
        return False

    async def _create(self, chunk: int) -> None:
        job = self.view.jobs[chunk]
        input_file = job.input_file or self.view.uploads[self.view.requests[chunk].sha256].name
        attempt = 1
        queued = 0
        while True:
            try:
                crash_point("before", "job.create")
                remote = await self._call(self._create_call, self._chunk_model(chunk), input_file, job.display_name)
                crash_point("after", "job.create")
            except RateLimited as exc:
                # too many concurrent jobs or enqueued tokens: a definite refusal (nothing was
                # created) that frees only as other jobs finish, so wait long and ask again
                queued += 1
                wait = self.opt.retry.queue_delay(queued, exc.retry_after)
                self.rec.record(ev.JobQueued(chunk=chunk, display_name=job.display_name, attempt=job.attempt,
                                             message=str(exc), retry_after=exc.retry_after, wait_s=round(wait, 3)))
                self.progress.status("job", f"chunk {chunk} queued: the API refused a new job ({exc}); "
                                     f"asking again in {wait:.0f} s")
                await trio.sleep(wait)
                if not self._inputs_usable(chunk):
                    return await self.submit(chunk)  # the wait aged its inputs: a new attempt re-stages
                continue
            except TransientError as exc:
                if await self._adopt_job(chunk, job):  # committed, reply lost
                    return
                if attempt >= self.opt.retry.attempts:
                    raise
                await trio.sleep(self.opt.retry.delay(attempt, exc.retry_after))
                attempt += 1
                continue
            self.rec.record(ev.JobSubmitted(chunk=chunk, job_name=remote.name, display_name=job.display_name,
                                            attempt=job.attempt))
            return

    def _inputs_usable(self, chunk: int) -> bool:
        view = self.view
        for key in view.pending_keys(chunk):
            task = view.tasks[key]
            for ref in (*task.references, *((task.input_image,) if task.input_image else ())):
                if not staging.usable(view.uploads.get(ref.sha256), view.last_at, self.opt.reuse_margin_s):
                    return False
        return True

    def _create_call(self, model: str, input_file: str, display_name: str) -> RemoteJob:
        return self.gw.create_batch(model=model, input_file=input_file, display_name=display_name)

    async def poll(self, chunk: int) -> None:
        job = self.view.jobs[chunk]
        self.progress.phase("running", f"chunk {chunk}: {job.job_name}")
        outage = 0
        while True:
            try:
                remote = await self._read(self.gw.get_batch, job.job_name)
            except TransientError as exc:
                # a job runs for hours: a network outage or a sleeping laptop is waited out
                outage += 1
                self.progress.status("job", f"chunk {chunk}: cannot reach the API ({exc}); retrying")
                await trio.sleep(min(self.opt.retry.delay(min(outage, 6)), max(self.opt.poll_interval, 60.0)))
                continue
            outage = 0
            if remote.stats:
                done = remote.stats.get("successfulRequestCount", 0) + remote.stats.get("failedRequestCount", 0)
                self.progress.status("job", f"chunk {chunk} {remote.state} {done}/{remote.stats.get('requestCount', 0)}")
            if remote.state != job.state:
                self.rec.record(ev.JobStateChanged(chunk=chunk, job_name=job.job_name, state=remote.state,
                                                   stats=remote.stats or None, output_file=remote.output_file,
                                                   error=remote.error))
                job = self.view.jobs[chunk]
            if job.done:
                return
            await trio.sleep(self.opt.poll_interval)

    async def download(self, chunk: int) -> None:
        """Stream the job's output to a temp file, then rename it into place durably."""
        job = self.view.jobs[chunk]
        self.progress.phase("downloading", f"chunk {chunk}")
        dest = self.opt.run_dir / f"results-{chunk:03d}.jsonl"
        part = dest.with_name(f".{dest.name}.part")
        crash_point("before", "download")
        self.progress.start(f"download {chunk}", None, "bytes")
        try:
            got = await self._read(self.gw.download, job.output_file, part,
                                   lambda n: self.progress.advance(f"download {chunk}", n))
        except NotFound as exc:
            await self._results_lost(chunk, job, exc)
            return
        await trio.to_thread.run_sync(_publish, part, dest)
        crash_point("after", "download")
        self.rec.record(ev.ResultsDownloaded(chunk=chunk, path=dest.relative_to(self.opt.root).as_posix(),
                                             sha256=got.sha256, bytes=got.bytes, lines=got.lines,
                                             remote_name=job.output_file))
        self._fresh_downloads.add(chunk)

    async def _results_lost(self, chunk: int, job: JobRecord, exc: NotFound) -> None:
        """The job's output is gone (expired, deleted): its open items fail, retryably.

        Not a run failure: the run pauses at its end and ``resume`` runs them in a new attempt.
        """
        message = (f"the results file {job.output_file or '?'} of {job.job_name} is gone from the server "
                   f"({exc}); a new attempt runs this item again")
        self.progress.phase("results lost", f"chunk {chunk}: {job.output_file} answered 404")

        def fail_all() -> list[ev.Event]:
            group = Group(self.ctx)
            for key in self.view.pending_keys(chunk):
                group.fail(self.view.tasks[key], "result", RESULTS_LOST, message, True)
            return group.commit()

        events = await trio.to_thread.run_sync(fail_all)
        self.rec.record(*events)
        self.progress.advance("items", len(events))

    # -- applying ------------------------------------------------------------------

    async def apply(self, chunk: int) -> None:
        record = self.view.downloads[chunk]
        path = self.opt.root / record.path
        fresh = chunk in self._fresh_downloads  # hashed while it streamed in, moments ago
        if not fresh and await trio.to_thread.run_sync(sha256_file, path) != record.sha256:
            await self.download(chunk)  # a results file that is gone or changed is fetched again
            record = self.view.downloads[chunk]
        self.progress.phase("applying", f"chunk {chunk}")
        gone = await self._lost_references(chunk)
        token = trio.lowlevel.current_trio_token()
        ignored = {(k, r) for c, k, r in self.view.ignored if c == chunk}  # read on the trio thread
        await trio.to_thread.run_sync(self._apply_file, chunk, path, ignored, token, gone)

    async def _lost_references(self, chunk: int) -> dict[str, str]:
        """Files the chunk's lines reference that the server no longer has (sha256 → name).

        Asked only when the job reports failed lines: one listing tells a line that failed
        because its reference expired or was deleted (retryable: the next attempt uploads it
        again) from one the model refused. Each lost file is journaled (``upload.lost``), so
        no attempt or run reuses it.
        """
        view = self.view
        job = view.jobs[chunk]
        if job.stats and not job.stats.get("failedRequestCount"):
            return {}
        refs = {ref.sha256: ref for key in view.pending_keys(chunk)
                for ref in (*view.tasks[key].references,
                            *((view.tasks[key].input_image,) if view.tasks[key].input_image else ()))}
        if not refs:
            return {}
        listing = await self._remote_files(fresh=True)
        gone: dict[str, str] = {}
        already = {sha: view.lost[sha] for sha in refs if sha in view.lost}  # journaled lost before a crash
        for sha in refs:
            record = view.uploads.get(sha)
            if record is None:
                continue
            live = listing.get(staging.display_name_for(sha))
            if live is None or live.name != record.name:
                gone[sha] = record.name
        self.rec.record(*(ev.UploadLost(sha256=sha, name=name, path=refs[sha].path,
                                        reason=f"not listed when chunk {chunk}'s results were applied")
                          for sha, name in gone.items()))
        return {**already, **gone}

    def _apply_file(self, chunk: int, path: Path, ignored: set[tuple[str, str]],
                    token: trio.lowlevel.TrioToken, gone: dict[str, str] | None = None) -> None:
        """Worker thread: stream the results file and apply it a group of lines at a time.

        A group's files are written, its imagery.yaml entries set, everything flushed once,
        and only then are its events appended in one commit (see ``engine.apply``).
        Journal appends hop back to the trio thread (one writer).
        """
        group = Group(self.ctx)
        ignored_events: list[ev.Event] = []

        def flush() -> None:
            events = ignored_events + group.commit()
            ignored_events.clear()
            if events:
                trio.from_thread.run_sync(self.rec.record, *events, trio_token=token)

        view = self.view
        planned = set(view.chunks[chunk])
        seen: set[str] = set()
        pending_bytes = 0
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue
                try:
                    parsed = decode_line(line)
                    key = parsed.key
                except Exception:  # noqa: BLE001 - any garbage line is reported, never fatal
                    parsed, key = None, f"line:{lineno}"
                reason = ("unparseable" if parsed is None else "unknown" if key not in planned
                          else "duplicate" if key in seen else "")
                if reason:
                    if (key, reason) not in ignored:
                        ignored.add((key, reason))
                        ignored_events.append(ev.ResultIgnored(key=key, chunk=chunk, reason=reason, line=lineno))
                    continue
                seen.add(key)
                if parsed is None or view.settled(key):
                    continue
                outcome = from_line(parsed)
                task = view.tasks[key]
                lost = _lost_refs(task, gone) if gone and parsed.error is not None else []
                if lost:
                    group.fail(task, "result", FILE_MISSING,
                               f"{', '.join(lost)} gone from the server when the job read it "
                               f"({outcome.error_code}: {outcome.error_message}); a new attempt uploads it again",
                               True, line)
                else:
                    group.add(task, outcome, line)
                self.progress.advance("items")
                pending_bytes += len(line)
                if len(group.events) >= APPLY_GROUP or pending_bytes >= APPLY_GROUP_BYTES:
                    flush()
                    pending_bytes = 0
        for key in view.chunks[chunk]:
            if key not in seen and not view.settled(key):
                group.fail(view.tasks[key], "result", "missing", "the job's output has no line for this key", True)
                self.progress.advance("items")
        flush()

    # -- clean-up ------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Delete this run's remote request and result files; references stay cached."""
        view = self.view
        names = {u.name for u in view.uploads.values() if u.path.endswith(".jsonl") and u.name}
        names |= {j.output_file for j in view.jobs.values() if j.output_file}
        names -= view.deleted_files
        deleted = []
        for name in sorted(names):
            try:
                await self._call(self.gw.delete_file, name)
                deleted.append(name)
            except NotFound:
                deleted.append(name)
            except GeminiError:
                continue  # clean-up is best effort; the files expire in 48 h anyway
        if deleted:
            self.rec.record(ev.FilesDeleted(names=tuple(deleted)))

