"""Writing items' outputs into the content tree, idempotently, a group at a time.

(What the journal calls applying a line: ``line.applied`` follows these writes.)

Order (docs/run-format.md, "Applying a result"): the image or analysis file (temp in the target folder,
renamed to its deterministic name; not written at all when the file is already there
with the expected hash), then ``imagery.yaml`` (set by task key, under its lock, one
read-modify-write per entity for the whole group), then one flush that makes every file
of the group durable (:mod:`chargen_es.engine.durable`), and only then the group's
``line.applied`` / ``item.failed`` events, which the caller appends in one commit.
Replaying any prefix of that sequence after a crash converges on the same bytes: nothing
here appends blindly, and a file is trusted only by its hash.

Failures become ``item.failed`` with a ``failed/<key>.json`` holding the task, the raw
result line (capped) and the error, so nothing the server said is lost.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from chargen_es import analysis as analysis_contract
from chargen_es import catalogue, imagery
from chargen_es import events as ev
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.durable import Durability, write_replace
from chargen_es.engine.results import Answer
from chargen_es.errors import ContentError, is_local_io
from chargen_es.fsio import sha256_file
from projections.report import answered_elsewhere

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_RAW_CAP = 64 * 1024


@dataclass(frozen=True)
class OutputContext:
    root: Path
    run_dir: Path
    run_id: str
    generated_at: str  # stamp written into imagery.yaml entries
    runner: ev.Runner = "batch"


def safe_key_name(key: str) -> str:
    """A file name for a task key: readable, unique (hash suffix), no separators."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", key.split("@", 1)[0]).strip("._")[:80]
    return f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class Folders:
    """Output folders already created and checked to resolve inside the root (a cache:
    resolving and creating each folder once per group instead of once per file)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._ready: dict[str, Path] = {}

    def path(self, rel: str) -> Path:
        folder, _, name = rel.rpartition("/")
        real = self._ready.get(folder)
        if real is None:
            real = (self.root / folder).resolve()
            if not real.is_relative_to(self.root):
                raise ValueError(f"{rel}: resolves outside --root")
            real.mkdir(parents=True, exist_ok=True)
            self._ready[folder] = real
        return real / name


# Creating files is metadata-bound on the file systems here (about 0.5 ms each); a few
# threads overlap those waits. The pool is shared by every group of the process; its
# threads are not daemons (ThreadPoolExecutor's never are), so exit waits for writes in flight.
_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chargen-write")


def answered_price(model: str) -> dict[str, float] | None:
    """Live USD per 1M tokens of the model that answered instead of the task's, when the
    catalogue prices it (the report then prices the item at it); None otherwise."""
    info = catalogue.lookup(model) if model else None
    if info is None or not info.priced:
        return None
    return {"input": info.input_usd, "output": info.output_usd, "image_output": info.image_output_usd}


def _write_output(path: Path, data: bytes, digest: str, durability: Durability) -> None:
    if sha256_file(path) == digest:  # a file already there with the expected hash is not written again
        return
    crash_point("before", "image.write")
    write_replace(path, data, durability, before_rename=_during_image_write, point="image.write")
    crash_point("after", "image.write")


def _during_image_write() -> None:
    crash_point("during", "image.write")


def _during_imagery_write() -> None:
    crash_point("during", "imagery.write")


@dataclass
class OutputGroup:
    """Items written together: files first, imagery next, one flush, then events."""

    ctx: OutputContext
    folders: Folders | None = None
    durability: Durability = field(default_factory=Durability)
    events: list[ev.Event] = field(default_factory=list)
    # imagery.yaml -> (index of the item's event, its task, its change)
    _imagery: dict[Path, list[tuple[int, ev.Task, imagery.Mutation]]] = field(default_factory=dict)
    _writes: list[Future[None]] = field(default_factory=list)

    def write(self, task: ev.Task, answer: Answer, raw: bytes = b"") -> None:
        """Write the item's output file now; its imagery entry and event wait for commit."""
        outcome = answer
        if not outcome.ok:
            self.fail(task, "result", outcome.error_code, outcome.error_message, outcome.retryable, raw)
            return
        usage = ev.Usage(prompt_tokens=outcome.usage[0], output_tokens=outcome.usage[1],
                         total_tokens=outcome.usage[2])
        if task.kind == "analyze":
            # checked against the analysis schema before anything is written (chargen_es.analysis)
            analysis, problem = analysis_contract.parse(outcome.text)
            if analysis is None:
                self.fail(task, "apply", "bad_analysis", problem, True, raw)
                return
            rel = f"{task.output_dir}/{task.output_stem}.analysis.json"
            data = (json.dumps(analysis, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
            mime = "application/json"
        else:
            if not outcome.images:
                excerpt = outcome.text[:200]
                self.fail(task, "result", "no_image", f"response has no image{': ' + excerpt if excerpt else ''}",
                          True, raw)
                return
            image = outcome.images[0]
            ext = EXTENSIONS.get(image.mime.lower())
            if ext is None:
                self.fail(task, "apply", "bad_mime", f"unexpected image mime {image.mime!r}", False, raw)
                return
            rel = f"{task.output_dir}/{task.output_stem}.{ext}"
            data = image.data
            mime = image.mime.lower()
        digest = hashlib.sha256(data).hexdigest()
        if self.folders is None:
            self.folders = Folders(self.ctx.root)
        try:
            path = self.folders.path(rel)
        except (ValueError, OSError) as exc:  # one entity's broken folder must not stop the run
            if is_local_io(exc):  # a full or failing disk is the run's, not the entity's: stop, named
                raise
            self.fail(task, "apply", "bad_output_path", str(exc), False, raw)
            return
        self._writes.append(_WRITERS.submit(_write_output, path, data, digest, self.durability))
        output = ev.Output(path=rel, sha256=digest, bytes=len(data), mime=mime)
        answered = outcome.model_version if answered_elsewhere(task.model, outcome.model_version) else ""
        if task.kind == "analyze":
            mutation = imagery.analysis_mutation(task, rel, self.ctx.run_id, digest, answered)
        else:
            mutation = imagery.generated_mutation(task, output, self.ctx.run_id, self.ctx.generated_at,
                                                  self.ctx.runner, answered)
        self._imagery.setdefault(imagery.imagery_path(self.ctx.root, task), []).append((len(self.events), task, mutation))
        self.events.append(ev.LineApplied(key=task.key, chunk=task.chunk, outputs=(output,),
                                          files_updated=(f"{imagery.record_folder(task)}/{imagery.IMAGERY_FILE}",),
                                          usage=usage, via=self.ctx.runner, model_version=outcome.model_version,
                                          answered_price=answered_price(answered)))

    def fail(self, task: ev.Task, stage: ev.ItemStage, code: str, message: str, retryable: bool, raw: bytes = b"") -> None:
        """Write the failure's detail file; its ``item.failed`` event waits for commit."""
        self.events.append(self._failure(task, stage, code, message, retryable, raw))

    def _failure(self, task: ev.Task, stage: ev.ItemStage, code: str, message: str, retryable: bool,
                 raw: bytes = b"") -> ev.ItemFailed:
        rel = f"failed/{safe_key_name(task.key)}.json"
        detail = {
            "task": msgspec.to_builtins(task),
            "stage": stage,
            "error": {"code": code, "message": message, "retryable": retryable},
            "raw_line": raw[:_RAW_CAP].decode("utf-8", "replace") if raw else None,
            "raw_truncated": len(raw) > _RAW_CAP,
        }
        (self.ctx.run_dir / "failed").mkdir(exist_ok=True)
        write_replace(self.ctx.run_dir / rel, (json.dumps(detail, indent=2, sort_keys=True) + "\n").encode(),
                      self.durability, point="failure.write")
        return ev.ItemFailed(key=task.key, stage=stage, code=code, message=message, retryable=retryable,
                             detail_path=rel, chunk=task.chunk)

    @staticmethod
    def _update_imagery(root: Path, path: Path, items: list[tuple[int, ev.Task, imagery.Mutation]],
                        write: imagery.Writer) -> ContentError | None:
        for _ in items:
            crash_point("before", "imagery.write")
        try:
            imagery.update(path, [mutation for _, _, mutation in items], write, root=root)
        except ContentError as exc:
            return exc
        for _ in items:
            crash_point("after", "imagery.write")
        return None

    def commit(self) -> list[ev.Event]:
        """Update each imagery.yaml once, flush everything, hand back the events to append."""
        def write(path: Path, data: bytes, mode: int | None) -> None:
            write_replace(path, data, self.durability, mode, sync_first=True, before_rename=_during_imagery_write,
                          point="imagery.write")

        for pending in self._writes:
            pending.result()  # every output file is in place before imagery.yaml names it
        self._writes.clear()

        # each entity's file is independent (own lock), so their updates, each fsyncing its
        # temp file, overlap on the writer pool instead of queueing behind one another
        updates = {path: _WRITERS.submit(self._update_imagery, self.ctx.root, path, items, write)
                   for path, items in self._imagery.items()}
        for path, update in updates.items():
            error = update.result()
            if error is not None:  # a broken imagery.yaml fails its own entity's items only
                for index, task, _ in self._imagery[path]:
                    self.events[index] = self._failure(task, "apply", "imagery_yaml",
                                                       f"{error}; fix the file and run again", False)
        self.durability.flush()
        events, self.events, self._imagery, self.folders = self.events, [], {}, None
        return events


def write_answer(ctx: OutputContext, task: ev.Task, answer: Answer, raw: bytes = b"") -> ev.Event:
    """Write one answer on its own (the live runner): returns its durable-effects event."""
    group = OutputGroup(ctx)
    group.write(task, answer, raw)
    return group.commit()[0]


def write_failure(ctx: OutputContext, task: ev.Task, stage: ev.ItemStage, code: str, message: str, retryable: bool,
         raw: bytes = b"") -> ev.Event:
    """Record one failure on its own: the detail file, flushed, and its event."""
    group = OutputGroup(ctx)
    group.fail(task, stage, code, message, retryable, raw)
    return group.commit()[0]
