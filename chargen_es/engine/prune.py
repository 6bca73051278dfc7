"""``prune``: what finished runs no longer need, removed from their folders.

A closed run (completed or cancelled: the engine never resumes one) is still read by
``inspect``, ``replay``, ``stats`` and the workspace index, and all of them read only its
journal and projections. The rest of its folder is bulk nothing reads again: results
files (raw answers, every image again in base64), request files (a pure function of the
plan, rebuilt byte for byte when needed) and ``failed/`` details (the raw failed line; the
journal keeps the failure's code and message). Those are removed; the journal and the
projections are never touched.

Why no journal event: the run is closed and nothing decides from these files any more,
so a removal needs no intent or outcome. Each is one unlink (``fsio.remove``, the folder
fsynced), idempotent: a kill between two removals leaves the rest for the next ``prune``,
and no kill can lose what ``replay`` and ``inspect`` need (tests/engine/test_prune.py).
The run's ``run.lock`` is held while its files go, so a process still at work on it (a
``resume`` writing projections) is never pulled from under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chargen_es.engine import workspace
from chargen_es.engine.crashpoints import crash_point
from chargen_es.fsio import remove, remove_empty_dir
from chargen_es.journal import RunLock
from chargen_es.run_folders import list_runs, runs_root
from projections.workspace import FINAL  # the ends the engine never resumes from (RunRow.ended)

# what a finished run no longer needs, relative to its folder
PATTERNS = ("results-*.jsonl", "requests-*.jsonl", "failed/*")


@dataclass(frozen=True)
class Prunable:
    """A finished run's files that can go, and the bytes they hold."""

    run_id: str
    run_dir: Path
    ended_at: str
    files: tuple[Path, ...]
    bytes: int
    folders: tuple[Path, ...] = ()  # ``failed/``, removed once empty

    @property
    def empty(self) -> bool:
        return not self.files and not self.folders


def _stamp(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def finished_runs(root: Path, older_than_s: float, now: datetime) -> list[Prunable]:
    """Closed runs that ended at least ``older_than_s`` before ``now``, with their leftovers."""
    found = []
    rows = workspace.load(root, write=False).index.runs  # each journal folded once, new bytes only
    for run_id in list_runs(root):
        row = rows.get(run_id)
        if row is None or row.deleted or row.ended not in FINAL or not row.ended_at:
            continue
        if (now - _stamp(row.ended_at)).total_seconds() < older_than_s:
            continue
        run_dir = runs_root(root) / run_id
        files = tuple(sorted(p for pattern in PATTERNS for p in run_dir.glob(pattern)
                             if p.is_file() and not p.is_symlink()))
        folders = tuple(p for p in (run_dir / "failed",) if p.is_dir() and not p.is_symlink())
        found.append(Prunable(run_id, run_dir, row.ended_at, files, sum(p.stat().st_size for p in files),
                              folders))
    return found


def prune(item: Prunable) -> int:
    """Remove a finished run's leftovers under its lock; the bytes removed."""
    lock = RunLock(item.run_dir)
    lock.acquire()  # RunLocked (one line naming the holder) when a process works on it
    try:
        removed = 0
        for path in item.files:
            crash_point("before", "prune.remove")
            size = path.stat().st_size if path.exists() else 0
            if remove(path):
                removed += size
            crash_point("after", "prune.remove")
        for folder in item.folders:  # a kill after its last file leaves it for the next prune
            remove_empty_dir(folder)
        return removed
    finally:
        lock.release()
