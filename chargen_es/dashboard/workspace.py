"""The workspace as the dashboard sees it: every run's model, kept current by following journals.

``refresh`` is the one place the dashboard reads journals. Each tick it lists the run
folders (``engine.list_runs``), stats each journal and, only when its size or mtime
moved, asks that run's :class:`~chargen_es.journal.Follower` for the new events and folds
them into the run's :class:`RunModel`. Which runs are being worked on comes from the
kernel's lock table (``/proc/locks``) matched to each ``run.lock`` inode, read once per
tick: a pid left in ``run.lock`` by a process that has ended is never taken for a live one.
A run nobody holds whose journal has no end (killed, crashed) shows as ``stopped``.

Files are found through the models only: an image is output ``n`` of a task key's
``line.applied`` (or an analysis task's input image), resolved under the root and refused
unless it stays inside it. Nothing here takes a path from a request.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chargen_es.dashboard.model import ENDED_PHASES, IMAGE_MIMES, RunModel
from chargen_es.errors import JournalError
from chargen_es.journal import JOURNAL_NAME, LOCK_NAME, Follower
from chargen_es.run_folders import list_runs, runs_root


@dataclass
class RunEntry:
    """A run folder being followed."""

    run_id: str
    folder: Path
    follower: Follower
    model: RunModel
    signature: tuple[int, int] = (-1, -1)  # (size, mtime_ns) of the journal at the last read
    active: bool = False
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """What one refresh changed about one run: its row, and which items (None: all)."""

    run_id: str
    items: frozenset[str] | None


def held_locks() -> set[tuple[int, int, int]] | None:
    """(major, minor, inode) of every file with an flock held, or None without /proc/locks."""
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    held = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK" or parts[0].endswith("->"):
            continue
        try:
            major, minor, inode = parts[5].split(":")
            held.add((int(major, 16), int(minor, 16), int(inode)))
        except ValueError:
            continue
    return held


def lock_holder(folder: Path, held: set[tuple[int, int, int]] | None) -> bool:
    """Whether a process holds the run's ``run.lock`` right now."""
    try:
        st = os.stat(folder / LOCK_NAME)
    except OSError:
        return False
    if held is None:
        return False
    return (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino) in held


