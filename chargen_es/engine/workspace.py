"""The workspace index on disk: ``<root>/.chargen/workspace.json``, kept up to date cheaply.

The index (:mod:`projections.workspace`) is a projection like ``state.json``: never
trusted over the journals. :func:`load` checks each run's stamp against its journal
(one ``stat`` and an 11-byte read of the last folded line's CRC per run) and folds only
the bytes appended since (:func:`chargen_es.journal.read_events_from`). When a stamp does
not hold (a journal shrank or was rewritten, a run folder vanished, the file is damaged
or from another version) the whole index is rebuilt from the journals, with a note
saying why. It is written atomically (temp file, fsync, rename) only when it changed, so
a process killed mid-update leaves the previous index, which the next reader refreshes.

A deleted run (``chargen-es delete``) has no journal any more: its row comes from its
tombstone (:mod:`.tombstones`), so its totals stay in ``stats``; loading the index first
settles a delete a kill interrupted.

Writers race harmlessly: every writer derives the file from the journals and replaces
it whole, and a reader re-checks every stamp anyway.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from chargen_es.engine import tombstones
from chargen_es.engine.crashpoints import crash_point
from chargen_es.errors import JournalError
from chargen_es.fsio import replace_atomic
from chargen_es.journal import JOURNAL_NAME, read_events, read_events_from
from chargen_es.statedir import state_dir
from projections import workspace as wsp

INDEX_NAME = "workspace.json"
_CRC_TAIL = 11  # "xxxxxxxx"}\n : the CRC digits of a line and its closing bytes


def index_path(root: Path) -> Path:
    return Path(root) / ".chargen" / INDEX_NAME


def _runs_dir(root: Path) -> Path:
    return Path(root) / ".chargen" / "batch"


def _run_ids(root: Path) -> list[str]:
    base = _runs_dir(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / JOURNAL_NAME).is_file())


@dataclass
class Loaded:
    """The index, and what happened while bringing it up to date."""

    index: wsp.WorkspaceIndex
    notes: list[str] = field(default_factory=list)  # why it was rebuilt, for the user
    rebuilt: bool = False
    folded_bytes: int = 0  # journal bytes read this time (the benchmark's witness)
    changed: bool = False


def load(root: Path, *, write: bool = True, note: Callable[[str], None] | None = None,
         point: str = "index.write") -> Loaded:
    """The index of ``root``, refreshed from the journals (and saved when it changed).

    ``note`` receives one line per rebuild reason (the cli prints them on stderr).
    """
    root = Path(root)
    settled = tombstones.settle(root) if write else []
    result = _refresh(root, _read_index(root))
    result.notes[:0] = settled
    if note is not None:
        for line in result.notes:
            note(line)
    if write and result.changed and _runs_dir(root).is_dir():
        save(root, result.index, point)
    return result


def rebuild(root: Path) -> Loaded:
    """Fold every journal from the start (``replay --workspace``)."""
    return _refresh(Path(root), (None, ""))


def save(root: Path, index: wsp.WorkspaceIndex, point: str = "index.write") -> bool:
    """Replace the index file atomically; ``point`` names the crash points around it."""
    state_dir(root)
    data = wsp.ENCODER.encode(index) + b"\n"
    crash_point("before", point)
    changed = replace_atomic(index_path(root), data, skip_if_same=True, point="index.write")
    crash_point("after", point)
    return changed


def _read_index(root: Path) -> tuple[wsp.WorkspaceIndex | None, str]:
    path = index_path(root)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc}); rebuilt from the journals"
    try:
        index = wsp.DECODER.decode(data)
    except msgspec.DecodeError as exc:
        return None, f"{path}: damaged ({exc}); rebuilt from the journals"
    if index.version != wsp.INDEX_VERSION:
        return None, f"{path}: written by another version (v{index.version}); rebuilt from the journals"
    return index, ""


class _Stale(Exception):
    """A stamp that does not match its journal: the index must be rebuilt."""


def _refresh(root: Path, found: tuple[wsp.WorkspaceIndex | None, str]) -> Loaded:
    index, why = found
    run_ids = _run_ids(root)
    deleted = tombstones.deleted_rows(root, set(run_ids))
    if index is not None:
        # a run deleted since the index was saved still has its files and scenes in it
        gone = sorted(r for r in set(index.runs) - set(run_ids) if not (r in deleted and index.runs[r].deleted))
        if gone:
            where = "was deleted" if gone[0] in deleted else f"is no longer under {_runs_dir(root)}"
            index, why = None, f"{index_path(root)}: run {gone[0]} {where}; rebuilt from the journals"
    if index is not None:
        loaded = Loaded(index)
        try:
            for run_id in run_ids:
                _catch_up(root, loaded, run_id)
            _keep_deleted(loaded, deleted)
            return loaded
        except _Stale as exc:
            why = f"{index_path(root)}: {exc}; rebuilt from the journals"
    loaded = Loaded(wsp.WorkspaceIndex(), notes=[why] if why else [], rebuilt=True, changed=True)
    for run_id in run_ids:
        _catch_up(root, loaded, run_id)
    _keep_deleted(loaded, deleted)
    return loaded


def _keep_deleted(loaded: Loaded, deleted: dict[str, wsp.RunRow]) -> None:
    """The rows of deleted runs, from their tombstones (totals only: no journal to stamp)."""
    for run_id, row in deleted.items():
        if loaded.index.runs.get(run_id) != row:
            loaded.index.runs[run_id] = row
            loaded.changed = True


def _catch_up(root: Path, loaded: Loaded, run_id: str) -> None:
    """Fold what run ``run_id``'s journal gained since its stamp."""
    path = _runs_dir(root) / run_id / JOURNAL_NAME
    row = loaded.index.runs.get(run_id)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _Stale(f"run {run_id} lost its journal") from None
    if row is not None and row.error:
        if size == row.size:
            return  # still the same damaged journal: reported, not re-read each time
        raise _Stale(f"the journal of {run_id} changed since it was found damaged")
    if row is not None:
        if size < row.size or not _tail_matches(path, row):
            raise _Stale(f"the journal of {run_id} was rewritten under the index")
        if size == row.size:
            return
    offset, first_seq = (row.size, row.seq + 1) if row is not None else (0, 1)
    try:
        events, end = read_events_from(path, offset, first_seq)
    except JournalError as exc:
        if row is not None:
            raise _Stale(f"the journal of {run_id} does not continue where the index left it") from None
        loaded.index.runs[run_id] = wsp.RunRow(run_id=run_id, size=size, error=str(exc))
        loaded.changed = True
        return
    if not events:
        return
    wsp.fold_run(loaded.index, run_id, events)
    row = loaded.index.runs[run_id]
    row.size = end
    row.tail_crc = _crc_before(path, end)
    loaded.folded_bytes += end - offset
    loaded.changed = True


