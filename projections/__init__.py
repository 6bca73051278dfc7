"""Projections: the run's files that are folds of its journal, and nothing else.

``project(events)`` folds a run's events into one model (the one fold: the engine decides
from it too, folding each event it appends with ``mutate``); ``fold(model, more)`` continues it
without touching the original (``project(a + b) == fold(project(a), b)``); ``render`` turns
the model into the canonical bytes of ``state.json``, ``files-cache.json``,
``report.json`` and ``plan.json``, each stamped with the ``seq`` it reflects.

Of our code this package imports only ``chargen_es.events``: the folds are pure, and the
only I/O is the atomic writer (``write_atomic``, ``write_projections``), kept apart so
the engine can reuse it for images and downloads.
"""

from __future__ import annotations

from pathlib import Path

from projections.atomic import sha256_file, write_atomic
from projections.files import in_flight_uploads, workspace_files_cache
from projections.model import (
    ENDING_TYPES,
    FINISHED_JOB_STATES,
    MILESTONES,
    Job,
    Projections,
    Upload,
    fold,
    mutate,
    project,
)
from projections.render import FILENAMES, pretty_json, render


def write_projections(run_dir: Path | str, projections: Projections) -> dict[str, bool]:
    """Write the four files atomically; return which ones changed on disk."""
    run_dir = Path(run_dir)
    return {
        name: write_atomic(run_dir / name, data, skip_if_same=True)
        for name, data in render(projections).items()
    }


__all__ = [
    "ENDING_TYPES",
    "FILENAMES",
    "FINISHED_JOB_STATES",
    "MILESTONES",
    "Job",
    "Projections",
    "Upload",
    "fold",
    "in_flight_uploads",
    "mutate",
    "pretty_json",
    "project",
    "render",
    "sha256_file",
    "workspace_files_cache",
    "write_atomic",
    "write_projections",
]
