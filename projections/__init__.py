"""Projections: the run's files that are folds of its journal, and nothing else.

``project(events)`` folds a run's events into one model; ``fold(model, more)`` continues it
without touching the original (``project(a + b) == fold(project(a), b)``); ``render`` turns
the model into the canonical bytes of ``state.json``, ``files-cache.json``,
``report.json`` and ``plan.json``, each stamped with the ``seq`` it reflects.

Of our code this package imports only ``chargen_es.events``, and it does no I/O at all:
the callers write the rendered bytes with ``chargen_es.fsio.write_files``.
"""

from __future__ import annotations

from projections.files import in_flight_uploads, workspace_files_cache
from projections.model import MILESTONES, TERMINAL_TYPES, Projections, fold, project
from projections.render import FILENAMES, canonical_json, render

__all__ = [
    "FILENAMES",
    "MILESTONES",
    "TERMINAL_TYPES",
    "Projections",
    "canonical_json",
    "fold",
    "in_flight_uploads",
    "project",
    "render",
    "workspace_files_cache",
]