def _tail_matches(path: Path, row: wsp.RunRow) -> bool:
    return row.size == 0 or _crc_before(path, row.size) == row.tail_crc


def _crc_before(path: Path, end: int) -> str:
    """The CRC digits of the line ending at byte ``end``."""
    if end < _CRC_TAIL:
        return ""
    with open(path, "rb") as f:
        tail = os.pread(f.fileno(), _CRC_TAIL, end - _CRC_TAIL)
    return tail[:8].decode("ascii", "replace")


def check(root: Path) -> list[str]:
    """``replay --workspace --check``: what differs between the saved index and the journals."""
    saved, why = _read_index(root)
    if saved is None:
        return [why or f"{index_path(root)}: missing"]
    fresh = rebuild(root).index
    problems = []
    if set(saved.runs) != set(fresh.runs):
        problems.append(f"{index_path(root)}: runs {sorted(saved.runs)} where the journals have {sorted(fresh.runs)}")
    for run_id, row in fresh.runs.items():
        old = saved.runs.get(run_id)
        if old is not None and _summary(old) != _summary(row):
            state = "behind its journal" if old.seq < row.seq else "differs from its journal"
            problems.append(f"{index_path(root)}: run {run_id} {state} (seq {old.seq}, journal {row.seq})")
    if wsp.files_cache(saved) != wsp.files_cache(fresh):
        problems.append(f"{index_path(root)}: the files cache differs from the journals")
    if msgspec.to_builtins(saved.scenes) != msgspec.to_builtins(fresh.scenes):
        problems.append(f"{index_path(root)}: the scene history differs from the journals")
    return problems


def _summary(row: wsp.RunRow) -> dict:
    """A row without its per-task working state (``open``), which depends on where folds
    were cut (a run compacted at completion and then resumed keeps its totals only)."""
    data = msgspec.to_builtins(row)
    data.pop("open", None)
    return data


def journals(root: Path) -> list[tuple[str, list]]:
    """Every readable journal of the tree (for tests and the equivalence checks)."""
    out = []
    for run_id in _run_ids(root):
        with contextlib.suppress(JournalError):
            out.append((run_id, read_events(_runs_dir(root) / run_id / JOURNAL_NAME)))
    return out
