"""Deleted runs: the durable record that lets a run's folder go while its totals stay.

The workspace index is a fold of the journals, so a run whose folder is removed would
vanish from it, and from ``stats``. ``chargen-es delete`` therefore writes a *tombstone*,
``<root>/.chargen/deleted/<run id>.json``, before it touches anything: the run's index row
(its totals) and the state of the delete. The tombstones are the index's own journal of
deletions (one fsynced, atomically replaced file per run); the index adds their rows to
what it folds from the journals.

A delete is intent, effects, outcome:

1. the tombstone, ``deleting`` (durable before any effect);
2. the run's remote files deleted (idempotent: a file already gone counts as deleted);
3. the run folder renamed into ``.chargen/trash/`` (one ``rename``: the commit point);
4. the trash copy removed, then the tombstone rewritten ``deleted``.

A kill anywhere is settled by :func:`settle` on the next start of any command that loads
the index: a ``deleting`` tombstone whose folder is still in place is *undone* (the
tombstone removed: the run is intact, only remote files it no longer needs may be gone;
``delete`` again finishes the job); one whose folder already left is *finished* (the trash
copy removed, the tombstone marked ``deleted``). A delete still in progress holds the
run's ``run.lock``, so :func:`settle` leaves a tombstone alone while that lock is held.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Literal

import msgspec

from chargen_es.engine.crashpoints import crash_point
from chargen_es.errors import RunLocked
from chargen_es.fsio import fsync_dir, replace_atomic
from chargen_es.journal import RunLock
from chargen_es.run_folders import runs_root
from chargen_es.statedir import state_dir
from projections import workspace as wsp

State = Literal["deleting", "deleted"]


class Tombstone(msgspec.Struct, kw_only=True):
    """One deleted (or being deleted) run: its index row, frozen at the delete."""

    run_id: str
    state: State
    row: wsp.RunRow
    remote: list[str] = []  # the remote file names the delete removes
    at: str = ""  # when the delete began (RFC 3339, from the deleting process's clock)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Tombstone)


def tombstones_dir(root: Path) -> Path:
    return Path(root) / ".chargen" / "deleted"


def trash_dir(root: Path) -> Path:
    return Path(root) / ".chargen" / "trash"


def run_folder(root: Path, run_id: str) -> Path:
    return runs_root(Path(root)) / run_id


def path_of(root: Path, run_id: str) -> Path:
    return tombstones_dir(root) / f"{run_id}.json"


def write(root: Path, stone: Tombstone, point: str) -> None:
    """Replace the tombstone atomically and durably; ``point`` names its crash points."""
    state_dir(root)
    tombstones_dir(root).mkdir(exist_ok=True)
    crash_point("before", point)
    replace_atomic(path_of(root, stone.run_id), _ENCODER.encode(stone) + b"\n")
    crash_point("after", point)


def read_all(root: Path) -> dict[str, Tombstone]:
    """Every readable tombstone by run id (a damaged one is skipped: its run is then simply
    whatever the folders say, which is what an undone delete leaves)."""
    folder = tombstones_dir(root)
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, msgspec.DecodeError):
            stone = _DECODER.decode(path.read_bytes())
            found[stone.run_id] = stone
    return found


def deleted_rows(root: Path, present: set[str]) -> dict[str, wsp.RunRow]:
    """The rows the index keeps for deleted runs: every tombstone whose folder is gone
    (a ``deleting`` one whose folder is still there is a run, not a deleted one)."""
    rows = {}
    for run_id, stone in read_all(root).items():
        if run_id not in present:
            rows[run_id] = msgspec.structs.replace(stone.row, deleted=True)
    return rows


def settle(root: Path) -> list[str]:
    """Finish or undo every delete a kill interrupted; one line per settled delete."""
    notes = []
    for run_id, stone in read_all(root).items():
        if stone.state != "deleting":
            continue
        folder = run_folder(root, run_id)
        trash = trash_dir(root) / run_id
        held = folder if folder.is_dir() else trash
        lock = RunLock(held)
        if held.is_dir():
            try:
                lock.acquire()
            except RunLocked:
                continue  # a delete in progress (or a run someone reopened): not ours to settle
        try:
            if folder.is_dir():
                path_of(root, run_id).unlink(missing_ok=True)
                fsync_dir(tombstones_dir(root))
                notes.append(f"the delete of run {run_id} was interrupted before its folder was removed and is "
                             f"undone; `chargen-es delete {run_id}` deletes it")
            else:
                finish(root, stone)
                notes.append(f"the delete of run {run_id} was interrupted after its folder was removed and is "
                             "finished")
        finally:
            lock.release()
    return notes


def finish(root: Path, stone: Tombstone) -> None:
    """The delete's last steps: the trash copy removed, then the tombstone marked deleted."""
    trash = trash_dir(root) / stone.run_id
    if trash.exists():
        crash_point("before", "delete.remove")
        shutil.rmtree(trash)
        fsync_dir(trash_dir(root))
        crash_point("after", "delete.remove")
    write(root, msgspec.structs.replace(stone, state="deleted"), "delete.done")
