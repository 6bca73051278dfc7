"""``report.json``: what a run achieved and what it cost, for people and scripts.

Timing runs from ``run.started`` to the event that ended the run; the estimate comes from
``plan.sealed``; actual token usage is the sum over each key's applied outcome, so an item
applied again after a resume is not counted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chargen_es import events as ev
from projections.advice import recommendations
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


def _pricing(p: Projections) -> tuple[dict[str, Any], float]:
    config = p.run.config if p.run else {}
    return config.get("prices") or {}, float(config.get("batch_discount", 0.5))


def via_of(p: Projections, o: ev.LineApplied | ev.ResultIgnored) -> ev.Runner:
    """The path that delivered a result: its own field, else (old journals) the run's runner."""
    return o.via or (p.run.runner if p.run else "batch")


def answered_elsewhere(asked: str, model_version: str) -> bool:
    """True when the response names another model than the one asked (``gemini-x-001``
    for ``gemini-x`` is the same model; an empty ``modelVersion`` says nothing)."""
    asked = asked.removeprefix("models/")
    version = model_version.removeprefix("models/")
    if not version or version == asked:
        return False
    suffix = version.removeprefix(asked + "-")
    return not (suffix != version and suffix.isdigit())


def answered_by(p: Projections) -> list[dict[str, Any]]:
    """Applied items another model answered: per (asked, answered) pair, how many and at whose price."""
    pairs: dict[tuple[str, str], list[int]] = {}
    for key, o in p.outcomes.items():
        task = p.tasks.get(key)
        if isinstance(o, ev.LineApplied) and task is not None and answered_elsewhere(task.model, o.model_version):
            count = pairs.setdefault((task.model, o.model_version), [0, 0])
            count[0] += 1
            count[1] += o.answered_price is not None
    return [{"asked": asked, "answered": answered, "items": n,
             "priced_at": answered if priced == n else ("asked" if not priced else "mixed")}
            for (asked, answered), (n, priced) in sorted(pairs.items())]


def usage_cost(p: Projections, key: str, usage: ev.Usage | None, via: ev.Runner,
               answered_price: dict[str, float] | None = None) -> float | None:
    """USD for one result's tokens at the run's price snapshot (or, when another model
    answered and the catalogue priced it, at that model's), batch-discounted when it came by batch."""
    prices, discount = _pricing(p)
    task = p.tasks.get(key)
    if not prices or usage is None or task is None:
        return None
    price = answered_price or prices.get(task.model) or {}
    live = (usage.prompt_tokens * float(price.get("input", 0.0))
            + usage.output_tokens * float(price.get("output", 0.0))) / 1e6
    return live * (discount if via == "batch" else 1.0)


def actual_cost(p: Projections) -> float | None:
    """USD from the tokens the model reported, at the run's own price snapshot.

    The prices come from ``run.started`` (the plan's config), so the figure is a pure
    function of the journal; each applied result is priced by the path that delivered it
    (batch results get the batch discount recorded beside the prices), and results ignored
    because the other path delivered first are paid duplicates, counted too.
    """
    if not _pricing(p)[0]:
        return None
    total = 0.0
    for key, o in p.outcomes.items():
        if isinstance(o, ev.LineApplied):
            total += usage_cost(p, key, o.usage, via_of(p, o), o.answered_price) or 0.0
    for i in p.ignored:
        if i.reason == "already_applied":
            total += usage_cost(p, i.key, i.usage, via_of(p, i)) or 0.0
    return round(total, 6)


def delivery(p: Projections) -> dict[str, Any]:
    """Which path delivered what: counts, paid duplicates, the fallbacks, and the cost of the
    applied results had they all come by batch or all live (the comparison the report gives)."""
    counts = {"batch": 0, "live": 0}
    all_batch = all_live = 0.0
    priced = bool(_pricing(p)[0])
    for key, o in p.outcomes.items():
        if not isinstance(o, ev.LineApplied):
            continue
        via = via_of(p, o)
        counts[via] = counts.get(via, 0) + 1
        all_batch += usage_cost(p, key, o.usage, "batch", o.answered_price) or 0.0
        all_live += usage_cost(p, key, o.usage, "live", o.answered_price) or 0.0
    dups = [i for i in p.ignored if i.reason == "already_applied"]
    dup_cost = sum(usage_cost(p, i.key, i.usage, via_of(p, i)) or 0.0 for i in dups)
    return {
        "by_path": counts,
        "duplicates": len(dups),
        "duplicates_usd": round(float(dup_cost), 6) if priced else None,
        "all_batch_usd": round(all_batch, 6) if priced else None,
        "all_live_usd": round(all_live, 6) if priced else None,
        "fallbacks": [{"chunk": f.chunk, "reason": f.reason, "job_name": f.job_name, "keys": f.keys,
                       "keep_batch": f.keep_batch, "live_cost_usd": f.live_cost_usd, "seq": f.seq}
                      for f in sorted(p.fallbacks.values(), key=lambda f: f.chunk)],
    }


def item_rows(p: Projections) -> list[dict[str, Any]]:
    """Per applied item: the path that delivered it and what it cost (runs that fell back only:
    elsewhere every item came by the run's runner and ``delivery`` says so in two numbers)."""
    if not p.fallbacks and not any(i.reason == "already_applied" for i in p.ignored):
        return []
    rows = []
    for key, o in p.outcomes.items():
        if isinstance(o, ev.LineApplied):
            cost = usage_cost(p, key, o.usage, via_of(p, o), o.answered_price)
            rows.append({"key": key, "chunk": o.chunk, "via": via_of(p, o),
                         "cost_usd": round(cost, 6) if cost is not None else None})
    return rows


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
        "delivery": delivery(p),
        # items another model answered (a retired model Google routes); absent when none
        **({"answered_by": routed} if (routed := answered_by(p)) else {}),
        "items": item_rows(p),
        "usage": token_usage(p),
        "failures": failures(p),
        "ignored": [{"key": i.key, "chunk": i.chunk, "reason": i.reason, "line": i.line,
                     **({"via": i.via} if i.via else {})} for i in p.ignored],
        "calls": {"started": p.calls, "failed": dict(p.call_failures)},
        "cleanup": {"files_deleted": len(p.deleted_files), "jobs_deleted": len(p.deleted_jobs)},
        "recommendations": recommendations(p),
    }
