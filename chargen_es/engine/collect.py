"""Results of a finished job: download the output file, then collect it into the tree.

The download streams to a temp file, is hashed while it streams, then renamed into place
durably before ``results.downloaded``. Collecting reads that file a line at a time, joins
each line to its task by key (never by position), writes each item's outputs a group at
a time (:mod:`chargen_es.engine.outputs`) and appends the group's events only after its
files are flushed. Lines with unknown, duplicate or unparseable keys are reported
(``result.ignored``), never applied; planned keys without a line fail as ``missing``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import trio

from chargen_es import events as ev
from chargen_es.engine.claims import Claims
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.options import EngineOptions
from chargen_es.engine.outputs import OutputContext, OutputGroup
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.results import Answer, answer_from_line, decode_line
from chargen_es.gateway import Download, Gateway
from projections import Projections
from projections.atomic import fsync_dir, sha256_file

# Line outcomes per flush and journal group commit. Large, because Gemini returns lines
# in no order: a small group touches most entities of the chunk, and each touched
# imagery.yaml is one locked, fsynced read-modify-write per group.
COLLECT_GROUP = 1024
COLLECT_GROUP_BYTES = 64 << 20  # ... or fewer, once this much result data is waiting


def _publish(part: Path, dest: Path) -> None:
    """Rename a fully written, fsynced file into place and make the rename durable."""
    os.replace(part, dest)
    fsync_dir(dest.parent)


class Results:
    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
                 calls: trio.CapacityLimiter, claims: Claims | None = None) -> None:
        """``claims``: shared with the live path of fallback chunks (engine.fallback)."""
        self.claims = claims
        self.rec = recorder
        self.gw = gateway
        self.opt = options
        self.progress = progress
        self.calls = calls
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
        part = dest.with_name(f".{dest.name}.part")
        crash_point("before", "download")
        self.progress.start(f"download {chunk}", None, "bytes")
        got = await self.opt.retry.call(self._fetch, job.output_file, part, self._on_bytes(chunk))
        await trio.to_thread.run_sync(_publish, part, dest)
        crash_point("after", "download")
        self.rec.record(ev.ResultsDownloaded(chunk=chunk, path=dest.relative_to(self.opt.root).as_posix(),
                                             sha256=got.sha256, bytes=got.bytes, lines=got.lines,
                                             remote_name=job.output_file))
        self._fresh.add(chunk)

    async def _fetch(self, name: str, part: Path, on_bytes: Callable[[int], None]) -> Download:
        return await trio.to_thread.run_sync(self.gw.download, name, part, on_bytes, limiter=self.calls)

    def _on_bytes(self, chunk: int) -> Callable[[int], None]:
        bar = f"download {chunk}"
        return lambda n: self.progress.advance(bar, n)

    async def collect(self, chunk: int) -> None:
        record = self.model.downloads[chunk]
        path = self.opt.root / record.path
        if chunk not in self._fresh and await trio.to_thread.run_sync(sha256_file, path) != record.sha256:
            await self.download(chunk)  # a results file that is gone or changed is fetched again
            record = self.model.downloads[chunk]
        self.progress.phase("applying", f"chunk {chunk}")
        token = trio.lowlevel.current_trio_token()
        ignored = {(i.key, f"{i.reason}:{i.via}" if i.via else i.reason)  # read on the trio thread
                   for i in self.model.ignored if i.chunk == chunk}
        await trio.to_thread.run_sync(self._collect_file, chunk, path, ignored, token)

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
                      token: trio.lowlevel.TrioToken) -> None:
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
                if parsed is None:
                    continue
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
                group.write(model.tasks[key], answer, line)
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
