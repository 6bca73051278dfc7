"""Canonical bytes for the projection files: the same model always gives the same bytes.

Sorted keys, two-space indent, one trailing newline, msgspec's deterministic number
formatting. ``replay`` and ``replay --check`` compare these bytes, so nothing here may
depend on dict insertion order, the clock or the platform.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from projections.files import files_view
from projections.model import Projections
from projections.plan import plan_view
from projections.report import report_view
from projections.state import state_view

VIEWS: dict[str, Callable[[Projections], dict[str, Any]]] = {
    "state.json": state_view,
    "files-cache.json": files_view,
    "report.json": report_view,
    "plan.json": plan_view,
}
FILENAMES: tuple[str, ...] = tuple(VIEWS)


def pretty_json(obj: Any) -> bytes:
    """Deterministic, human-readable JSON (structs included); not the planner's compact
    ``canonical_json`` that task keys hash."""
    compact = msgspec.json.encode(obj, order="sorted")
    return msgspec.json.format(compact, indent=2) + b"\n"


def render(projections: Projections) -> dict[str, bytes]:
    """File name → canonical bytes for all four projection files."""
    return {name: pretty_json(view(projections)) for name, view in VIEWS.items()}
