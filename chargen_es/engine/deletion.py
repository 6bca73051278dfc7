"""``chargen-es delete``: remove a finished run's folder and remote files, keep its totals.

Why a run is deleted at all: a named batch created by a program (the MCP server, the HTTP
API) is thrown away by that program when it is done with it, and a workspace that runs
for months should not keep every run folder. What must survive is what the user paid:
the run's index row (estimate, cost, tokens, retries) stays in the workspace index
through its tombstone (:mod:`.tombstones`), so ``stats`` reads the same after a delete.

Only a finished run (completed or cancelled) is deleted, and only while no process works
on it: the delete holds ``run.lock`` throughout. Its remote files are the request files,
results files and the references *it* uploaded, less what it already deleted and less any
file another run's journal also records (a reference reused by a later run stays). A file
id means something only on the backend that holds it (invariant 10), so only the files
recorded on the backend this delete talks to are deleted (a results file on the backend
of the run's uploads); the others are left to expire (48 h) and counted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from chargen_es.engine import tombstones, workspace
from chargen_es.engine.crashpoints import crash_point
from chargen_es.errors import ChargenError, GeminiError, NotFound, RunNotFound
from chargen_es.fsio import fsync_dir, rename
from chargen_es.gateway import Gateway
from chargen_es.journal import JOURNAL_NAME, RunLock, read_events, utc_now_ms
from chargen_es.run_folders import run_dir_for
from projections import Projections, project
from projections import workspace as wsp

OpenGateway = Callable[[], AbstractContextManager[Gateway]]


@dataclass(frozen=True)
class Deleted:
    """What a delete removed."""

    run_id: str
    remote: tuple[str, ...]  # remote file names deleted (or found already gone)
    elsewhere: int = 0  # remote files on another backend (or an unrecorded one), left to expire


def delete_run(root: Path, run_id: str, open_gateway: OpenGateway) -> Deleted:
    """Delete run ``run_id`` of ``root``; the gateway is opened only if remote files remain."""
    root = Path(root)
    stones = tombstones.read_all(root)
    if run_id in stones and not tombstones.run_folder(root, run_id).is_dir():
        raise RunNotFound(f"run {run_id} was already deleted (its totals stay in `chargen-es stats`)")
    folder = run_dir_for(root, run_id)
    lock = RunLock(folder)
    lock.acquire()  # RunLocked: the run is being worked on
    try:
        model = project(read_events(folder / JOURNAL_NAME))
        if not model.closed:
            raise ChargenError(f"run {run_id} is {model.phase}; only a finished (completed or cancelled) run can be "
                               f"deleted: `chargen-es cancel {run_id}` first")
        index = workspace.load(root).index
        row = index.runs.get(run_id) or wsp.RunRow(run_id=run_id)
        files = _remote_files(model, index, run_id)
        stone = tombstones.Tombstone(run_id=run_id, state="deleting", row=row, remote=sorted(files),
                                     at=utc_now_ms(time.time()))
        tombstones.write(root, stone, "delete.intent")
        names: list[str] = []
        try:
            if files:
                with open_gateway() as gateway:
                    names = sorted(n for n, backend in files.items() if backend == gateway.backend.identity)
                    _delete_remote(gateway, names)
        except GeminiError:
            tombstones.path_of(root, run_id).unlink(missing_ok=True)  # undone: nothing local was touched
            raise
        trash = tombstones.trash_dir(root)
        trash.mkdir(exist_ok=True)
        crash_point("before", "delete.rename")
        rename(folder, trash / run_id)  # the commit point: from here the delete is finished
        fsync_dir(folder.parent)
        fsync_dir(trash)
        crash_point("after", "delete.rename")
        tombstones.finish(root, stone)
    finally:
        lock.release()
    workspace.save(root, workspace.rebuild(root).index, "delete.index")
    return Deleted(run_id=run_id, remote=tuple(names), elsewhere=len(files) - len(names))


def _remote_files(model: Projections, index: wsp.WorkspaceIndex, run_id: str) -> dict[str, str]:
    """The run's own remote files not yet deleted and recorded by no other run, each with
    the backend that holds it ("" when the journal did not record one)."""
    files = {u.name: u.backend for u in model.uploads.values() if u.name}
    backends = set(files.values())
    home = backends.pop() if len(backends) == 1 else ""  # where the run's jobs ran, when it is one place
    files.update({j.output_file: home for j in model.jobs.values() if j.output_file})
    for name in model.deleted_files:
        files.pop(name, None)
    for records in index.uploads.values():
        for up in records:
            if up.name in files and (up.run != run_id or up.from_run != run_id):
                files.pop(up.name, None)  # uploaded by another run, or reused by one: not ours to delete
    return files


def _delete_remote(gateway: Gateway, names: list[str]) -> None:
    for name in names:
        crash_point("before", "delete.remote")
        with contextlib.suppress(NotFound):  # gone already (expired, or cleaned up): deleted
            gateway.delete_file(name)
        crash_point("after", "delete.remote")
