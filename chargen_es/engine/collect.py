"""Results of a finished job: download the output file, then collect it into the tree.

The download streams to a temp file, is hashed while it streams, then renamed into place
durably before ``results.downloaded``. Collecting reads that file a line at a time, joins
each line to its task by key (never by position), writes each item's outputs a group at
a time (:mod:`chargen_es.engine.outputs`) and appends the group's events only after its
files are flushed. Lines with unknown, duplicate or unparseable keys are reported
(``result.ignored``), never applied; planned keys without a line fail as ``missing``.
A results file gone from the server fails the chunk's open items as ``results_lost``, and
a failed line whose reference the server no longer lists as ``file_missing``: both
retryable, both reopened by the next invocation in a new attempt (``decide.rerunnable``).

Once a chunk is collected (every line applied or reported, every planned key settled,
all of it journaled), its results file is a second copy of images the tree already holds
(base64, plus Gemini 3's thought signatures): :meth:`Results.discard` deletes it and
records ``results.discarded``, unless ``--keep-results`` / ``keep_results:`` asks to keep
raw answers. The deletion is idempotent and comes before its event, so a crash between
the two is settled by the next invocation's :meth:`Results.discard_collected`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import trio

from chargen_es import events as ev
from chargen_es.engine import staging
from chargen_es.engine.claims import Claims
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.decide import FILE_MISSING, RESULTS_LOST
from chargen_es.engine.options import EngineOptions, RunOptions
from chargen_es.engine.outputs import OutputContext, OutputGroup
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.results import Answer, answer_from_line, decode_line
from chargen_es.engine.uploads import Uploads
from chargen_es.errors import NotFound
from chargen_es.fsio import naming, publish, remove, sha256_file, temp_path
from chargen_es.gateway import Download, Gateway
from projections import Job, Projections

# Line outcomes per flush and journal group commit. Large, because Gemini returns lines
# in no order: a small group touches most entities of the chunk, and each touched
# imagery.yaml is one locked, fsynced read-modify-write per group.
COLLECT_GROUP = 1024
COLLECT_GROUP_BYTES = 64 << 20  # ... or fewer, once this much result data is waiting


def _inputs(task: ev.Task) -> tuple[ev.FileRef, ...]:
    return (*task.references, *((task.input_image,) if task.input_image else ()))


def _lost_refs(task: ev.Task, gone: dict[str, str]) -> list[str]:
    return [f"{ref.path} ({gone[ref.sha256]})" for ref in _inputs(task) if ref.sha256 in gone]


class Results:
    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
                 uploads: Uploads, claims: Claims | None = None) -> None:
        """``claims``: shared with the live path of fallback chunks (engine.fallback)."""
        self.claims = claims
        self.rec = recorder
        self.gw = gateway
        self.opt = options
        self.progress = progress
        self.uploads = uploads  # the listing that tells a lost reference
        self.calls = uploads.calls
        self._fresh: set[int] = set()  # downloaded (and hashed) in this invocation
        self.ctx = OutputContext(root=options.root, run_dir=options.run_dir, run_id=recorder.model.run_id,
                                 generated_at=options.generated_at)

    @property
    def model(self) -> Projections:
        return self.rec.model

    async def download(self, chunk: int) -> None:
        job = self.model.jobs[chunk]
        self.progress.phase("downloading", f"chunk {chunk}")
        dest = self.opt.run_dir / f"results-{chunk:03d}.jsonl"
        part = temp_path(dest)
        crash_point("before", "download")
        self.progress.start(f"download {chunk}", None, "bytes")
        try:
            got = await self.opt.retry.call(self._fetch, job.output_file, part, self._on_bytes(chunk))
        except NotFound as exc:
            await self._results_lost(chunk, job, exc)
            return
        await trio.to_thread.run_sync(functools.partial(publish, part, dest, point="download"))
        crash_point("after", "download")
        self.rec.record(ev.ResultsDownloaded(chunk=chunk, path=dest.relative_to(self.opt.root).as_posix(),
                                             sha256=got.sha256, bytes=got.bytes, lines=got.lines,
                                             remote_name=job.output_file))
        self._fresh.add(chunk)

    async def _results_lost(self, chunk: int, job: Job, exc: NotFound) -> None:
        """The job's output is gone (expired, deleted): its open items fail, retryably.

        Not a run failure: the run pauses at its end and ``resume`` runs them in a new attempt.
        """
        message = (f"the results file {job.output_file or '?'} of {job.job_name} is gone from the server "
                   f"({exc}); a new attempt runs this item again")
        self.progress.phase("results lost", f"chunk {chunk}: {job.output_file} answered 404")
        tasks = [self.model.tasks[k] for k in self.model.pending_keys(chunk)]

        def fail_all() -> list[ev.Event]:
            group = OutputGroup(self.ctx)
            for task in tasks:
                group.fail(task, "result", RESULTS_LOST, message, True)
            return group.commit()

        events = await trio.to_thread.run_sync(fail_all)
        self.rec.record(*events)
        self.progress.advance("items", len(events))

    async def _fetch(self, name: str, part: Path, on_bytes: Callable[[int], None]) -> Download:
        return await trio.to_thread.run_sync(self.gw.download, name, part, on_bytes, limiter=self.calls)

    def _on_bytes(self, chunk: int) -> Callable[[int], None]:
        bar = f"download {chunk}"

        def on_bytes(n: int) -> None:
            crash_point("during", "download")  # the temp download is on disk, not yet renamed
            self.progress.advance(bar, n)

        return on_bytes

    async def collect(self, chunk: int) -> None:
        record = self.model.downloads[chunk]
        path = self.opt.root / record.path
        if chunk not in self._fresh and await trio.to_thread.run_sync(sha256_file, path) != record.sha256:
            await self.download(chunk)  # a results file that is gone or changed is fetched again
            record = self.model.downloads[chunk]
        self.progress.phase("applying", f"chunk {chunk}")
        gone = await self._lost_references(chunk)
        token = trio.lowlevel.current_trio_token()
        ignored = {(i.key, f"{i.reason}:{i.via}" if i.via else i.reason)  # read on the trio thread
                   for i in self.model.ignored if i.chunk == chunk}
        await trio.to_thread.run_sync(self._collect_file, chunk, path, ignored, token, gone)
        outcomes = [self.model.outcomes.get(k) for k in self.model.chunk_keys[chunk]]
        failed = sum(1 for o in outcomes if isinstance(o, ev.ItemFailed))
        ok = sum(1 for o in outcomes if isinstance(o, ev.LineApplied))
        self.progress.phase("applied", f"chunk {chunk}: {ok} ok, {failed} failed")
        await self.discard(chunk)

    @property
    def keep_results(self) -> bool:
        """``--keep-results`` this invocation, or ``keep_results: true`` in the plan's chargen.yaml."""
        run = self.model.run
        return self.opt.keep_results or RunOptions.of(run.config if run else {}).keep_results

    async def discard(self, chunk: int) -> None:
        """Delete a chunk's results file once nothing in it is needed any more.

        Needed means: a key of the chunk is still open (its line may be applied from this
        file after a crash, or the live fallback may still deliver it). Reopened items
        run in a new attempt with a new results file, so they never read this one.
        """
        model = self.model
        record = model.downloads.get(chunk)
        if record is None or chunk in model.discarded or self.keep_results or model.pending_keys(chunk):
            return
        crash_point("before", "results.discard")
        await trio.to_thread.run_sync(remove, self.opt.root / record.path)
        crash_point("after", "results.discard")
        self.rec.record(ev.ResultsDiscarded(chunk=chunk, path=record.path, sha256=record.sha256, bytes=record.bytes))

    async def discard_collected(self) -> None:
        """Every collected chunk's results file not yet discarded (a crash came between)."""
        for chunk in sorted(self.model.downloads):
            await self.discard(chunk)

    async def _lost_references(self, chunk: int) -> dict[str, str]:
        """Files the chunk's lines reference that the server no longer has (sha256 → name).

        Asked only when the job reports failed lines: one listing tells a line that failed
        because its reference expired or was deleted (retryable: the next attempt uploads it
        again) from one the model refused. Each lost file is journaled (``upload.lost``), so
        no attempt or run reuses it.
        """
        model = self.model
        job = model.jobs[chunk]
        if job.stats and not job.stats.get("failedRequestCount"):
            return {}
        refs = {ref.sha256: ref for key in model.pending_keys(chunk) for ref in _inputs(model.tasks[key])}
        if not refs:
            return {}
        listing = await self.uploads.remote_files(fresh=True)
        already = {sha: model.lost[sha] for sha in refs if sha in model.lost}  # journaled lost before a crash
        gone: dict[str, str] = {}
        for sha in refs:
            record = model.uploads.get(sha)
            if record is None:
                continue
            live = listing.get(staging.display_name_for(sha))
            if live is None or live.name != record.name:
                gone[sha] = record.name
        self.rec.record(*(ev.UploadLost(sha256=sha, name=name, path=refs[sha].path,
                                        reason=f"not listed when chunk {chunk}'s results were applied")
                          for sha, name in gone.items()))
        return {**already, **gone}

    def _duplicate(self, chunk: int, key: str, lineno: int, answer: Answer) -> ev.ResultIgnored | None:
        """A batch line for a key the live path delivered first: a paid duplicate (None: the
        key was applied from this very file before a crash, nothing to report)."""
        outcome = self.model.outcomes.get(key)
        if isinstance(outcome, ev.LineApplied) and outcome.via != "live":
            return None
        prompt, output, total = answer.usage
        return ev.ResultIgnored(key=key, chunk=chunk, reason="already_applied", line=lineno, via="batch",
                                usage=ev.Usage(prompt_tokens=prompt, output_tokens=output, total_tokens=total))

    def _collect_file(self, chunk: int, path: Path, ignored: set[tuple[str, str]],
                      token: trio.lowlevel.TrioToken, gone: dict[str, str]) -> None:
        """Worker thread: stream the results file and write it a group of lines at a time.

        Journal appends hop back to the trio thread (one writer).
        """
        group = OutputGroup(self.ctx)
        ignored_events: list[ev.Event] = []

        def flush() -> None:
            events = ignored_events + group.commit()
            ignored_events.clear()
            if events:
                trio.from_thread.run_sync(self.rec.record, *events, trio_token=token)

        model = self.model
        planned = set(model.chunk_keys[chunk])
        seen: set[str] = set()
        pending_bytes = 0
        with naming(path), open(path, "rb") as f:  # a read failing half way names the results file
            for lineno, raw in enumerate(f, 1):
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue
                try:
                    parsed = decode_line(line)
                    key = parsed.key
                except Exception:  # noqa: BLE001 - any garbage line is reported, never fatal
                    parsed, key = None, f"line:{lineno}"
                reason: ev.IgnoredReason | Literal[""] = ("unparseable" if parsed is None else "unknown" if key not in planned
                          else "duplicate" if key in seen else "")
                if reason:
                    if (key, reason) not in ignored:
                        ignored.add((key, reason))
                        ignored_events.append(ev.ResultIgnored(key=key, chunk=chunk, reason=reason, line=lineno))
                    continue
                seen.add(key)
                if parsed is None:
                    continue
                task = model.tasks[key]
                answer = answer_from_line(parsed)
                if model.applied(key) or (answer.ok and self.claims is not None
                                          and not self.claims.take(key, "batch")):
                    duplicate = self._duplicate(chunk, key, lineno, answer)
                    if duplicate is not None and (key, "already_applied:batch") not in ignored:
                        ignored.add((key, "already_applied:batch"))
                        ignored_events.append(duplicate)
                    continue
                if model.settled(key):
                    continue
                lost = _lost_refs(task, gone) if gone and parsed.error is not None else []
                if lost:
                    group.fail(task, "result", FILE_MISSING,
                               f"{', '.join(lost)} gone from the server when the job read it "
                               f"({answer.error_code}: {answer.error_message}); a new attempt uploads it again",
                               True, line)
                else:
                    group.write(task, answer, line)
                self.progress.advance("items")
                pending_bytes += len(line)
                if len(group.events) >= COLLECT_GROUP or pending_bytes >= COLLECT_GROUP_BYTES:
                    flush()
                    pending_bytes = 0
        live_owns_rest = chunk in model.fallbacks  # its live path delivers what the file lacks
        for key in () if live_owns_rest else model.chunk_keys[chunk]:
            if key not in seen and not model.settled(key):
                group.fail(model.tasks[key], "result", "missing", "the job's output has no line for this key", True)
                self.progress.advance("items")
        flush()
