"""The emulator's state: files, upload sessions, batch jobs, counters, and their persistence.

Everything lives in memory behind one lock; heavy work (PNG rendering, output files) is
done outside it by the callers. With a data directory every committed change is also
written to disk, one small JSON file per record plus one blob per file's bytes, each with
an atomic write (temp file, fsync, rename, fsync of the folder), so a restarted emulator
sees exactly the committed state and never a torn record. Upload sessions in flight are
not persisted: a restart loses them, as a client would see after a long outage.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from chargen_es.emulator.clock import Clock, WallClock
from chargen_es.emulator.wire import decode, encode, rfc3339

API_HOST = "https://generativelanguage.googleapis.com"


@dataclass
class FileRec:
    """One stored file: an upload or a generated batch output."""

    id: str
    seq: int
    display_name: str | None
    mime_type: str
    create_ts: float
    expire_ts: float
    sha256: str  # hex digest of the bytes
    source: str = "UPLOADED"
    data: bytes = b""

    def resource(self, version: str, base_url: str) -> dict[str, Any]:
        out: dict[str, Any] = {"name": f"files/{self.id}", "mimeType": self.mime_type,
                               "sizeBytes": str(len(self.data)), "createTime": rfc3339(self.create_ts),
                               "updateTime": rfc3339(self.create_ts),
                               "expirationTime": rfc3339(self.expire_ts),
                               # base64 of the *hex* digest, as the live service sends it
                               "sha256Hash": base64.b64encode(self.sha256.encode("ascii")).decode(),
                               "uri": f"{API_HOST}/{version}/files/{self.id}",
                               "state": "ACTIVE", "source": self.source}
        if self.display_name is not None:
            out["displayName"] = self.display_name
        if self.source == "GENERATED":
            out["downloadUri"] = f"{base_url}/download/{version}/files/{self.id}:download?alt=media"
        return out

    def meta(self) -> dict[str, Any]:
        return {"id": self.id, "seq": self.seq, "display_name": self.display_name,
                "mime_type": self.mime_type, "create_ts": self.create_ts, "expire_ts": self.expire_ts,
                "sha256": self.sha256, "source": self.source}


@dataclass
class UploadSession:
    """A resumable upload between its start and its finalize."""

    id: str
    file_id: str
    display_name: str | None
    mime_type: str
    total: int | None
    buf: bytearray = field(default_factory=bytearray)


@dataclass
class BatchRec:
    """One batch job. Non-final states are derived from the clock; final ones are stored."""

    id: str
    seq: int
    model: str
    display_name: str
    create_ts: float
    due_ts: float
    input_config: dict[str, Any]
    entries: list[dict[str, Any]]  # {"key", "request", "metadata"?}
    inline: bool
    input_sha256: str
    job_fault: str | None = None  # FAILED | EXPIRED | PENDING (held until released or expired)
    final_state: str | None = None  # SUCCEEDED | FAILED | CANCELLED | EXPIRED
    end_ts: float | None = None
    succeeded: int = 0
    failed: int = 0
    output_file: str | None = None
    inline_responses: list[dict[str, Any]] | None = None
    spec: dict[str, Any] | None = None  # the model's catalog entry at create time
    future: Future[Any] | None = None
    finish_lock: threading.Lock = field(default_factory=threading.Lock)

    def meta(self) -> dict[str, Any]:
        return {"id": self.id, "seq": self.seq, "model": self.model, "display_name": self.display_name,
                "create_ts": self.create_ts, "due_ts": self.due_ts, "input_config": self.input_config,
                "inline": self.inline, "input_sha256": self.input_sha256, "job_fault": self.job_fault,
                "final_state": self.final_state, "end_ts": self.end_ts, "succeeded": self.succeeded,
                "failed": self.failed, "output_file": self.output_file,
                "inline_responses": self.inline_responses, "spec": self.spec}


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename, fsync of the folder: readers see old or new, never half.

    On a failure (a full disk) the temp file is removed and the error names ``path``.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        exc.filename = str(path)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


T = TypeVar("T", FileRec, BatchRec)


def paginate(items: Iterable[T], page_size: Any, token: Any) -> tuple[list[T], str | None]:
    """Newest first, cursor tokens; a next token only when a non-empty page follows."""
    try:
        size = int(page_size) if page_size not in (None, "") else 10
    except (TypeError, ValueError):
        size = 10
    size = 10 if size <= 0 else min(size, 100)
    ordered = sorted(items, key=lambda r: r.seq, reverse=True)
    if token:
        try:
            cursor = int(token)
        except ValueError:
            cursor = -1
        ordered = [r for r in ordered if r.seq < cursor]
    page = ordered[:size]
    return page, (str(page[-1].seq) if len(ordered) > size else None)


class Store:
    """All records, counters and the optional on-disk copy; thread-safe via ``lock``."""

    def __init__(self, data_dir: Path | None, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock: Clock = clock or WallClock()
        self.data_dir = data_dir
        self.files: dict[str, FileRec] = {}
        self.uploads: dict[str, UploadSession] = {}
        self.batches: dict[str, BatchRec] = {}
        self.seq = 0
        self.operations: Counter[str] = Counter()
        self.by_display_name: dict[str, Counter[str]] = {}
        self.uploads_by_sha256: Counter[str] = Counter()
        self.batch_inputs_by_sha256: Counter[str] = Counter()
        self.batch_keys: Counter[str] = Counter()  # every key of every created job's lines
        self.safety_settings: Counter[str] = Counter()  # CATEGORY=THRESHOLD over calls and batch lines
        self.totals: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()  # requests being answered now, by operation
        self.max_in_flight: Counter[str] = Counter()  # the most ever answered at once, by operation
        if data_dir is not None:
            for sub in ("files", "blobs", "batches", "inputs"):
                (data_dir / sub).mkdir(parents=True, exist_ok=True)
            self._load()

    # -- counters -------------------------------------------------------------------------

    def count_op(self, op: str) -> None:
        with self.lock:
            self.operations[op] += 1

    def enter(self, op: str) -> None:
        """A request of ``op`` starts being answered (concurrency on the wire, for tests of
        a client's worker limit)."""
        with self.lock:
            self.in_flight[op] += 1
            self.max_in_flight[op] = max(self.max_in_flight[op], self.in_flight[op])

    def leave(self, op: str) -> None:
        with self.lock:
            self.in_flight[op] -= 1

    def count_name(self, name: str | None, what: str) -> None:
        if name is None:
            return
        with self.lock:
            self.by_display_name.setdefault(name, Counter())[what] += 1

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def stats(self) -> dict[str, Any]:
        with self.lock:
            names = {n: {k: c.get(k, 0) for k in ("uploads_started", "uploads_completed", "jobs_created")}
                     for n, c in self.by_display_name.items()}
            return {"operations": dict(self.operations), "by_display_name": names,
                    "uploads_by_sha256": dict(self.uploads_by_sha256),
                    "batch_inputs_by_sha256": dict(self.batch_inputs_by_sha256),
                    "batch_keys": dict(self.batch_keys), "max_in_flight": dict(self.max_in_flight),
                    "safety_settings": dict(self.safety_settings),
                    "calls": self.totals["calls"], "calls_rejected": self.totals["calls_rejected"],
                    "downloads": self.totals["downloads"], "deletes": self.totals["deletes"],
                    "files": len(self.files), "batches": len(self.batches),
                    "store": {k: self.totals[f"store_{k}"] for k in ("false", "true", "absent")},
                    "logged_requests": self.totals["logged_requests"]}

    def note_store(self, request: Any, stores_by_default: bool) -> None:
        """Count a generate request's ``store`` field and whether Google would keep it in the
        project's logs: ``store`` wins, else the project's default (on for paid projects
        created on or after 2026-10-26, changelog of that day)."""
        value = request.get("store") if isinstance(request, dict) else None
        kind = "absent" if value is None else ("true" if value is True else "false")
        with self.lock:
            self.totals[f"store_{kind}"] += 1
            if value is True or (value is None and stores_by_default):
                self.totals["logged_requests"] += 1

    # -- lookups --------------------------------------------------------------------------

    def live_file(self, fid: str, now: float | None = None) -> FileRec | None:
        """The file if it exists and has not expired; expired files are purged on sight."""
        with self.lock:
            rec = self.files.get(fid)
            if rec is None:
                return None
            if rec.expire_ts <= (now if now is not None else self.clock.now()):
                self.drop_file(fid)
                return None
            return rec

    def live_files(self) -> list[FileRec]:
        now = self.clock.now()
        with self.lock:
            return [r for r in list(self.files.values()) if self.live_file(r.id, now) is not None]

    # -- persistence ----------------------------------------------------------------------

    def put_file(self, rec: FileRec) -> None:
        if self.data_dir is not None:
            atomic_write(self.data_dir / "blobs" / rec.id, rec.data)
            atomic_write(self.data_dir / "files" / f"{rec.id}.json", encode(rec.meta()))
        with self.lock:
            self.files[rec.id] = rec
        self.save_counters()

    def drop_file(self, fid: str) -> None:
        with self.lock:
            self.files.pop(fid, None)
        if self.data_dir is not None:
            _remove(self.data_dir / "files" / f"{fid}.json")
            _remove(self.data_dir / "blobs" / fid)

    def put_batch(self, rec: BatchRec, *, with_input: bool = False) -> None:
        if self.data_dir is not None:
            if with_input:
                atomic_write(self.data_dir / "inputs" / f"{rec.id}.json", encode(rec.entries))
            atomic_write(self.data_dir / "batches" / f"{rec.id}.json", encode(rec.meta()))
        with self.lock:
            self.batches[rec.id] = rec
        self.save_counters()

    def drop_batch(self, bid: str) -> None:
        with self.lock:
            self.batches.pop(bid, None)
        if self.data_dir is not None:
            _remove(self.data_dir / "batches" / f"{bid}.json")
            _remove(self.data_dir / "inputs" / f"{bid}.json")
        self.save_counters()

    def save_counters(self) -> None:
        if self.data_dir is None:
            return
        with self.lock:
            snapshot = {"seq": self.seq, "operations": self.operations,
                        "by_display_name": self.by_display_name,
                        "uploads_by_sha256": self.uploads_by_sha256,
                        "batch_inputs_by_sha256": self.batch_inputs_by_sha256, "batch_keys": self.batch_keys,
                        "totals": self.totals}
            data = encode(snapshot)
            atomic_write(self.data_dir / "counters.json", data)

    def _load(self) -> None:
        assert self.data_dir is not None
        root = self.data_dir
        counters = root / "counters.json"
        if counters.exists():
            snap = decode(counters.read_bytes())
            self.seq = int(snap.get("seq", 0))
            self.operations.update(snap.get("operations", {}))
            for name, c in snap.get("by_display_name", {}).items():
                self.by_display_name[name] = Counter(c)
            self.uploads_by_sha256.update(snap.get("uploads_by_sha256", {}))
            self.batch_inputs_by_sha256.update(snap.get("batch_inputs_by_sha256", {}))
            self.batch_keys.update(snap.get("batch_keys", {}))
            self.totals.update(snap.get("totals", {}))
        for path in sorted((root / "files").glob("*.json")):
            meta = decode(path.read_bytes())
            blob = root / "blobs" / meta["id"]
            if not blob.exists():
                continue
            self.files[meta["id"]] = FileRec(data=blob.read_bytes(), **meta)
        for path in sorted((root / "batches").glob("*.json")):
            meta = decode(path.read_bytes())
            inp = root / "inputs" / f"{meta['id']}.json"
            entries = decode(inp.read_bytes()) if inp.exists() else []
            self.batches[meta["id"]] = BatchRec(entries=entries, **meta)
        seqs = [r.seq for r in self.files.values()] + [r.seq for r in self.batches.values()]
        self.seq = max([self.seq, *seqs])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

