"""``files-cache.json`` and the workspace-wide files cache.

A run's cache maps each local path to the remote file that holds its bytes (completed or
reused uploads, minus files the run deleted). Uploads that were announced but never
settled (``upload.started`` without an outcome) are listed apart, keyed by SHA-256: after
a crash the engine must settle them by listing remote files before uploading again.

The workspace cache folds every run's journal so a new run can reuse a live upload from
an older one; freshness against the clock is the engine's call, not ours (folds are pure).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from chargen_es import events as ev
from projections.model import Projections


def in_flight_uploads(p: Projections) -> dict[str, dict[str, Any]]:
    """Upload intents without an outcome, by SHA-256 (what resume must settle first)."""
    return {
        sha: {"path": e.path, "purpose": e.purpose, "size": e.size, "mime": e.mime,
              "display_name": e.display_name, "chunk": e.chunk, "seq": e.seq, "at": e.at}
        for sha, e in p.upload_intents.items()
    }


def files_view(p: Projections) -> dict[str, Any]:
    return {
        "seq": p.seq,
        "run_id": p.run_id,
        "files": {path: dict(record) for path, record in p.files.items()},
        "in_flight": in_flight_uploads(p),
    }


def _expiry_key(expires: str) -> datetime:
    """RFC 3339 expiries compared as instants, not strings ('Z' vs '+00:00', fractions)."""
    try:
        when = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    except ValueError:
        return _EPOCH
    return when if when.tzinfo else when.replace(tzinfo=UTC)


_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def workspace_files_cache(journals: Iterable[tuple[str, Iterable[ev.Event]]]) -> dict[str, dict[str, Any]]:
    """SHA-256 → the upload record with the latest expiry across all runs.

    A remote file deleted by any run's clean-up, or found lost by any run
    (``upload.lost``), is left out everywhere, since its name no longer resolves. Only
    upload, clean-up and loss events are read, so this stays cheap on big journals.
    """
    records: list[dict[str, Any]] = []
    deleted: set[str] = set()
    for run_id, events in journals:
        for e in events:
            if isinstance(e, ev.UploadCompleted | ev.UploadReused):
                records.append({
                    "sha256": e.sha256, "path": e.path, "mime": e.mime, "name": e.name, "uri": e.uri,
                    "expires": e.expires, "size": e.size, "purpose": e.purpose,
                    "from_run": e.from_run if isinstance(e, ev.UploadReused) else run_id,
                    "backend": e.backend,
                })
            elif isinstance(e, ev.FilesDeleted):
                deleted.update(e.names)
            elif isinstance(e, ev.UploadLost):
                deleted.add(e.name)
    best: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["name"] in deleted:
            continue
        current = best.get(record["sha256"])
        if current is None or _expiry_key(record["expires"]) > _expiry_key(current["expires"]):
            best[record["sha256"]] = record
    return dict(sorted(best.items()))
