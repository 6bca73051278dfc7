"""Exactly once, proven at every effect boundary.

For each crash point the run SIGKILLs itself right before or after the effect; ``resume``
(or, when the crash came before the plan was durable, ``run`` again) must then finish
with the same image bytes as an uninterrupted run, one imagery.yaml entry per key, every
uploaded content and every batch input seen by the server exactly once, a journal that
``replay --check`` accepts, no API key in any file, and no temp file anywhere in the tree
(the ``during:`` points kill a writer between its temp file and the rename).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chargen_es.emulator import Emulator
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    crash,
    quick_emulator,
    reference_outputs,
    run_args,
    temp_files,
)

EFFECTS = ["upload", "job.create", "download", "image.write", "imagery.write", "results.discard"]
APPENDS = ["run.started", "upload.started", "upload.completed", "requests.written", "job.submitting",
           "job.submitted", "job.state_changed", "results.downloaded", "line.applied", "results.discarded",
           "files.deleted",
           "run.completed"]
POINTS = (
    [f"{when}:{effect}" for effect in EFFECTS for when in ("before", "after")]
    + [f"{when}:append:{kind}" for kind in APPENDS for when in ("before", "after")]
    + ["after:image.write#4", "before:imagery.write#7", "after:append:line.applied#9", "after:upload#3"]
)
# killed with a temp file written and not yet renamed: the resume must sweep it away
# (projections.write, #1 and #4: the first and the last of the four projection files the
# invocation writes as it ends, both after run.completed, so what sweeps them is the
# `resume` of a run that is already closed)
DURING = ["during:image.write", "during:image.write#5", "during:imagery.write", "during:download",
          "during:projections.write", "during:projections.write#4"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The outputs of one uninterrupted run (one per session: ``tests.shared``)."""
    return reference_outputs(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS + DURING)
def test_resume_after_crash_converges(point: str, tmp_path: Path, reference: dict[str, str]) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(quick_emulator()) as emu:
        crash(root, emu.base_url, point, *run_args())
        journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
        plan_durable = journal.exists() and b'"plan.sealed"' in journal.read_bytes()
        if point in DURING:
            assert temp_files(root), f"{point} left no temp file, so the sweep went untested"
        if "projections.write" in point:
            assert b'"run.completed"' in journal.read_bytes(), "the resume meets a run already closed"
        again = chargen(root, emu.base_url, *(["resume", RUN_ID] if plan_durable else run_args()))
        assert again.returncode == 0, again.stdout + again.stderr
        assert_exactly_once(root, emu.stats(), reference)
        assert temp_files(root) == [], "a killed writer's temp file outlived the resume"
