"""The batch job life cycle of one chunk: submit, settle an intent, create, poll.

``job.submitting`` (display name ``chargen-es:<run>:<chunk>:<attempt>``, the requests
file) is durable before ``batches.create``; its outcome is ``job.submitted``. An intent
without outcome is settled by listing batches and adopting the job with that display name
*and* that input before anything is created again.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import trio

from chargen_es import events as ev
from chargen_es.engine import staging
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.options import EngineOptions
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.retry import is_retry
from chargen_es.engine.uploads import Uploads
from chargen_es.errors import NotFound, RateLimited, TransientError
from chargen_es.gateway import Backend, Gateway, RemoteModel
from projections import Job, Projections, Upload

T = TypeVar("T")
POLL_OUTAGE_STEPS = 6  # backoff steps while the API cannot be reached during a poll


def requests_rel(chunk: int, root: Path, run_dir: Path) -> str:
    return (run_dir / f"requests-{chunk:03d}.jsonl").relative_to(root).as_posix()


class Jobs:
    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
                 uploads: Uploads) -> None:
        self.rec = recorder
        self.gw = gateway
        self.opt = options
        self.progress = progress
        self.uploads = uploads

    @property
    def model(self) -> Projections:
        return self.rec.model

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.uploads.calls)

    async def _read(self, fn: Callable[..., T], *args: object) -> T:
        """A read (get, list): retried by the policy on transient errors."""
        return await self.opt.retry.call(self._call, fn, *args)

    async def get_model(self, model: str) -> RemoteModel:
        return await self._read(self.gw.get_model, model)

    def chunk_model(self, chunk: int) -> str:
        return self.model.tasks[self.model.chunk_keys[chunk][0]].model

    async def prepare_requests(self, chunk: int) -> Upload:
        """Write (or verify) the chunk's requests file and make sure it is uploaded."""
        model = self.model
        tasks = [model.tasks[k] for k in model.pending_keys(chunk)]  # a new attempt runs what is still open
        for task in tasks:  # a reference may have been re-uploaded (expired): make sure all are live
            for ref in (*task.references, *((task.input_image,) if task.input_image else ())):
                if not self.uploads.live(ref.sha256):
                    await self.uploads.ensure(staging.Needed(ref.sha256, ref.path, ref.mime, ref.size, "reference"))
        rel = requests_rel(chunk, self.opt.root, self.opt.run_dir)
        sha, lines, size = await trio.to_thread.run_sync(staging.write_requests, self.opt.root / rel, tasks,
                                                         model.uploads, model.store)
        written = model.requests.get(chunk)
        if written is None or written.sha256 != sha:
            self.rec.record(ev.RequestsWritten(chunk=chunk, path=rel, sha256=sha, lines=lines, bytes=size))
        return await self.uploads.ensure(staging.Needed(sha, rel, "application/jsonl", size, "requests", chunk))

    async def submit(self, chunk: int) -> None:
        self.progress.phase("submitting", f"chunk {chunk}")
        uploaded = await self.prepare_requests(chunk)
        previous = self.model.jobs.get(chunk)
        attempt = previous.attempt + 1 if previous else 1
        display = f"chargen-es:{self.model.run_id}:{chunk}:{attempt}"
        self.rec.record(ev.JobSubmitting(chunk=chunk, display_name=display, attempt=attempt,
                                         model=self.chunk_model(chunk), input_file=uploaded.name))
        await self._create(chunk)

    async def settle(self, chunk: int) -> None:
        """An intent without outcome: adopt the job if it exists, else submit a new attempt.

        A new attempt (not a create under the old intent) because time may have passed: its
        requests are rebuilt against live uploads, so an expired input is never sent.
        """
        if not await self._adopt(chunk, self.model.jobs[chunk]):
            await self.submit(chunk)

    async def _adopt(self, chunk: int, job: Job) -> bool:
        """Find the job an intent may have created: same display name *and* same input.

        The input check keeps two trees that share an API key and a ``--run-id`` from
        adopting each other's jobs.
        """
        for listed in await self._read(self.gw.list_batches):
            if listed.display_name != job.display_name:
                continue
            remote = await self._read(self.gw.get_batch, listed.name)
            if job.input_file and remote.input_file and remote.input_file != job.input_file:
                continue
            self.rec.record(ev.JobSubmitted(chunk=chunk, job_name=remote.name, display_name=job.display_name,
                                            attempt=job.attempt, adopted=True, backend=self.gw.backend.identity))
            return True
        return False

    async def _create(self, chunk: int) -> None:
        job = self.model.jobs[chunk]
        input_file = job.input_file or self.model.uploads[self.model.requests[chunk].sha256].name
        create = functools.partial(self.gw.create_batch, model=self.chunk_model(chunk), input_file=input_file,
                                   display_name=job.display_name)
        queued = 0
        while True:
            try:
                async for attempt in self.opt.retry.retrying(except_=(RateLimited,)):
                    with attempt:
                        if is_retry(attempt) and await self._adopt(chunk, job):
                            return  # settle by listing before any retry: committed, reply lost
                        crash_point("before", "job.create")
                        remote = await self._call(create)
                        crash_point("after", "job.create")
                break
            except RateLimited as exc:
                # too many concurrent jobs or enqueued tokens: a definite refusal (nothing was
                # created) that frees only as other jobs finish, so wait long and ask again
                queued += 1
                wait = self.opt.retry.queue_backoff(queued, exc.retry_after)
                self.rec.record(ev.JobQueued(chunk=chunk, display_name=job.display_name, attempt=job.attempt,
                                             message=str(exc), retry_after=exc.retry_after, wait_s=round(wait, 3)))
                self.progress.status("job", f"chunk {chunk} queued: the API refused a new job ({exc}); "
                                     f"asking again in {wait:.0f} s")
                await trio.sleep(wait)
                if not self._inputs_usable(chunk):
                    return await self.submit(chunk)  # the wait aged its inputs: a new attempt re-stages
        self.rec.record(ev.JobSubmitted(chunk=chunk, job_name=remote.name, display_name=job.display_name,
                                        attempt=job.attempt, backend=self.gw.backend.identity))

    def _inputs_usable(self, chunk: int) -> bool:
        model = self.model
        for key in model.pending_keys(chunk):
            task = model.tasks[key]
            for ref in (*task.references, *((task.input_image,) if task.input_image else ())):
                if not self.uploads.live(ref.sha256):
                    return False
        return True

    def _elsewhere(self, chunk: int, job: Job, exc: NotFound) -> NotFound | None:
        """A job this run submitted is unknown here: when the journal says it was created on
        another backend, say so (a resume pointed at another server, or the embedded
        emulator of another folder), rather than Google's bare 404."""
        here = self.gw.backend.identity
        if not job.backend or job.backend == here:
            return None
        command = shlex.join(["chargen-es", "resume", self.model.run_id, "--root", str(self.opt.root),
                              *Backend.flags_reaching(job.backend)])
        same_key = job.backend.partition("#key-")[2] == here.partition("#key-")[2]
        return NotFound(f"chunk {chunk}'s job {job.job_name} was created on another backend ({job.backend}), not "
                        f"this one ({here}); `{command}` continues it"
                        + ("" if same_key else ", with the API key the run used"),
                        status=exc.status, reason=exc.reason)

    async def wait_finished(self, chunk: int, until: float | None = None) -> None:
        """Poll the chunk's job until it finishes, journaling each state it reports.

        ``until`` (epoch seconds: a fallback deadline) ends the wait early, unfinished.
        """
        job = self.model.jobs[chunk]
        self.progress.phase("running", f"chunk {chunk}: {job.job_name}")
        outage = 0
        while True:
            try:
                remote = await self._read(self.gw.get_batch, job.job_name)
            except NotFound as exc:
                elsewhere = self._elsewhere(chunk, job, exc)
                if elsewhere is None:
                    raise
                raise elsewhere from exc
            except TransientError as exc:
                # a job runs for hours: a network outage or a sleeping laptop is waited out
                outage += 1
                self.progress.status("job", f"chunk {chunk}: cannot reach the API ({exc}); retrying")
                await trio.sleep(min(self.opt.retry.backoff(min(outage, POLL_OUTAGE_STEPS)),
                                     max(self.opt.poll_interval, 60.0)))
                continue
            outage = 0
            if remote.stats:
                # the job's state and its lines' outcomes apart: a SUCCEEDED job may hold only failed lines
                ok, bad = remote.stats.get("successfulRequestCount", 0), remote.stats.get("failedRequestCount", 0)
                self.progress.status("job", f"chunk {chunk} {remote.state}: lines {ok} ok, {bad} failed of "
                                            f"{remote.stats.get('requestCount', 0)}")
            if remote.state != job.state:
                self.rec.record(ev.JobStateChanged(chunk=chunk, job_name=job.job_name, state=remote.state,
                                                   stats=remote.stats or None, output_file=remote.output_file,
                                                   error=remote.error))
                job = self.model.jobs[chunk]
            if job.finished:
                return
            wait = self.opt.poll_interval
            if until is not None:
                left = until - self.opt.wall_clock()  # the wall clock the journal stamps events with
                if left <= 0:
                    return
                wait = min(wait, left)
            await trio.sleep(wait)
