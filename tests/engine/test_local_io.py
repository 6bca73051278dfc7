"""What a person sees when the local disk refuses a write, and that the printed resume works.

Each local I/O error class, injected with the fault hook of ``chargen_es.fsio``
(``CHARGEN_ES_FAULT_AT``) into a real batch run (a child process, the unmodified SDK, the
emulator): exit 1, one line naming the class, the file relative to ``--root``, what to do
and the exact ``resume`` command, no "internal error" and no traceback; the journal says
``run.failed`` with the class unless the journal itself failed; and the printed command,
run word for word with the fault lifted, finishes exactly as an uninterrupted run.
The sweep over every point and both runners is ``test_local_io_sweep.py`` (slow).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.fsio import FAULT_ENV
from chargen_es.journal import read_events
from tests.batchfile.helpers import BATCH, copy_batch
from tests.batchfile.helpers import assert_exactly_once as assert_batch_exactly_once
from tests.batchfile.helpers import outputs as batch_outputs
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    named_error,
    quick_emulator,
    reference_outputs,
    resume_as_printed,
    run_args,
    temp_files,
)
from tests.procs import run_child
from tests.shared import sweep

# (fault, how the line starts, the file it names, a word of the advice, the journal's last event)
CASES = [
    ("image.write+:ENOSPC", "disk full, cannot write: ", "/images/", "free space on the disk", "DiskFull"),
    ("imagery.write:EACCES", "permission denied: ", "/imagery.yaml", "check permissions of", "PermissionDenied"),
    ("download/fsync:EFBIG", "file too large, cannot write: .chargen/batch/", ".jsonl", "ulimit -f", "FileTooLarge"),
    # the projections are written as the invocation ends, after run.completed: the resume
    # of a closed run writes them
    ("projections.write+:EROFS", "read-only file system, cannot write: .chargen/batch/", ".json", "remount",
     "run.completed"),
    # the journal's own fsync: fatal, nothing more is appended
    ("journal.append/fsync#8:EIO", "disk I/O error: .chargen/batch/", "journal.jsonl", "check it (dmesg", None),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return reference_outputs(tmp_path_factory)


@pytest.mark.parametrize(("fault", "start", "file", "advice", "last"), sweep(CASES, ids=[c[0] for c in CASES]))
def test_a_local_io_error_is_named_and_its_resume_is_exact(fault: str, start: str, file: str, advice: str,
                                                           last: str | None, tmp_path: Path,
                                                           reference: dict[str, str]) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(quick_emulator()) as emu:
        failed = chargen(root, emu.base_url, *run_args(), extra_env={FAULT_ENV: fault})
        assert failed.returncode == 1, failed.stdout + failed.stderr
        line = named_error(failed.stderr)
        assert line.startswith(start), line
        shown = line.split(" (", 1)[0]
        assert file in shown and not shown.split(": ", 1)[1].startswith("/"), line
        assert advice in line
        assert line.endswith(f"then continue with `chargen-es resume {RUN_ID} --root {root} "
                             f"--base-url {emu.base_url}`"), line
        final = read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")[-1]
        tag = final.__struct_config__.tag
        if last is None:
            assert "the journal stops at its last durable line" in line and tag not in ("run.failed",
                                                                                          "run.completed")
        elif last == "run.completed":
            assert tag == last
        else:
            assert isinstance(final, ev.RunFailed) and final.code == last and final.message == line
        again = resume_as_printed(line)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_exactly_once(root, emu.stats(), reference)
        assert temp_files(root) == []


def test_before_the_plan_is_durable_the_advice_is_to_run_again(tmp_path: Path,
                                                               reference: dict[str, str]) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(quick_emulator()) as emu:
        failed = chargen(root, emu.base_url, *run_args(), extra_env={FAULT_ENV: "journal.append:ENOSPC"})
        assert failed.returncode == 1, failed.stdout + failed.stderr
        line = named_error(failed.stderr)
        assert line.startswith(f"disk full, cannot write: .chargen/batch/{RUN_ID}/journal.jsonl (No space left")
        assert line.endswith("then run the same command again"), line
        again = chargen(root, emu.base_url, *run_args())
        assert again.returncode == 0, again.stdout + again.stderr
        assert_exactly_once(root, emu.stats(), reference)


def test_outside_a_run_the_error_is_named_too(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(quick_emulator()) as emu:
        assert chargen(root, emu.base_url, *run_args()).returncode == 0
        state = root / ".chargen" / "batch" / RUN_ID / "state.json"
        state.unlink()
    replay = run_child(["replay", RUN_ID, "--root", str(root)], env={**os.environ, FAULT_ENV: "projections.write:EROFS"})
    assert replay.returncode == 1, replay.stdout + replay.stderr
    line = named_error(replay.stderr)
    assert line.startswith("read-only file system, cannot write: ") and "state.json" in line.split(" (")[0]
    assert line.endswith("then run the same command again")


def test_the_resume_command_of_an_embedded_emulator_run_says_emulator(tmp_path: Path) -> None:
    """The printed command is the exact one for the backend: ``--emulator`` keeps the
    embedded emulator's jobs (its state under ``.chargen/emulator``)."""
    root = copy_sample(tmp_path / "tree")
    env = {**os.environ, "GEMINI_API_KEY": "", FAULT_ENV: "imagery.write+:ENOSPC"}
    failed = run_child(["run", "--yes", "--run-id", RUN_ID, "--root", str(root), "--emulator",
                        "--emulator-job-seconds", "0", "--poll-interval", "0.05"], env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    line = named_error(failed.stderr)
    assert line.startswith("disk full, cannot write: ") and "/imagery.yaml (No space left on device)" in line
    assert line.endswith(f"then continue with `chargen-es resume {RUN_ID} --root {root} --emulator`"), line
    done = resume_as_printed(line)
    assert done.returncode == 0, done.stdout + done.stderr
    events = read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")
    assert isinstance(events[-1], ev.RunCompleted)
    assert sum(isinstance(e, ev.LineApplied) for e in events) == 17
    assert temp_files(root) == []


def test_a_batch_file_run_names_its_output_relative_to_the_files_folder(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    with Emulator(quick_emulator()) as emu:
        failed = chargen(root, emu.base_url, "run", "--batch-file", str(root / BATCH), "--yes", "--run-id", RUN_ID,
                         extra_env={FAULT_ENV: "image.write+:EIO"})
        assert failed.returncode == 1, failed.stdout + failed.stderr
        line = named_error(failed.stderr)
        assert line.startswith("disk I/O error: postcards/") and ".jpg (Input/output error)" in line, line
        assert line.endswith(f"`chargen-es resume {RUN_ID} --root {root} --base-url {emu.base_url}`"), line
        done = resume_as_printed(line)
        assert done.returncode == 0, done.stdout + done.stderr
        assert_batch_exactly_once(root, root / "postcards", emu.stats(), None)
        assert len(batch_outputs(root / "postcards")) == 3 and temp_files(root) == []


def test_a_failed_items_detail_file_is_a_write_point_too(tmp_path: Path) -> None:
    """``failure.write``: the disk refusing the detail file of a failed line stops the run,
    named with that file; the resume writes it, and the item fails exactly once."""
    root = copy_sample(tmp_path / "tree")
    refused = [{"op": "batches.line", "kind": "line", "line_kind": "safety", "key_contains": "ada/map-room"}]
    with Emulator(EmulatorConfig(job_seconds=0.0, seed=7, faults=refused)) as emu:
        failed = chargen(root, emu.base_url, *run_args(), extra_env={FAULT_ENV: "failure.write+:ENOSPC"})
        assert failed.returncode == 1, failed.stdout + failed.stderr
        line = named_error(failed.stderr)
        assert line.startswith(f"disk full, cannot write: .chargen/batch/{RUN_ID}/failed/"), line
        again = resume_as_printed(line)
        assert again.returncode == 3, again.stdout + again.stderr  # done, with one failed item
    events = read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")
    failures = [e for e in events if isinstance(e, ev.ItemFailed)]
    assert len(failures) == 1 and "ada/map-room" in failures[0].key
    assert (root / ".chargen" / "batch" / RUN_ID / failures[0].detail_path).is_file()
    applied = [e.key for e in events if isinstance(e, ev.LineApplied)]
    assert len(applied) == len(set(applied)) == 16 and temp_files(root) == []
