"""Test-only crash points: SIGKILL this process right before or after a named effect.

``CHARGEN_ES_CRASH_AT=before:job.create`` kills the process the first time it is about to
create a batch job; ``after:image.write#3`` the third time it has just written an image;
``during:`` (``image.write``, ``imagery.write``, ``download``, ``projections.write``) kills it with the temp file
written and not yet renamed, which the next run or resume must sweep away.
Names: ``upload``, ``job.create``, ``download``, ``image.write``, ``imagery.write``,
``call`` (live), ``batch.spawn`` (the batch service starting a batch's run), the
``delete.*`` steps, and ``append:<event type>`` for every journal append kind. The crash
tests use it to prove that ``resume`` finishes every run exactly once, from every effect
boundary. Unset (always, outside tests), it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "CHARGEN_ES_CRASH_AT"
_counts: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(ENV)
    if not spec:
        return None
    name, _, nth = spec.partition("#")
    return name, int(nth or 1)


def crash_point(when: str, effect: str) -> None:
    """Kill the process with SIGKILL if ``when:effect`` is the configured point."""
    target = _target()
    if target is None:
        return
    point = f"{when}:{effect}"
    if point != target[0]:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
