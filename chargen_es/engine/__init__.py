"""The engine: decide → act → journal, under trio. The cli imports only this surface.

Names are loaded on first use (PEP 562), so a command that only lists runs does not pay
for the runners, the gateway and the SDK they import.

- runs: ``runs_root``, ``run_dir_for``, ``list_runs``, ``new_run_id``, ``run_stamp``,
  ``unfinished_runs``, ``PlanRecord``; ``claiming`` (the workspace's claims lock, inside
  which a plan is checked against the keys other runs hold and sealed); ``start`` (journal a plan), ``open_run`` (lock and
  fold an existing run), ``open_for_resume``, ``carry_out`` (drive it to an end or pause);
- ``Recorder`` (the journal with its fold), ``EngineOptions``, ``FallbackOptions``, ``RetryPolicy``;
- ``delete_run`` (``chargen-es delete``: a finished run's folder and remote files, its totals kept);
- ``Progress`` and ``LineProgress`` (what the cli's progress display implements).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chargen_es.engine.deletion import delete_run
    from chargen_es.engine.keyclaims import claiming
    from chargen_es.engine.options import EngineOptions, FallbackOptions
    from chargen_es.engine.progress import LineProgress, Progress
    from chargen_es.engine.recorder import Recorder
    from chargen_es.engine.retry import RetryPolicy
    from chargen_es.engine.runs import (
        PlanRecord,
        carry_out,
        list_runs,
        new_run_id,
        open_for_resume,
        open_run,
        run_dir_for,
        run_stamp,
        runs_root,
        start,
        sweep_leftovers,
        unfinished_runs,
    )

_HOMES: dict[str, str] = {
    "EngineOptions": "options",
    "FallbackOptions": "options",
    "LineProgress": "progress",
    "Progress": "progress",
    "Recorder": "recorder",
    "delete_run": "deletion",
    "RetryPolicy": "retry",
    "claiming": "keyclaims",
    **{name: "runs" for name in ("PlanRecord", "carry_out", "list_runs", "new_run_id", "open_for_resume",
                                  "open_run", "run_dir_for", "run_stamp", "runs_root", "start",
                                  "sweep_leftovers", "unfinished_runs")},
}

__all__ = [
    "EngineOptions",
    "FallbackOptions",
    "LineProgress",
    "PlanRecord",
    "Progress",
    "Recorder",
    "RetryPolicy",
    "carry_out",
    "claiming",
    "delete_run",
    "list_runs",
    "new_run_id",
    "open_for_resume",
    "open_run",
    "run_dir_for",
    "run_stamp",
    "runs_root",
    "start",
    "sweep_leftovers",
    "unfinished_runs",
]
assert sorted(_HOMES) == __all__, "every public name has a home module"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'chargen_es.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"chargen_es.engine.{home}"), name)
    globals()[name] = value
    return value
