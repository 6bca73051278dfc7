"""A full disk and an I/O error at every write point of a batch run and of a live run.

Like SQLite's test VFS failing the Nth call: ``CHARGEN_ES_FAULT_AT=<point>+:<ERRNO>``
makes every write, fsync, rename and folder fsync at that point fail from its first call
on (a full disk stays full for the rest of the invocation). After each injection:

- the run ends with exit 1 and the named line (a single failed call may also hit a
  best-effort write, the workspace index as the run ends: then the run completes and
  must already be exact) for the errno (``disk full, cannot write``
  / ``disk I/O error``), naming a file relative to ``--root``;
- nothing half-written is visible: every image present has the bytes an uninterrupted run
  writes, every imagery.yaml parses, and only temp names (``.<name>.chargen-<pid>.tmp``)
  may be left, which the next start sweeps away;
- the command the line names (``resume`` word for word, or the same ``run`` again when
  the plan never became durable), with the fault lifted, ends exactly as an uninterrupted
  run: the same bytes, one imagery.yaml entry per key, every upload and batch input once,
  ``replay --check`` clean, no temp file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator
from chargen_es.fsio import FAULT_ENV
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    named_error,
    outputs,
    quick_emulator,
    reference_outputs,
    resume_as_printed,
    run_args,
    temp_files,
)
from tests.shared import read_yaml

# journal.append: the plan's own commit (#1: "run the same command again"), then appends
# in the middle of the run
SHARED = ["image.write", "imagery.write", "journal.append", "journal.append#4", "journal.append#12",
          "projections.write", "index.write"]
BATCH_ONLY = ["download", "requests.write"]
NAMED = {"ENOSPC": "disk full, cannot write: ", "EIO": "disk I/O error: "}
RUNNERS = {"batch": (), "live": ("--runner", "live", "--workers", "3")}
CASES = [(runner, point, code) for runner in RUNNERS for point in SHARED + (BATCH_ONLY if runner == "batch" else [])
         for code in NAMED]


# how many calls of each kind a run of the sample makes (measured: batch / live), so the
# Nth-call sweep reaches past the last one; fewer or more later only moves where it lands
CALLS = {"batch": {"write": 68, "fsync": 55, "rename": 39, "dirsync": 14},
         "live": {"write": 78, "fsync": 79, "rename": 40, "dirsync": 8}}
STRIDE = 5
NTH = [(runner, f"{op}#{n}", "EIO" if n % 2 else "ENOSPC") for runner in RUNNERS
       for op, calls in CALLS[runner].items() for n in range(1, calls + 1, STRIDE)]


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    return {runner: reference_outputs(tmp_path_factory, *extra) for runner, extra in RUNNERS.items()}


def assert_nothing_half_written(root: Path, reference: dict[str, str]) -> None:
    for path, digest in outputs(root).items():
        assert reference.get(path) == digest, f"{path} is visible with bytes an uninterrupted run never writes"
    for path in root.glob("*/*/imagery.yaml"):
        assert isinstance(read_yaml(path.read_text()), dict), f"{path} is not whole"
    for path in (root / ".chargen" / "batch").glob("*/*-*.jsonl"):  # requests-NNN, results-NNN
        data = path.read_bytes()
        assert data.endswith(b"\n") and all(json.loads(line) for line in data.splitlines()), f"{path} is not whole"
    for path in (root / ".chargen" / "batch").glob("*/*.json"):  # the projections
        assert isinstance(json.loads(path.read_bytes()), dict), f"{path} is not whole"
    leftovers = [p for p in temp_files(root) if ".chargen-" not in p]
    assert leftovers == [], f"files of no known temp name: {leftovers}"


@pytest.mark.slow
@pytest.mark.parametrize(("runner", "point", "code"), CASES, ids=[f"{r}-{p}-{c}" for r, p, c in CASES])
def test_a_refusing_disk_at_every_point_is_named_and_resumed_exactly(
        runner: str, point: str, code: str, tmp_path: Path, references: dict[str, dict[str, str]]) -> None:
    fail_and_resume(tmp_path, runner, f"{point}+:{code}", code, references[runner], must_fail=True)


@pytest.mark.slow
@pytest.mark.parametrize(("runner", "call", "code"), NTH, ids=[f"{r}-{c}-{e}" for r, c, e in NTH])
def test_the_nth_call_failing_once_is_named_and_resumed_exactly(
        runner: str, call: str, code: str, tmp_path: Path, references: dict[str, dict[str, str]]) -> None:
    fail_and_resume(tmp_path, runner, f"{call}:{code}", code, references[runner], must_fail=False)


def fail_and_resume(tmp_path: Path, runner: str, fault: str, code: str, reference: dict[str, str], *,
                    must_fail: bool) -> None:
    """Run with ``fault``; a failure is named, half-writes invisible, and the resume exact."""
    root = copy_sample(tmp_path / "tree")
    args = run_args(*RUNNERS[runner])
    with Emulator(quick_emulator()) as emu:
        failed = chargen(root, emu.base_url, *args, extra_env={FAULT_ENV: fault})
        if failed.returncode == 0 and not must_fail:  # the call was a best-effort one, or past the last
            assert_exactly_once(root, emu.stats(), reference, batch_inputs_required=runner == "batch")
            assert temp_files(root) == []
            return
        assert failed.returncode == 1, f"{fault} never failed: {failed.stdout + failed.stderr}"
        line = named_error(failed.stderr)
        assert line.startswith(NAMED[code]), line
        assert not line.removeprefix(NAMED[code]).startswith("/"), f"the file is not shown relative: {line}"
        assert_nothing_half_written(root, reference)
        journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
        plan_durable = journal.exists() and b'"plan.sealed"' in journal.read_bytes()
        if line.endswith("then run the same command again"):
            assert not plan_durable, f"the plan is durable, yet no resume is offered: {line}"
            again = chargen(root, emu.base_url, *args)
        else:
            assert plan_durable, f"a resume is offered for a run whose plan is not durable: {line}"
            again = resume_as_printed(line)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_exactly_once(root, emu.stats(), reference, batch_inputs_required=runner == "batch")
        assert temp_files(root) == [], "a temp file outlived the resume"
