"""Uploads: every input file made live remotely exactly once, for both runners.

Each upload follows intent → effect → outcome: ``upload.started`` (display name
``chargen-es:<sha256>``), the SDK call, ``upload.completed``. An intent without an
outcome (a crash, or a reply lost after the server committed the file) is settled by
listing remote files and adopting the one with that display name and size before any
upload is tried again. A file already live, uploaded by this run or by any other run of
the workspace (``workspace``: sha256 → (run id, upload)), is reused while its remaining
life exceeds the margin, so a job submitted now can still read it.

Files belong to a backend (``Backend.identity``: server, API version, key fingerprint).
Every upload record carries it, and a file is live for this invocation only when this
backend holds it: a run resumed against another server (or after the demo's emulator,
Google) uploads again instead of sending ids that server never saw. A file from another
run is also confirmed by this invocation's one listing before it is reused, so a file
deleted or expired behind the index's back is uploaded anew, never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import trio

from chargen_es import events as ev
from chargen_es.engine import staging
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.options import EngineOptions
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.retry import is_retry
from chargen_es.errors import ContentError
from chargen_es.fsio import sha256_file
from chargen_es.gateway import Gateway, RemoteFile
from projections import Projections, Upload

T = TypeVar("T")
UPLOAD_GROUP = 32  # upload outcomes per journal group commit while staging


def _adoptable(match: RemoteFile, need: staging.Needed) -> bool:
    """A listed file may settle an upload intent only when it is whole: the size we sent
    (an empty or partial file is not ours to trust), a state other than FAILED, and, when
    the server gives one, the SHA-256 of our bytes."""
    if match.size == 0 or (need.size and match.size != need.size):
        return False
    if match.state in ("FAILED", "STATE_FAILED"):
        return False
    return not (match.sha256 and match.sha256 != need.sha256)


class Uploads:
    """The upload side of a run: staging, one file on demand, and settling by listing."""

    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
                 workspace: dict[str, tuple[str, Upload]] | None = None,
                 calls: trio.CapacityLimiter | None = None) -> None:
        self.rec = recorder
        self.gw = gateway
        self.opt = options
        self.progress = progress
        self.workspace = workspace or {}
        self.calls = calls or trio.CapacityLimiter(max(options.upload_concurrency, 8))
        self._listing: dict[str, RemoteFile] | None = None
        self._listing_lock = trio.Lock()
        self._sha_locks: dict[str, trio.Lock] = {}

    @property
    def model(self) -> Projections:
        return self.rec.model

    @property
    def backend(self) -> str:
        return self.gw.backend.identity

    def live(self, sha256: str) -> bool:
        model = self.model
        record = model.uploads.get(sha256)
        return (record is not None and record.backend == self.backend
                and staging.usable(record, model.last_at, self.opt.reuse_margin_s))

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.calls)

    async def stage(self, chunks: list[int]) -> None:
        """Make every input of the pending tasks of ``chunks`` live, with few journal flushes.

        Intents left by an earlier invocation are settled with one listing; the uploads
        still needed are announced (or reused from the workspace) in one group commit
        before any starts; their outcomes are appended in groups as they finish.
        """
        model = self.model
        needs = staging.needed_inputs(model, chunks)
        missing = [n for n in needs if not self.live(n.sha256)]
        self.progress.start("uploads", len(needs), "files")
        self.progress.advance("uploads", len(needs) - len(missing))
        self.progress.start("upload bytes", sum(n.size for n in missing), "bytes")
        if any(n.sha256 in model.upload_intents for n in missing):
            listing = await self.remote_files(fresh=True)
            self.rec.record(*(e for n in missing if n.sha256 in model.upload_intents
                              and (e := self._adoption(listing, n)) is not None))
        announce: list[ev.Event] = []
        confirmed = await self._confirmed_reuse(missing)
        for need in missing:
            if self.live(need.sha256) or need.sha256 in model.upload_intents:
                continue  # adopted, or announced before and not found: upload under that intent
            cached = confirmed.get(need.sha256)
            if cached is not None:
                announce.append(ev.UploadReused(path=need.path, sha256=need.sha256, name=cached[1].name,
                                                uri=cached[1].uri, expires=cached[1].expires, from_run=cached[0],
                                                purpose=need.purpose, mime=need.mime, size=need.size,
                                                backend=self.backend))
            else:
                announce.append(self._intent(need))
        self.rec.record(*announce)
        todo = [n for n in missing if not self.live(n.sha256)]
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

    async def _confirmed_reuse(self, needs: list[staging.Needed]) -> dict[str, tuple[str, Upload]]:
        """The workspace's files for ``needs`` (``workspace`` holds only this backend's:
        ``runs.workspace_uploads``) that the server still lists whole.

        One listing per invocation (cached), and only when there is something to reuse.
        """
        model = self.model
        candidates = {n.sha256: c for n in needs
                      if (c := self.workspace.get(n.sha256)) is not None
                      and staging.usable(c[1], model.last_at, self.opt.reuse_margin_s)}
        if not candidates:
            return {}
        listing = {f.name: f for f in (await self.remote_files(fresh=False)).values()}
        return {sha: c for sha, c in candidates.items()
                if (f := listing.get(c[1].name)) is not None and f.state not in ("FAILED", "STATE_FAILED")
                and (not f.size or f.size == c[1].size)}

    async def ensure(self, need: staging.Needed) -> Upload:
        """Make one file live remotely exactly once (intent, upload, outcome)."""
        async with self._sha_locks.setdefault(need.sha256, trio.Lock()):
            if self.live(need.sha256):
                return self.model.uploads[need.sha256]
            if need.sha256 in self.model.upload_intents:
                adopted = self._adoption(await self.remote_files(fresh=True), need)
                if adopted is not None:
                    self.rec.record(adopted)
                    return self.model.uploads[need.sha256]
            else:
                self.rec.record(self._intent(need))
            self.rec.record(await self._upload(need))
            return self.model.uploads[need.sha256]

    def _intent(self, need: staging.Needed) -> ev.UploadStarted:
        return ev.UploadStarted(purpose=need.purpose, path=need.path, sha256=need.sha256, size=need.size,
                                mime=need.mime, display_name=staging.display_name_for(need.sha256),
                                chunk=need.chunk)

    async def _upload(self, need: staging.Needed) -> ev.UploadCompleted:
        """Upload under a durable intent; returns the outcome event (not yet appended)."""
        path = self.opt.root / need.path
        actual = await trio.to_thread.run_sync(sha256_file, path)
        if actual != need.sha256:
            now = f"sha256 {actual[:12]}…" if actual else "gone"
            raise ContentError(need.path, f"changed since it was planned ({now}, planned {need.sha256[:12]}…); "
                               "start a new run so the plan matches the files")
        async for attempt in self.opt.retry.retrying():
            with attempt:
                if is_retry(attempt) and (adopted := await self._settle(need)) is not None:
                    return adopted  # settle by listing before any retry: the reply may have been lost
                crash_point("before", "upload")
                remote = await self._call(self.gw.upload, path, need.mime, staging.display_name_for(need.sha256))
                crash_point("after", "upload")
        return self._completed(need, remote, adopted=False)

    async def _settle(self, need: staging.Needed) -> ev.UploadCompleted | None:
        return self._adoption(await self.remote_files(fresh=True), need)

    def _completed(self, need: staging.Needed, remote: RemoteFile, adopted: bool) -> ev.UploadCompleted:
        return ev.UploadCompleted(purpose=need.purpose, path=need.path, sha256=need.sha256, size=need.size,
                                  mime=need.mime, display_name=staging.display_name_for(need.sha256),
                                  name=remote.name, uri=remote.uri, expires=remote.expires, chunk=need.chunk,
                                  adopted=adopted, backend=self.backend)

    def _adoption(self, listing: dict[str, RemoteFile], need: staging.Needed) -> ev.UploadCompleted | None:
        """Settle an upload intent: a live remote file with our display name and size, if any."""
        match = listing.get(staging.display_name_for(need.sha256))
        if match is None or not _adoptable(match, need):
            return None
        candidate = Upload(need.sha256, match.name, match.uri, match.expires, need.mime, need.size, need.path,
                           self.backend)
        if not staging.usable(candidate, self.model.last_at, self.opt.reuse_margin_s):
            return None
        return self._completed(need, match, adopted=True)

    async def remote_files(self, fresh: bool) -> dict[str, RemoteFile]:
        async with self._listing_lock:
            if self._listing is None or fresh:
                files = await self.opt.retry.call(self._call, self.gw.list_files)
                listing: dict[str, RemoteFile] = {}
                for f in files:  # newest expiry wins when a name appears twice
                    old = listing.get(f.display_name)
                    if old is None or f.expires > old.expires:
                        listing[f.display_name] = f
                self._listing = listing
            return self._listing
