"""``state.json``: where a run is (phase), each chunk's job, and the task counts.

``inspect`` reads this view (the engine decides from the model itself); it is computed from the model in
one pass over the tasks and outcomes, so the per-event fold stays O(1).
"""

from __future__ import annotations

from typing import Any

from chargen_es import events as ev
from projections.model import Projections, new_chunk


def event_fields(e: ev.Event | None) -> dict[str, Any] | None:
    """An event as a plain dict with its public type name (for ended/resumed records)."""
    if e is None:
        return None
    data: dict[str, Any] = ev.to_builtins(e)
    data["type"] = ev.type_name(e)
    return data


def chunk_records(p: Projections) -> list[dict[str, Any]]:
    """Per-chunk job state, with task and outcome counts, in chunk order."""
    tasks_per: dict[int, int] = {}
    chunk_of: dict[str, int] = {}
    for key, task in p.tasks.items():
        tasks_per[task.chunk] = tasks_per.get(task.chunk, 0) + 1
        chunk_of[key] = task.chunk
    applied: dict[int, int] = {}
    failed: dict[int, int] = {}
    for key, o in p.outcomes.items():
        n = o.chunk if o.chunk is not None else chunk_of.get(key, 0)
        bucket = failed if o.__class__ is ev.ItemFailed else applied
        bucket[n] = bucket.get(n, 0) + 1
    ignored: dict[int, int] = {}
    for i in p.ignored:
        ignored[i.chunk] = ignored.get(i.chunk, 0) + 1
    numbers = sorted(set(tasks_per) | set(p.chunks))
    records = []
    for n in numbers:
        record = dict(p.chunks.get(n) or new_chunk(n))
        record.update(tasks=tasks_per.get(n, 0), applied=applied.get(n, 0), failed=failed.get(n, 0),
                      ignored=ignored.get(n, 0), results_downloaded=record["results"] is not None)
        records.append(record)
    return records


def state_view(p: Projections) -> dict[str, Any]:
    applied, failed = p.outcome_counts()
    run = p.run
    return {
        "seq": p.seq,
        "updated_at": p.last_at,
        "run_id": run.run_id if run else "",
        "mode": run.mode if run else "",
        "runner": run.runner if run else "",
        "tool_version": run.tool_version if run else "",
        "started_at": run.at if run else "",
        "phase": p.phase,
        "ended": event_fields(p.ended),
        "resumes": [event_fields(r) for r in p.resumes],
        "sealed": p.sealed is not None,
        "counts": {
            "planned": len(p.tasks),
            "skipped": len(p.skipped),
            "applied": applied,
            "failed": failed,
            "pending": len(p.tasks) - applied - failed,
            "ignored": len(p.ignored),
        },
        "chunks": chunk_records(p),
        "uploads": {"cached": len(p.files), "in_flight": len(p.upload_intents)},
        "calls": {"started": p.calls, "failed": dict(p.call_failures)},
    }
