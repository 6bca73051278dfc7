"""``report.json``: what a run achieved and what it cost, for people and scripts.

Timing runs from ``run.started`` to the event that ended the run; the estimate comes from
``plan.sealed``; actual token usage is the sum over each key's applied outcome, so an item
applied again after a resume is not counted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chargen_es import events as ev
from projections.model import Projections
from projections.state import event_fields


def _seconds_between(start: str, end: str) -> float | None:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((b - a).total_seconds(), 3)


def failures(p: Projections) -> list[dict[str, Any]]:
    """Keys whose latest outcome is a failure, in the order they first settled."""
    return [
        {"key": o.key, "stage": o.stage, "code": o.code, "message": o.message,
         "detail_path": o.detail_path, "retryable": o.retryable, "chunk": o.chunk, "seq": o.seq}
        for o in p.outcomes.values()
        if isinstance(o, ev.ItemFailed)
    ]


def actual_cost(p: Projections) -> float | None:
    """USD from the tokens the model reported, at the run's own price snapshot.

    The prices come from ``run.started`` (the plan's config), so the figure is a pure
    function of the journal; batch runs get the batch discount recorded beside them.
    """
    config = p.run.config if p.run else {}
    prices = config.get("prices") or {}
    if not prices:
        return None
    factor = float(config.get("batch_discount", 0.5)) if (p.run and p.run.runner == "batch") else 1.0
    total = 0.0
    for key, o in p.outcomes.items():
        usage = getattr(o, "usage", None)
        task = p.tasks.get(key)
        if usage is None or task is None:
            continue
        price = prices.get(task.model) or {}
        total += (usage.prompt_tokens * float(price.get("input", 0.0))
                  + usage.output_tokens * float(price.get("output", 0.0))) / 1e6
    return round(total * factor, 6)


def token_usage(p: Projections) -> dict[str, int]:
    prompt = output = total = 0
    for o in p.outcomes.values():
        usage = getattr(o, "usage", None)
        if usage is not None:
            prompt += usage.prompt_tokens
            output += usage.output_tokens
            total += usage.total_tokens
    return {"prompt_tokens": prompt, "output_tokens": output, "total_tokens": total}


def report_view(p: Projections) -> dict[str, Any]:
    applied, failed = p.outcome_counts()
    run = p.run
    started = run.at if run else ""
    ended_at = p.ended.at if p.ended is not None else ""
    skip_reasons: dict[str, int] = {}
    for s in p.skipped.values():
        skip_reasons[s.reason] = skip_reasons.get(s.reason, 0) + 1
    return {
        "seq": p.seq,
        "run_id": run.run_id if run else "",
        "mode": run.mode if run else "",
        "runner": run.runner if run else "",
        "phase": p.phase,
        "ended": event_fields(p.ended),
        "summary": {
            "planned": len(p.tasks), "skipped": len(p.skipped), "ok": applied, "failed": failed,
            "pending": len(p.tasks) - applied - failed, "ignored": len(p.ignored),
            "skipped_by_reason": skip_reasons,
        },
        "timing": {
            "started_at": started,
            "ended_at": ended_at,
            "duration_s": _seconds_between(started, ended_at) if started and ended_at else None,
            "resumes": len(p.resumes),
        },
        "cost": {
            # at the prices of the runner that ran it: a live run pays full price
            "estimated_usd": ((p.sealed.live_cost_usd if run and run.runner == "live" else p.sealed.estimated_cost_usd)
                              if p.sealed else None),
            "live_estimate_usd": p.sealed.live_cost_usd if p.sealed else None,
            "actual_usd": actual_cost(p),
        },
        "usage": token_usage(p),
        "failures": failures(p),
        "ignored": [{"key": i.key, "chunk": i.chunk, "reason": i.reason, "line": i.line} for i in p.ignored],
        "calls": {"started": p.calls, "failed": dict(p.call_failures)},
        "cleanup": {"files_deleted": len(p.deleted_files), "jobs_deleted": len(p.deleted_jobs)},
    }
