"""Where runs live under ``--root``: ``.chargen/batch/<run id>/``, and how they are named.

Kept apart from the engine so the offline commands (``inspect``, ``replay``,
``run --dry-run``) find runs without importing the engine, trio or the SDK.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from chargen_es.errors import RunNotFound, UsageError
from chargen_es.journal import JOURNAL_NAME


def runs_root(root: Path) -> Path:
    return root / ".chargen" / "batch"


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")


def check_run_id(run_id: str, what: str = "--run-id") -> str:
    """``run_id`` if it can name a run folder: one path segment of letters, digits, ``.``,
    ``_`` and ``-``, starting with a letter or digit (so never ``.`` or ``..``).

    Every way a run gets a chosen name (``--run-id``, ``--analyze-first``'s
    ``X-analyses``, the MCP and HTTP batch names) passes here once, before anything is
    created: the name becomes a folder under ``.chargen/batch/`` and a stamp in output
    file names, so ``../x`` would write into the user's tree. A usage error (exit 2).
    """
    if not _RUN_ID.fullmatch(run_id or ""):
        raise UsageError(f"{what} {run_id!r}: a run id is one name of letters, digits, '.', '_' and '-' "
                         "(starting with a letter or digit, at most 120), never a path")
    return run_id


def new_run_id(runs: Path, now: datetime | None = None) -> str:
    """``2025-12-19T12-00-00Z``, with ``-2``, ``-3`` ... when that second is taken."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H-%M-%SZ")
    candidate, n = stamp, 1
    while (runs / candidate).exists() or deleted_id(runs, candidate):
        n += 1
        candidate = f"{stamp}-{n}"
    return candidate


def deleted_id(runs: Path, run_id: str) -> bool:
    """True when ``run_id`` belonged to a deleted run: its tombstone keeps the id (and its
    totals in the workspace index), so no new run may take it."""
    return (runs.parent / "deleted" / f"{run_id}.json").exists()


def run_stamp(run_id: str) -> str:
    """The compact stamp used in output file names: ``20251219T120000Z`` (+ suffix)."""
    return run_id.replace("-", "").replace(":", "")


def list_runs(root: Path) -> list[str]:
    """Run ids under ``--root``, oldest first (ids are UTC stamps, so names sort by time)."""
    base = runs_root(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / JOURNAL_NAME).is_file())


def run_dir_for(root: Path, run_id: str) -> Path:
    """The folder of an existing run, or RunNotFound naming the runs that do exist."""
    folder = runs_root(root) / run_id
    if run_id and "/" not in run_id and run_id not in (".", "..") and (folder / JOURNAL_NAME).is_file():
        return folder
    known = ", ".join(list_runs(root)) or "none yet"
    raise RunNotFound(f"no run {run_id!r} under {runs_root(root)} (runs: {known})")


CANCEL_MARKER = "cancel.requested"


def request_cancel(run_dir: Path) -> None:
    """Say, before stopping a run's process with SIGTERM, that the stop is a cancel.

    The process pauses cleanly on SIGTERM either way (the dashboard's Pause is the same
    signal); the marker lets it tell its user "cancelled" instead of "continue it with
    resume". It names the cancelling process, so a marker whose canceller died is ignored.
    """
    (run_dir / CANCEL_MARKER).write_text(str(os.getpid()), encoding="ascii")


def cancel_requested(run_dir: Path) -> int | None:
    """The pid of a live ``cancel`` stopping this run, if one is."""
    try:
        pid = int((run_dir / CANCEL_MARKER).read_text(encoding="ascii").strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def clear_cancel(run_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (run_dir / CANCEL_MARKER).unlink()
