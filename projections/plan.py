"""``plan.json``: the tasks in plan order, the skips with their reasons, the config.

``requests-<NNN>.jsonl`` files are rebuilt byte-identically from this view, so it carries
each task whole, exactly as ``task.planned`` recorded it.
"""

from __future__ import annotations

from typing import Any

from projections.model import Projections


def plan_view(p: Projections) -> dict[str, Any]:
    run = p.run
    sealed = p.sealed
    return {
        "seq": p.seq,
        "run_id": run.run_id if run else "",
        "mode": run.mode if run else "",
        "runner": run.runner if run else "",
        "tool_version": run.tool_version if run else "",
        "root": run.root if run else "",
        "config": run.config if run else {},
        "sealed": sealed is not None,
        "plan_sha256": sealed.plan_sha256 if sealed else "",
        "counts": {
            "tasks": len(p.tasks),
            "skipped": len(p.skipped),
            "chunks": sealed.chunks if sealed else len({t.chunk for t in p.tasks.values()}),
        },
        "estimated_cost_usd": sealed.estimated_cost_usd if sealed else None,
        "live_cost_usd": sealed.live_cost_usd if sealed else None,
        "tasks": list(p.tasks.values()),
        "skipped": [
            {"key": s.key, "reason": s.reason, "entity_type": s.entity_type, "slug": s.slug,
             "scene": s.scene, "detail": s.detail}
            for s in p.skipped.values()
        ],
    }
