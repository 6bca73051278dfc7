"""Random SIGKILLs through whole runs: resume always converges, nothing happens twice."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    run_args,
    start_process,
    temp_files,
)

KILLS = 12


def _kill_somewhere(proc_args: tuple[str, ...], root: Path, base_url: str, rng: random.Random) -> bool:
    """Start chargen-es, SIGKILL it after a random delay; True when it finished first."""
    proc = start_process(root, base_url, *proc_args)
    deadline = time.monotonic() + rng.uniform(0.2, 1.5)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            proc.communicate()
            assert proc.returncode == 0, f"{proc_args} failed with {proc.returncode}"
            return True
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return False


@pytest.mark.slow
def test_random_kills_then_resume(tmp_path: Path) -> None:
    rng = random.Random(20301)
    root = copy_sample(tmp_path / "tree")
    journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
    with Emulator(EmulatorConfig(job_seconds=12.0, seed=7)) as emu:
        kills = 0
        finished = False
        while kills < KILLS and not finished:
            sealed = journal.exists() and b'"plan.sealed"' in journal.read_bytes()
            args = ("resume", RUN_ID) if sealed else tuple(run_args())
            finished = _kill_somewhere(args, root, emu.base_url, rng)
            kills += 0 if finished else 1
        if not finished:
            done = chargen(root, emu.base_url, "resume", RUN_ID)
            assert done.returncode == 0, done.stdout + done.stderr
        assert kills >= 10, "the runs finished before enough kills landed; lengthen the jobs"
        assert_exactly_once(root, emu.stats())
        assert temp_files(root) == [], "a killed writer's temp file outlived the resume"
        report = json.loads((journal.parent / "report.json").read_text())
        assert report["phase"] == "completed"
        assert report["summary"]["failed"] == 0 and report["summary"]["pending"] == 0
        assert report["timing"]["resumes"] >= 1