class Workspace:
    """Every run under ``<root>/.chargen/batch``, followed incrementally."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.runs: dict[str, RunEntry] = {}
        self._analysis: dict[str, Any] = {}  # sha256 of an analysis file -> its fields
        self._locks_known = False
        self.gone: list[str] = []  # the runs the last refresh found deleted

    def refresh(self) -> list[Change]:
        """Read what was appended since the last refresh; return what changed (and keep the
        runs found deleted in :attr:`gone`)."""
        changes: list[Change] = []
        held = held_locks()
        self._locks_known = held is not None
        present = list_runs(self.root)
        self.gone = sorted(set(self.runs) - set(present))
        for gone in self.gone:
            del self.runs[gone]  # deleted (`chargen-es delete`): its pages and API answers are 404 now
        for run_id in present:
            entry = self.runs.get(run_id)
            if entry is None:
                folder = runs_root(self.root) / run_id
                entry = self.runs[run_id] = RunEntry(run_id, folder, Follower(folder / JOURNAL_NAME),
                                                     RunModel(run_id))
            change = self._refresh_run(entry, held)
            if change is not None:
                changes.append(change)
        return changes

    def _refresh_run(self, entry: RunEntry, held: set[tuple[int, int, int]] | None) -> Change | None:
        active = lock_holder(entry.folder, held)
        try:
            st = os.stat(entry.follower.path)
            signature = (st.st_size, st.st_mtime_ns)
        except OSError:
            signature = (-1, -1)
        touched: set[str] | None = set()
        if signature != entry.signature:
            entry.signature = signature
            try:
                touched = entry.model.take(entry.follower.poll())
                entry.error = ""
            except JournalError as exc:
                entry.error = str(exc)
                touched = None
        if touched == set() and active == entry.active and entry.summary:
            return None
        entry.active = active
        entry.summary = self._summary(entry)
        return Change(entry.run_id, None if touched is None else frozenset(touched))

    def _summary(self, entry: RunEntry) -> dict[str, Any]:
        summary = entry.model.summary(active=entry.active)
        if not entry.active and summary["phase"] not in ENDED_PHASES and self._locks_known:
            # no process holds the lock, yet the journal has no end: killed or crashed (resumable)
            summary["phase"] = "stopped"
        if entry.error:
            summary.update(phase="unreadable", error=entry.error)
        return summary

    # -- reading ---------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """The runs page: active runs first, then newest first (run ids are UTC stamps)."""
        entries = sorted(self.runs.values(), key=lambda e: e.run_id, reverse=True)
        return [e.summary for e in entries if e.active] + [e.summary for e in entries if not e.active]

    def entry(self, run_id: str) -> RunEntry | None:
        return self.runs.get(run_id)

    def detail(self, entry: RunEntry) -> dict[str, Any]:
        model = entry.model
        return {"summary": entry.summary, "chunks": model.chunks(),
                "items": [self.item(entry, key) for key in model.item_keys()]}

    def item(self, entry: RunEntry, key: str) -> dict[str, Any]:
        record = entry.model.item(key)
        record["analysis"] = self._analysis_of(entry, key)
        return record

    def image_path(self, entry: RunEntry, key: str, which: str) -> Path | None:
        """The file behind an image link: output ``which`` of ``key``, or ``input``; else None."""
        p = entry.model.p
        rel = ""
        if which == "input":
            task = p.tasks.get(key)
            if task is not None and task.input_image is not None:
                rel = task.input_image.path
        elif which.isdigit():
            outcome = p.outcomes.get(key)
            outputs = getattr(outcome, "outputs", ())
            n = int(which)
            if n < len(outputs) and outputs[n].mime in IMAGE_MIMES:
                rel = outputs[n].path
        return self.inside_root(rel) if rel else None

    def inside_root(self, rel: str) -> Path | None:
        """``root/rel`` if it is a regular file that resolves inside the root (symlinks followed)."""
        if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
            return None
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def _analysis_of(self, entry: RunEntry, key: str) -> dict[str, Any] | None:
        """The fields of an analysis output, read once per content hash."""
        outcome = entry.model.p.outcomes.get(key)
        for out in getattr(outcome, "outputs", ()):
            if not out.path.endswith(".analysis.json"):
                continue
            if out.sha256 in self._analysis:
                return self._analysis[out.sha256]
            path = self.inside_root(out.path)
            fields: Any = None
            if path is not None:
                try:
                    fields = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    fields = None
            if isinstance(fields, dict):
                self._analysis[out.sha256] = fields
                return fields
        return None

    def entities(self) -> list[dict[str, Any]]:
        """Every entity any run planned, with how many images the gallery has for it."""
        counts: dict[tuple[str, str], int] = {}
        for entity, images in self._gallery_images().items():
            counts[entity] = len(images)
        return [{"entity_type": t, "slug": s, "images": n} for (t, s), n in sorted(counts.items())]

    def gallery(self, entity_type: str, slug: str) -> list[dict[str, Any]] | None:
        """The entity's images, newest first, each with prompt, key, run and analysis."""
        return self._gallery_images().get((entity_type, slug))

    def _gallery_images(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        by_entity: dict[tuple[str, str], list[dict[str, Any]]] = {}
        analysis_by_path: dict[str, dict[str, Any]] = {}
        for entry in sorted(self.runs.values(), key=lambda e: e.run_id):
            p = entry.model.p
            for key, task in p.tasks.items():
                images = by_entity.setdefault((task.entity_type, task.slug), [])
                if task.kind == "analyze" and task.input_image is not None:
                    fields = self._analysis_of(entry, key)
                    if fields is not None:
                        analysis_by_path[task.input_image.path] = {"run": entry.run_id, "key": key, "fields": fields}
                    if not any(i["path"] == task.input_image.path for i in images):
                        images.append({"run": entry.run_id, "key": key, "which": "input",
                                       "path": task.input_image.path, "prompt": "", "scene": task.scene,
                                       "at": p.run.at if p.run else ""})
                    continue
                outcome = p.outcomes.get(key)
                for n, out in enumerate(getattr(outcome, "outputs", ())):
                    if out.mime in IMAGE_MIMES:
                        images.append({"run": entry.run_id, "key": key, "which": str(n), "path": out.path,
                                       "prompt": task.prompt, "scene": task.scene,
                                       "at": outcome.at if outcome else ""})
        for images in by_entity.values():
            for image in images:
                image["analysis"] = analysis_by_path.get(image["path"])
            images.sort(key=lambda i: i["at"], reverse=True)
        return by_entity
