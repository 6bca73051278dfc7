"""The live web dashboard (``chargen-es dashboard``): runs, items, thumbnails and controls.

It sits at the cli's level: it reads journals through ``chargen_es.journal``'s follow API
and folds them with ``projections``, finds runs with ``chargen_es.engine``, and is
imported only by ``chargen_es.cli.dashboard_cmd``. ``model`` is the pure per-run fold the
pages show; ``workspace`` follows every journal of the tree and is the only reader of
files; ``hub`` pushes changes to the Server-Sent Event streams; ``controls`` pauses
(SIGTERM to the lock holder), resumes and cancels (the real commands as children);
``app`` is the Starlette app behind the token; ``server`` runs it on Hypercorn and trio.
"""

from chargen_es.dashboard.server import DashboardSettings, run_dashboard

__all__ = ["DashboardSettings", "run_dashboard"]
