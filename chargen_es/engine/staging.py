"""Staging: every input image uploaded once, and one requests JSONL per chunk.

Uploads follow intent → effect → outcome. The intent ``upload.started`` carries the
display name ``chargen-es:<sha256>``; an intent with no outcome (a crash, or a reply lost
after the server committed the file) is settled by listing remote files and adopting the
one with that display name and size, and only then uploading again. A file already
uploaded, by this run or any other run of the workspace, is reused while its remaining
life exceeds the margin, so a job submitted now can still read it.

``requests-NNN.jsonl`` is a pure function of the plan and the upload URIs: written
streaming to a temp file, fsynced and renamed, it is byte-identical whenever it is rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from chargen_es import events as ev
from chargen_es.fsio import atomic_stream
from projections import Projections, Upload

DISPLAY_PREFIX = "chargen-es:"
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True)
class Needed:
    """A local file some pending task needs remotely."""

    sha256: str
    path: str  # relative to root
    mime: str
    size: int
    purpose: ev.UploadPurpose
    chunk: int | None = None


def display_name_for(sha256: str) -> str:
    return f"{DISPLAY_PREFIX}{sha256}"


def seconds_left(expires: str, now_iso: str) -> float:
    """Remaining life of a remote file at the journal time ``now_iso`` (both RFC 3339)."""
    if not expires:
        return 0.0
    try:
        end = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        now = datetime.fromisoformat(now_iso.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (end - now).total_seconds()


def needed_inputs(model: Projections, chunks: Iterable[int]) -> list[Needed]:
    """Unique input files of the pending tasks of ``chunks``, in plan order."""
    seen: dict[str, Needed] = {}
    for chunk in chunks:
        for key in model.pending_keys(chunk):
            task = model.tasks[key]
            refs = list(task.references)
            purposes: list[ev.UploadPurpose] = ["reference"] * len(refs)
            if task.input_image is not None:
                refs.append(task.input_image)
                purposes.append("analysis-input")
            for ref, purpose in zip(refs, purposes, strict=True):
                if ref.sha256 not in seen:
                    seen[ref.sha256] = Needed(ref.sha256, ref.path, ref.mime or "application/octet-stream",
                                              ref.size, purpose)
    return list(seen.values())


def usable(record: Upload | None, now_iso: str, margin_s: float) -> bool:
    return record is not None and seconds_left(record.expires, now_iso) > margin_s


def request_line(task: ev.Task, uris: dict[str, Upload], store: bool = False) -> dict[str, Any]:
    """The batch line (and live request) for a task: REST JSON, camelCase, fileData refs.

    ``store`` is always sent: Google keeps Generate Content requests (batch included) in the
    project's logs by default for paid projects created on or after 2026-10-26 (changelog of
    that day; https://ai.google.dev/gemini-api/docs/logs-datasets, read 2026-12-07), and the
    request's own ``store`` overrides the project setting. ``false`` unless the run asked.
    """
    parts: list[dict[str, Any]] = []
    inputs = list(task.references)
    if task.input_image is not None:
        inputs.append(task.input_image)
    for ref in inputs:
        record = uris[ref.sha256]
        parts.append({"fileData": {"fileUri": record.uri, "mimeType": ref.mime or record.mime}})
    parts.append({"text": task.prompt})
    request: dict[str, Any] = {"contents": [{"role": "user", "parts": parts}]}
    config = task.generation_config
    safety = config.get("safetySettings")
    if safety:  # planned with the config (so the key covers it), sent beside it as the API wants
        config = {k: v for k, v in config.items() if k != "safetySettings"}
        request["safetySettings"] = safety
    if config:
        request["generationConfig"] = config
    request["store"] = store
    return request


def write_requests(path: Path, tasks: Iterable[ev.Task], uris: dict[str, Upload],
                   store: bool = False) -> tuple[str, int, int]:
    """Stream the chunk's JSONL to a temp file, fsync, rename. Returns (sha256, lines, bytes)."""
    digest = hashlib.sha256()
    lines = 0
    size = 0
    with atomic_stream(path, point="requests.write") as f:
        for task in tasks:
            data = _ENCODER.encode({"key": task.key, "request": request_line(task, uris, store)}) + b"\n"
            f.write(data)
            digest.update(data)
            lines += 1
            size += len(data)
    return digest.hexdigest(), lines, size
