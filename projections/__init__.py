"""Projections: the run's files that are folds of its journal, and nothing else.

``project(events)`` folds a run's events into one model (the one fold: the engine decides
from it too, folding each event it appends with ``mutate``); ``fold(model, more)`` continues it
without touching the original (``project(a + b) == fold(project(a), b)``); ``render`` turns
the model into the canonical bytes of ``state.json``, ``files-cache.json``,
``report.json`` and ``plan.json``, each stamped with the ``seq`` it reflects.

Of our code this package imports only ``chargen_es.events``, and it does no I/O at all:
the callers write the rendered bytes with ``chargen_es.fsio.write_files``.
"""

from __future__ import annotations

from projections.advice import recommendations
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
    "recommendations",
    "render",
    "workspace_files_cache",
]
