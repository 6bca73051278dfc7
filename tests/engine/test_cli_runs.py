"""The run-changing commands from the outside: confirmation, keys, detach, cancel, signals, demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.conftest import run_demo
from tests.engine.harness import (
    API_KEY,
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    outputs,
    run_args,
    start_process,
)
from tests.procs import run_child


def journal_tags(root: Path, run_id: str = RUN_ID) -> list[str]:
    return [e.__struct_config__.tag for e in read_events(root / ".chargen" / "batch" / run_id / "journal.jsonl")]


def plain(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    return run_child([*args], cwd=cwd, env={**base, **(env or {})}, timeout=120)


def test_without_a_tty_yes_is_required(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig()) as emu:
        done = plain("run", "--root", str(root), "--base-url", emu.base_url, env={"GEMINI_API_KEY": API_KEY})
        assert emu.stats()["operations"] == {}, "nothing was sent before confirmation"
    assert done.returncode == 2  # a usage error: the command line lacks --yes (README: exit codes)
    assert "pass --yes" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (root / ".chargen").exists()


def test_a_missing_key_is_one_line_that_suggests_the_emulator(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    done = plain("run", "--yes", "--root", str(root))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "GEMINI_API_KEY" in lines[0] and "--emulator" in lines[0]


def test_detach_then_resume_collects(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=1.0)) as emu:
        first = chargen(root, emu.base_url, *run_args("--detach"))
        assert first.returncode == 0, first.stderr
        assert f"chargen-es resume {RUN_ID}" in first.stdout
        assert journal_tags(root)[-1] == "run.paused"
        assert outputs(root) == {k: v for k, v in outputs(root).items() if "20300101T000000Z" not in k}
        later = chargen(root, emu.base_url, "resume", RUN_ID)
        assert later.returncode == 0, later.stderr
        assert_exactly_once(root, emu.stats())
    assert journal_tags(root)[-1] == "run.completed"


def test_cancel_cancels_remote_jobs_and_records_it(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=60.0)) as emu:
        first = chargen(root, emu.base_url, *run_args("--detach"))
        assert first.returncode == 0, first.stderr
        cancelled = plain("cancel", RUN_ID, "--root", str(root), "--base-url", emu.base_url,
                          env={"GEMINI_API_KEY": API_KEY})
        assert cancelled.returncode == 0, cancelled.stderr
        assert emu.stats()["operations"]["batches.cancel"] == 3
        again = chargen(root, emu.base_url, "resume", RUN_ID)
    assert "already cancelled" in again.stdout
    assert journal_tags(root)[-1] == "run.cancelled"
    state = json.loads((root / ".chargen" / "batch" / RUN_ID / "state.json").read_text())
    assert state["phase"] == "cancelled"


def test_sigterm_pauses_the_run_and_names_the_resume_command(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=30.0)) as emu:
        proc = start_process(root, emu.base_url, *run_args())
        deadline = time.monotonic() + 60
        journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
        while not (journal.exists() and b'"job.submitted"' in journal.read_bytes()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert f"chargen-es resume {RUN_ID}" in err
        assert journal_tags(root)[-1] == "run.paused"
        emu.set_faults([])
    state = json.loads((journal.parent / "state.json").read_text())
    assert state["phase"] == "paused"


def test_an_unfinished_run_is_pointed_out(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=1.0)) as emu:
        assert chargen(root, emu.base_url, *run_args("--detach")).returncode == 0
        second = chargen(root, emu.base_url, "run", "--yes", "--force", "--detach")
    # the unfinished run holds its 17 keys: the second run plans only the 2 it may force, and
    # the summary names the holder with its resume instead of a separate nag
    assert f"held:     17 task(s) by unfinished run {RUN_ID}" in second.stdout, second.stdout
    assert f"chargen-es resume {RUN_ID} --root {root}" in second.stdout
    assert "tasks:    2 " in second.stdout


def test_cleanup_deletes_remote_request_and_result_files(tmp_path: Path) -> None:
    kept, cleaned = copy_sample(tmp_path / "kept"), copy_sample(tmp_path / "cleaned")
    with Emulator(EmulatorConfig()) as emu:
        assert chargen(kept, emu.base_url, *run_args("--no-cleanup")).returncode == 0
        assert emu.stats()["operations"].get("files.delete", 0) == 0
        assert chargen(cleaned, emu.base_url, *run_args()).returncode == 0
        assert emu.stats()["operations"]["files.delete"] == 6  # 3 request files + 3 result files
    assert "files.deleted" not in journal_tags(kept) and "files.deleted" in journal_tags(cleaned)


def assert_nothing_left_to_do(root: Path) -> None:
    """``status`` shows every scene done and every analysis present; ``run`` plans nothing."""
    status = plain("status", "--root", str(root), "--json")
    assert status.returncode == 0, status.stderr
    totals = json.loads(status.stdout)["totals"]
    scenes = totals["scenes"]
    assert scenes["done"] == 19 and sum(scenes.values()) == 19, scenes  # nothing missing, changed, outdated, new
    assert totals["analyses"]["stale"] == 0 and totals["analyses"]["absent"] == 0
    for mode in ("generate", "analyze"):
        plan = plain("run", "--root", str(root), "--mode", mode, "--dry-run", "--json")
        assert json.loads(plan.stdout)["summary"]["tasks"] == 0, plan.stdout


def test_the_demo_analyses_first_and_leaves_nothing_to_do(demo_tree: Path) -> None:
    runs = sorted((demo_tree / ".chargen" / "batch").iterdir())
    modes = [json.loads((r / "report.json").read_text())["mode"] for r in runs]
    assert modes == ["analyze", "generate", "analyze"]  # the sources, the generation, the new pictures
    for run in runs:
        report = json.loads((run / "report.json").read_text())
        assert report["phase"] == "completed" and report["summary"]["failed"] == 0
    pictures = [p for p in demo_tree.glob("*/*/images/*") if p.suffix in (".png", ".jpg", ".jpeg", ".webp")]
    assert len(pictures) > 19 and all(p.with_name(p.name + ".analysis.json").is_file() for p in pictures)
    assert_nothing_left_to_do(demo_tree)


@pytest.mark.slow  # a whole second demo; the quick loop checks the session's first one
def test_a_second_demo_into_a_new_folder_leaves_nothing_to_do(tmp_path: Path, demo_tree: Path) -> None:
    done = run_demo(tmp_path / "second")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "images under" in done.stdout
    assert_nothing_left_to_do(tmp_path / "second")


def test_a_plan_torn_before_its_seal_is_set_aside_and_run_again(tmp_path: Path) -> None:
    from chargen_es import events as ev
    from chargen_es.journal import Journal

    root = copy_sample(tmp_path / "tree")
    run_dir = root / ".chargen" / "batch" / RUN_ID
    with Journal.open(run_dir, create=True) as journal:  # what a cut inside the plan's commit leaves
        journal.append(ev.RunStarted(run_id=RUN_ID, tool_version="0", mode="generate", runner="batch"))
    with Emulator(EmulatorConfig()) as emu:
        resumed = chargen(root, emu.base_url, "resume", RUN_ID)
        assert resumed.returncode == 1 and f"run --run-id {RUN_ID}" in resumed.stderr
        again = chargen(root, emu.base_url, *run_args())
        assert again.returncode == 0, again.stdout + again.stderr
        assert_exactly_once(root, emu.stats())
    assert (run_dir.parent / f"{RUN_ID}.unsealed-1" / "journal.jsonl").exists()
    assert journal_tags(root)[0] == "run.started" and journal_tags(root)[-1] == "run.completed"
