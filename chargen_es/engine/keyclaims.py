"""Exactly once across the workspace: one owner per task key.

Inside a run the journal keeps every effect exactly once. Between runs the danger is two
runs of one tree sending the same key: both pay, both write an image, and imagery.yaml
keeps one of them. So a run *holds* the keys of its plan until it ends:

- The claim is the run's own plan. ``start`` journals the whole plan (``plan.sealed``)
  in one fsynced group commit, and the workspace index reads every sealed run that is
  going, killed or paused as holding its unapplied keys (``projections.workspace.holders``).
  No second record can disagree with the journal, and a SIGKILL keeps the claims exactly as
  long as the run is unfinished: until it is resumed to an end, cancelled or deleted.
- Checking and claiming are one step under the workspace's claims lock
  (``.chargen/locks/claims.lock``, an ``flock`` the kernel drops when its holder dies):
  the holders are read from a fresh index, and the new plan is sealed before the lock is
  let go. Two runs started together are serialised here; the second plans without the
  keys the first holds (``PlanOptions.held``) and names the holder and its ``resume``.
  The lock is held for a plan's commit, never while a run works, so runs of disjoint
  scopes go side by side.
- A claim ends with its run (completed, failed, cancelled). Resuming a failed run claims
  again, under the same lock: it is refused while another run holds one of its keys, or
  when another run has since delivered one (that would pay twice).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from chargen_es import imagery
from chargen_es.engine import workspace
from chargen_es.errors import KeysHeld
from chargen_es.events import Task
from chargen_es.fsio import sha256_file
from chargen_es.statedir import state_dir
from projections import workspace as wsp

LOCK_NAME = "claims.lock"


def lock_path(root: Path) -> Path:
    folder = state_dir(root) / "locks"
    folder.mkdir(exist_ok=True)
    return folder / LOCK_NAME


@dataclass(frozen=True)
class Claims:
    """The workspace as the claims lock's holder sees it (fresh from the journals)."""

    root: Path
    index: wsp.WorkspaceIndex

    def marks(self) -> dict[str, int]:
        """Each run's last folded seq: compared with the marks a plan was made under, it tells
        whether any run moved on (and perhaps applied one of the plan's keys) since."""
        return wsp.marks(self.index)

    def held(self, exclude_run: str = "") -> dict[str, str]:
        """Task key -> the unfinished run holding it."""
        return wsp.holders(self.index, exclude_run)

    def check_resume(self, run_id: str, tasks: Mapping[str, Task]) -> None:
        """Refuse to resume ``run_id`` when one of its open keys is another run's now: held
        by one, or, for a run that held nothing meanwhile (failed), delivered by one since:
        an intact record of the key in imagery.yaml by a run that started later or whose
        folder was deleted (any take; the index keeps only each scene's latest result)."""
        row = self.index.runs.get(run_id)
        mine = {k for k, t in ((row.open or {}) if row is not None else {}).items() if t.status != "ok"}
        held = {k: r for k, r in self.held(exclude_run=run_id).items() if k in mine}
        if held:
            self._refuse(run_id, held, "are held by run {other}, which will deliver them; continue that one "
                         "(`chargen-es resume {other} --root {root}`) or cancel it first "
                         "(`chargen-es cancel {other} --root {root}`)")
        if row is None or row.holding:
            return
        recorded = recorded_elsewhere(self.root, run_id, [t for k, t in tasks.items() if k in mine])
        # a run that started before this one delivered what this one chose to make again
        # (--force, a next take); a deleted run's row is gone, so it counts
        delivered = {k: r for k, r in recorded.items()
                     if (then := self.index.runs.get(r)) is None or then.started_at > row.started_at}
        if delivered:
            self._refuse(run_id, delivered, "were delivered by run {other} since it stopped, and resuming would "
                         "pay for them again; `chargen-es cancel " + run_id + " --root {root}`, then `chargen-es "
                         "run` plans only what is still missing")

    def _refuse(self, run_id: str, keys: dict[str, str], why: str) -> None:
        other = sorted(set(keys.values()))[0]
        n = len(keys)
        raise KeysHeld(f"run {run_id} cannot continue: {n} of its task{'' if n == 1 else 's'} "
                       + why.format(other=other, root=self.root))


def recorded_elsewhere(root: Path, run_id: str, tasks: Iterable[Task]) -> dict[str, str]:
    """Key -> another run whose output of it imagery.yaml records and the disk holds intact.

    Only what another run wrote counts: this run's own outputs of a key it did not journal
    as applied (a crash between the files and ``line.applied``) are re-applied by its
    resume from its results, never paid again.
    """
    found: dict[str, str] = {}
    parsed: dict[Path, dict[str, list[imagery.Record]]] = {}
    for task in tasks:
        path = imagery.imagery_path(root, task)
        if path not in parsed:
            parsed[path] = imagery.index_records(imagery.read_plain(path))
        for rec in parsed[path].get(task.key, ()):
            if rec.run and rec.run != run_id and rec.sha256 and sha256_file(path.parent / rec.path) == rec.sha256:
                found[task.key] = rec.run
                break
    return found


@contextlib.contextmanager
def claiming(root: Path) -> Iterator[Claims]:
    """Hold the workspace's claims lock; the index is refreshed from the journals inside it.

    Whatever the caller journals before leaving the block (a sealed plan, ``run.resumed``)
    is what the next claimant sees.
    """
    with FileLock(str(lock_path(root))):
        yield Claims(Path(root), workspace.load(root).index)
