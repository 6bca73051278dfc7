"""Recommendations: what to do next, computed from what happened (``report.json``'s
``recommendations`` and the last lines of a run).

A pure function of the run's model, like every projection: the same journal gives the
same advice on any machine, at any later ``replay``. Each recommendation is
``{"code", "message", "keys"}``: ``code`` is stable for scripts, ``message`` says what to
do and why, ``keys`` names the items it is about (empty when it is about the run).

What is advised, in this order:

- ``rephrase_blocked``: items Gemini blocked for safety (finish or block reason SAFETY,
  IMAGE_SAFETY, PROHIBITED_CONTENT, BLOCKLIST, SPII ...): trying again the same prompt
  gives the same answer, so rephrase them; they are named.
- ``resume``: the run is paused, or items failed in a way a new attempt fixes by itself
  (``file_missing``, ``results_lost``): ``chargen-es resume RUN_ID``.
- ``retry_failed``: other retryable failures (no image, an exhausted token budget, a
  server error): a new ``run`` plans exactly those items again.
- ``fewer_workers``: many live calls were answered 429 (at least 3, and a tenth of the
  calls): fewer workers, or a larger ``options.delay``.
- ``update_model``: the model was refused as unavailable (shut down, renamed): update
  ``models.generate`` / ``models.analyze`` in chargen.yaml (the message names the
  replacement the pre-flight found).
"""

from __future__ import annotations

from typing import Any

from chargen_es import events as ev
from projections.model import Projections

_SAFETY_MARKS = ("SAFETY", "PROHIBITED", "BLOCKLIST", "SPII")
_RESUME_CODES = frozenset({"file_missing", "results_lost"})
_NAMED = 10  # keys shown in a message; ``keys`` holds them all


def is_safety_block(code: str) -> bool:
    """A finish or block reason that means the content was refused for safety."""
    return any(mark in code.upper() for mark in _SAFETY_MARKS)


def _names(p: Projections, keys: list[str]) -> str:
    shown = []
    for key in keys[:_NAMED]:
        task = p.tasks.get(key)
        shown.append(f"{task.entity_type}/{task.slug}/{task.scene}" if task else key)
    more = len(keys) - len(shown)
    return ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")


def _advice(code: str, message: str, keys: list[str] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "keys": keys or []}


def recommendations(p: Projections) -> list[dict[str, Any]]:
    """What the person running chargen-es should do next, from the run's model alone."""
    failed = [o for o in p.outcomes.values() if isinstance(o, ev.ItemFailed)]
    run_id = p.run.run_id if p.run else "RUN_ID"
    out: list[dict[str, Any]] = []

    blocked = [o for o in failed if is_safety_block(o.code)]
    if blocked:
        keys = [o.key for o in blocked]
        codes = ", ".join(sorted({o.code for o in blocked}))
        out.append(_advice("rephrase_blocked", f"{len(keys)} item(s) blocked for safety ({codes}); the same "
                           f"prompt gets the same answer, so rephrase them: {_names(p, keys)}", keys))

    resumable = [o.key for o in failed if o.code in _RESUME_CODES]
    paused = p.ended if isinstance(p.ended, ev.RunPaused) else None
    if paused is not None or resumable:
        why = f"the run is paused ({paused.reason})" if paused is not None else ""
        if resumable:
            lost = f"{len(resumable)} item(s) lost a file before the job read it"
            why = f"{why}; {lost}" if why else lost
        out.append(_advice("resume", f"{why}: `chargen-es resume {run_id}` continues it", resumable))

    retry = [o for o in failed if o.retryable and o.code not in _RESUME_CODES and not is_safety_block(o.code)]
    if retry:
        keys = [o.key for o in retry]
        codes = ", ".join(sorted({o.code for o in retry}))
        out.append(_advice("retry_failed", f"{len(keys)} item(s) failed in a way a new try may fix ({codes}): run "
                           "again and only they are planned (a batch file item can set `retries`): "
                           f"{_names(p, keys)}", keys))

    limited = p.call_failures.get("rate_limit", 0)
    if limited >= 3 and p.calls and limited * 10 >= p.calls:
        out.append(_advice("fewer_workers", f"{limited} of {p.calls} calls were answered 429 (rate limited): "
                           "use fewer workers (--workers, options.maxConcurrent) or a larger options.delay"))

    if isinstance(p.ended, ev.RunFailed) and p.ended.code == "model_unavailable":
        out.append(_advice("update_model", f"update models.generate / models.analyze in chargen.yaml (or pass "
                           f"--model): {p.ended.message}"))
    return out
