"""Work a whole test session needs once, done once across its xdist workers.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
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
