"""What many test modules share: work a session needs once, and how a sweep splits.

**Quick loop or full suite**: :func:`sweep` and :func:`examples` give the quick loop
(``-m "not slow"``) a sweep's first case and a quarter of a property test's examples.

**Once per session**: work a whole test session needs once, done once across its xdist workers.

A reference run (what an uninterrupted run writes, for the crash tests to compare with)
or the dashboard's demo workspace costs seconds, and every worker that draws one of the
tests needing it would otherwise make its own. The first worker to ask makes it under a
file lock in the folder the session's workers share; the others wait and read the result.
Without xdist the folder is the session's own temp root, so nothing outlives the session.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock


def once_per_session(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Any]) -> Any:
    """``make(folder)``'s JSON-able result, computed by one worker of this session only."""
    base = factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, result = shared / f"once-{name}", shared / f"once-{name}.json"
    with FileLock(str(shared / f"once-{name}.lock")):
        if not result.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            value = make(folder)  # an assertion failing here fails the asking test, and the next asks again
            result.write_text(json.dumps(value))
    return json.loads(result.read_text())


QUICK = False
"""True in the quick loop (``-m "not slow"``), set by ``tests/conftest.py`` before collection."""


def examples(n: int) -> int:
    """A property test's ``max_examples``: ``n`` in the full suite (the one CI runs), a
    quarter of it in the quick loop, where hypothesis still tries every strategy's shapes."""
    return max(10, n // 4) if QUICK else n


def sweep(cases: Sequence[Any], ids: Sequence[str] | None = None) -> list[Any]:
    """A crash or fault sweep's cases as ``parametrize`` values: the first runs in the quick
    loop (``-m "not slow"``), so every kind of kill is still taken between edits; the rest
    are ``slow`` and run in the full suite, which is the one CI runs."""
    return [pytest.param(*(case if isinstance(case, tuple) else (case,)),
                         id=None if ids is None else ids[i], marks=() if i == 0 else pytest.mark.slow)
            for i, case in enumerate(cases)]


def read_yaml(text: str | bytes) -> Any:
    """``yaml.safe_load`` through libyaml (``CSafeLoader``: the same safe resolver, about
    ten times faster); the crash sweeps read every imagery.yaml after every case."""
    return yaml.load(text, Loader=yaml.CSafeLoader)
