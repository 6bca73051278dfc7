"""Random SIGKILLs through whole runs: resume always converges, nothing happens twice."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    kill_after_growth,
    next_args,
    run_args,
    start_process,
    temp_files,
)

KILLS = 12


@pytest.mark.slow
def test_random_kills_then_resume(tmp_path: Path) -> None:
    rng = random.Random(20301)
    root = copy_sample(tmp_path / "tree")
    journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
    with Emulator(EmulatorConfig(job_seconds=2.0, seed=7)) as emu:
        kills = 0
        finished = False
        while kills < KILLS and not finished:
            proc = start_process(root, emu.base_url, *next_args(journal, tuple(run_args())))
            finished = kill_after_growth(proc, journal, rng.randint(1, 6))
            kills += 0 if finished else 1
        if not finished:
            done = chargen(root, emu.base_url, *next_args(journal, tuple(run_args())))
            assert done.returncode == 0, done.stdout + done.stderr
        assert_exactly_once(root, emu.stats())
        assert temp_files(root) == [], "a killed writer's temp file outlived the resume"
        report = json.loads((journal.parent / "report.json").read_text())
        assert report["phase"] == "completed"
        assert report["summary"]["failed"] == 0 and report["summary"]["pending"] == 0
        assert report["timing"]["resumes"] >= 1
