"""Every way in refuses what would go wrong before anything is created, and says what the
journal says: run ids, roots, the price before confirming, dead ends, a cancel.

Real chargen-es processes against an in-process emulator (the unmodified SDK over HTTP).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.planner import sample_batch
from tests.engine.harness import API_KEY, RUN_ID, chargen, copy_sample, run_args, start_process
from tests.procs import run_child


def tree_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("bad", ["../../escape", "..", ".", "a/b", "-x", ".hidden", "x" * 121])
def test_an_unsafe_run_id_is_a_usage_error_and_writes_nothing(tmp_path: Path, bad: str) -> None:
    tree = copy_sample(tmp_path / "tree")
    batch = tmp_path / "batch"
    shutil.copytree(sample_batch(), batch)
    before = tree_files(tmp_path)
    done_tree = run_child(["run", "--root", str(tree), "--emulator", "--yes", "--run-id", bad])
    done_batch = run_child(["run", "--batch-file", str(batch / "postcards.yaml"), "--emulator", "--yes",
                            "--run-id", bad])
    for done in (done_tree, done_batch):
        assert done.returncode == 2, done.stdout + done.stderr
        assert "a run id is one name" in done.stderr
    assert tree_files(tmp_path) == before


@pytest.mark.parametrize("command", [["run", "--emulator", "--yes"], ["status"], ["inspect"], ["stats"],
                                     ["resume", "--emulator"], ["replay", "--workspace"], ["cancel", "X"],
                                     ["delete", "X"], ["review"]])
def test_a_root_that_is_not_a_content_tree_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for root, why in ((empty, "not a content tree"), (tmp_path / "nope", "no such folder")):
        done = run_child([*command, "--root", str(root)])
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert why in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "already done" not in done.stdout
    assert list(empty.iterdir()) == []


def test_the_live_runner_is_priced_live_before_confirming(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    live = run_child(["run", "--root", str(root), "--runner", "live", "--dry-run"])
    batch = run_child(["run", "--root", str(root), "--dry-run"])
    assert live.returncode == batch.returncode == 0
    [live_line] = [line for line in live.stdout.splitlines() if line.startswith("  estimate:")]
    [batch_line] = [line for line in batch.stdout.splitlines() if line.startswith("  estimate:")]
    assert "as live calls (full price" in live_line and "(saving" not in live_line, live_line
    assert "with the Batch API" in batch_line and "(saving" in batch_line
    doc = json.loads(run_child(["run", "--root", str(root), "--runner", "live", "--dry-run", "--json"]).stdout)
    summary = doc["summary"]
    assert summary["estimated_usd"] == summary["estimated_live_usd"] > summary["estimated_batch_usd"]
    assert summary["estimated_saving_usd"] == 0.0


def test_a_model_the_server_lacks_is_a_dead_end_nobody_offers(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        dead = chargen(root, emu.base_url, "run", "--yes", "--only", "dov", "--model", "gemini-9-ultra-image")
        assert dead.returncode == 1
        assert "before sending anything" in dead.stderr and "choose another model" in dead.stderr
        assert "continue it with" not in dead.stderr and "resume" not in dead.stderr.split("this run is")[0]
        nothing = chargen(root, emu.base_url, "resume")
        assert nothing.returncode == 0 and "no unfinished run" in nothing.stdout, nothing.stderr  # nothing to do
        again = chargen(root, emu.base_url, "run", "--yes", "--only", "dov")
        assert again.returncode == 0, again.stderr
        assert "unfinished" not in again.stderr
        assert emu.stats()["operations"].get("files.upload_start", 0) == 2  # only the second run sent


def test_a_cancel_from_another_terminal_says_cancelled_to_the_running_process(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=60.0)) as emu:
        proc = start_process(root, emu.base_url, *run_args())
        journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
        deadline = time.monotonic() + 60
        while not (journal.exists() and b'"job.submitted"' in journal.read_bytes()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        cancelled = run_child(["cancel", RUN_ID, "--root", str(root), "--base-url", emu.base_url],
                              env={**os.environ, "GEMINI_API_KEY": API_KEY})
        _, err = proc.communicate(timeout=60)
        again = chargen(root, emu.base_url, "resume", RUN_ID)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled: `chargen-es cancel`" in err and "resume" not in err, err
    assert "already cancelled" in again.stdout
    assert not (journal.parent / "cancel.requested").exists()


def test_a_job_whose_every_line_failed_is_never_called_succeeded_or_done(tmp_path: Path) -> None:
    from chargen_es.cli.menu import run_progress

    root = copy_sample(tmp_path / "tree")
    refuse = [{"op": "batches.line", "kind": "line", "line_kind": "error", "code": 3}]
    with Emulator(EmulatorConfig(job_seconds=0.3, faults=refuse)) as emu:
        done = chargen(root, emu.base_url, "run", "--yes", "--run-id", RUN_ID, "--only", "dov")
    assert done.returncode == 3, done.stderr
    said = done.stderr
    assert "chunk 0: succeeded; lines 0 ok, 2 failed of 2" in said, said
    assert "applied     chunk 0: 0 ok, 2 failed" in said, said
    assert "2/2" not in said and "succeeded 2" not in said
    assert "0 ok, 2 failed" in done.stdout
    # the menu's resume list counts outcomes apart too
    assert ": 0 ok, 2 failed of 2;" in run_progress(root, RUN_ID)


def test_the_resume_a_run_prints_carries_its_backend(tmp_path: Path) -> None:
    """A detached run on the embedded emulator is continued there, not at Google."""
    root = copy_sample(tmp_path / "tree")
    done = run_child(["run", "--root", str(root), "--emulator", "--yes", "--detach", "--only", "dov",
                      "--run-id", RUN_ID, "--emulator-job-seconds", "30"])
    assert done.returncode == 0, done.stderr
    assert f"chargen-es resume {RUN_ID} --root {root} --emulator" in done.stdout, done.stdout
