"""The Files API: resumable upload, get, list, delete, download.

The resumable protocol is reproduced the way the SDK drives it (protocol §3): the start
call answers with an *absolute* upload URL on this server; chunks are appended by offset;
the chunk carrying ``finalize`` commits the file and answers ``{"file": File}`` with
``x-goog-upload-status: final``. A re-sent chunk (the SDK re-sends when a reply lacks the
status header) is accepted idempotently by cutting the buffer back to its offset.
"""

from __future__ import annotations

import re
from typing import Any

from chargen_es.emulator.clock import Clock
from chargen_es.emulator.config import EmulatorConfig
from chargen_es.emulator.state import FileRec, Store, UploadSession, paginate, sha256_hex
from chargen_es.emulator.wire import ApiError, field, new_id

_ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
FINAL = {"x-goog-upload-status": "final"}


class FilesApi:
    """File operations over the shared :class:`Store`."""

    def __init__(self, store: Store, config: EmulatorConfig, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    # -- upload ---------------------------------------------------------------------------

    def start_upload(self, body: Any, headers: dict[str, str], upload_url: str) -> dict[str, str]:
        """Open a session; returns the reply headers (the upload URL is what matters)."""
        meta = field(body, "file") or {}
        name = field(meta, "name")
        if name:
            fid = str(name).removeprefix("files/")
            if not _ID_RE.match(fid):
                raise ApiError(400, f"Invalid file name {name!r}: use [a-z0-9-], at most 40 characters.")
            if self.store.live_file(fid) is not None:
                raise ApiError(409, f"File files/{fid} already exists.")
        else:
            fid = new_id()
        display = field(meta, "displayName")
        if display is not None and len(str(display)) > 512:
            raise ApiError(400, "displayName is longer than 512 characters.")
        mime = field(meta, "mimeType") or headers.get("x-goog-upload-header-content-type") or \
            "application/octet-stream"
        size = field(meta, "sizeBytes") or headers.get("x-goog-upload-header-content-length")
        session = UploadSession(id=new_id(20), file_id=fid,
                                display_name=None if display is None else str(display),
                                mime_type=str(mime), total=int(size) if size not in (None, "") else None)
        with self.store.lock:
            self.store.uploads[session.id] = session
        self.store.count_name(session.display_name, "uploads_started")
        sep = "&" if "?" in upload_url else "?"
        return {"x-goog-upload-url": f"{upload_url}{sep}upload_id={session.id}&upload_protocol=resumable",
                "x-goog-upload-status": "active", "x-goog-upload-chunk-granularity": "8388608"}

    def session(self, upload_id: str) -> UploadSession:
        with self.store.lock:
            session = self.store.uploads.get(upload_id)
        if session is None:
            raise ApiError(404, f"Upload session {upload_id!r} not found.", headers=FINAL)
        return session

    def chunk(self, upload_id: str, headers: dict[str, str], data: bytes,
              version: str, base_url: str) -> tuple[dict[str, str], dict[str, Any] | None]:
        """Append one chunk; returns reply headers and, on finalize, the ``{"file": ...}`` body."""
        session = self.session(upload_id)
        command = {c.strip().lower() for c in headers.get("x-goog-upload-command", "").split(",")}
        if "cancel" in command:
            with self.store.lock:
                self.store.uploads.pop(upload_id, None)
            return {"x-goog-upload-status": "cancelled"}, None
        if "query" in command:
            return {"x-goog-upload-status": "active",
                    "x-goog-upload-size-received": str(len(session.buf))}, None
        with self.store.lock:
            offset = int(headers.get("x-goog-upload-offset", len(session.buf)) or 0)
            if offset > len(session.buf):
                raise ApiError(400, f"Chunk offset {offset} is past the {len(session.buf)} bytes received.",
                               headers=FINAL)
            del session.buf[offset:]
            session.buf += data
            if "finalize" not in command:
                return {"x-goog-upload-status": "active"}, None
            if session.total is not None and session.total != len(session.buf):
                self.store.uploads.pop(upload_id, None)
                raise ApiError(400, f"Upload declared {session.total} bytes but sent {len(session.buf)}.",
                               headers=FINAL)
            self.store.uploads.pop(upload_id, None)
        data = bytes(session.buf)
        digest = sha256_hex(data)
        self.store.count_name(session.display_name, "uploads_completed")
        with self.store.lock:
            self.store.uploads_by_sha256[digest] += 1
        rec = self.commit(session.file_id, data, session.mime_type, session.display_name,
                          sha256=digest)  # also saves the counters
        return {"x-goog-upload-status": "final"}, {"file": rec.resource(version, base_url)}

    def commit(self, fid: str, data: bytes, mime: str, display: str | None,
               source: str = "UPLOADED", sha256: str | None = None, created: float | None = None) -> FileRec:
        """Store a complete file (an upload, or a generated output dated when its job ended)."""
        now = self.clock.now() if created is None else created
        rec = FileRec(id=fid, seq=self.store.next_seq(), display_name=display, mime_type=mime,
                      create_ts=now, expire_ts=now + self.config.file_ttl_s, sha256=sha256 or sha256_hex(data),
                      source=source, data=data)
        self.store.put_file(rec)
        return rec

    # -- read and delete ------------------------------------------------------------------

    def require(self, fid: str) -> FileRec:
        rec = self.store.live_file(fid)
        if rec is None:
            raise ApiError(404, f"File files/{fid} not found.")
        return rec

    def get(self, fid: str, version: str, base_url: str) -> dict[str, Any]:
        return self.require(fid).resource(version, base_url)

    def list(self, query: dict[str, str], version: str, base_url: str) -> dict[str, Any]:
        page, token = paginate(self.store.live_files(), query.get("pageSize", query.get("page_size")),
                               query.get("pageToken", query.get("page_token")))
        out: dict[str, Any] = {}
        if page:
            out["files"] = [r.resource(version, base_url) for r in page]
        if token:
            out["nextPageToken"] = token
        return out

    def delete(self, fid: str) -> dict[str, Any]:
        self.require(fid)
        self.store.drop_file(fid)
        with self.store.lock:
            self.store.totals["deletes"] += 1
        self.store.save_counters()
        return {}

    def download(self, fid: str) -> FileRec:
        rec = self.require(fid)
        with self.store.lock:
            self.store.totals["downloads"] += 1
        return rec
