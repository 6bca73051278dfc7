"""Applying one item's outcome to the content tree, idempotently.

Order (design.md section 5): the image or analysis file (temp in the target folder, fsync,
rename to its deterministic name, fsync the folder; skipped when the file is already there
with the same hash), then ``imagery.yaml`` (set by task key, under its lock), and only then
the ``line.applied`` event, which the caller appends. Replaying any prefix of that
sequence after a crash converges on the same bytes: nothing here appends blindly.

Failures become ``item.failed`` with a ``failed/<key>.json`` holding the task, the raw
result line (capped) and the error, so nothing the server said is lost.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import msgspec

from chargen_es import events as ev
from chargen_es import imagery
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.results import Outcome, parse_analysis
from projections.atomic import write_atomic

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_RAW_CAP = 64 * 1024


@dataclass(frozen=True)
class ApplyContext:
    root: Path
    run_dir: Path
    run_id: str
    generated_at: str  # stamp written into imagery.yaml entries


def safe_key_name(key: str) -> str:
    """A file name for a task key: readable, unique (hash suffix), no separators."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", key.split("@", 1)[0]).strip("._")[:80]
    return f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _inside(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{rel}: resolves outside --root")
    return path


def _write_output(path: Path, data: bytes, effect: str) -> ev.Output:
    digest = hashlib.sha256(data).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    crash_point("before", effect)
    write_atomic(path, data, skip_if_same=True)
    crash_point("after", effect)
    return ev.Output(path="", sha256=digest, bytes=len(data), mime="")


def apply_outcome(ctx: ApplyContext, task: ev.Task, outcome: Outcome, raw: bytes = b"") -> ev.Event:
    """Write the item's files and imagery entry; return the event that records it."""
    if not outcome.ok:
        return fail(ctx, task, "result", outcome.error_code, outcome.error_message, outcome.retryable, raw)
    usage = ev.Usage(prompt_tokens=outcome.usage[0], output_tokens=outcome.usage[1], total_tokens=outcome.usage[2])
    if task.kind == "analyze":
        analysis = parse_analysis(outcome.text)
        if analysis is None:
            return fail(ctx, task, "apply", "bad_analysis", "the model's answer is not a JSON object", True, raw)
        rel = f"{task.output_dir}/{task.output_stem}.analysis.json"
        data = (json.dumps(analysis, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        mime = "application/json"
    else:
        if not outcome.images:
            excerpt = outcome.text[:200]
            return fail(ctx, task, "result", "no_image",
                        f"response has no image{': ' + excerpt if excerpt else ''}", True, raw)
        image = outcome.images[0]
        ext = EXTENSIONS.get(image.mime.lower())
        if ext is None:
            return fail(ctx, task, "apply", "bad_mime", f"unexpected image mime {image.mime!r}", False, raw)
        rel = f"{task.output_dir}/{task.output_stem}.{ext}"
        data = image.data
        mime = image.mime.lower()
    path = _inside(ctx.root, rel)
    written = _write_output(path, data, "image.write")
    output = ev.Output(path=rel, sha256=written.sha256, bytes=written.bytes, mime=mime)
    crash_point("before", "imagery.write")
    if task.kind == "analyze":
        imagery.record_analysis(ctx.root, task, rel, ctx.run_id)
    else:
        imagery.record_generated(ctx.root, task, output, ctx.run_id, ctx.generated_at)
    crash_point("after", "imagery.write")
    imagery_file = f"{task.entity_type}/{task.slug}/imagery.yaml"
    return ev.LineApplied(key=task.key, chunk=task.chunk, outputs=(output,), files_updated=(imagery_file,),
                          usage=usage)


def fail(ctx: ApplyContext, task: ev.Task, stage: str, code: str, message: str, retryable: bool,
         raw: bytes = b"") -> ev.ItemFailed:
    """Record the failure's detail file and return its ``item.failed`` event."""
    rel = f"failed/{safe_key_name(task.key)}.json"
    detail = {
        "task": msgspec.to_builtins(task),
        "stage": stage,
        "error": {"code": code, "message": message, "retryable": retryable},
        "raw_line": raw[:_RAW_CAP].decode("utf-8", "replace") if raw else None,
        "raw_truncated": len(raw) > _RAW_CAP,
    }
    (ctx.run_dir / "failed").mkdir(exist_ok=True)
    write_atomic(ctx.run_dir / rel, (json.dumps(detail, indent=2, sort_keys=True) + "\n").encode(),
                 skip_if_same=True)
    return ev.ItemFailed(key=task.key, stage=stage, code=code, message=message, retryable=retryable,
                         detail_path=rel, chunk=task.chunk)
