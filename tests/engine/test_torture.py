"""Random SIGKILLs through whole runs: resume always converges, nothing happens twice."""

from __future__ import annotations

import json
import random
from pathlib import Path

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    kill_after_progress,
    run_args,
    start_process,
)

KILLS = 12


def _kill_somewhere(proc_args: tuple[str, ...], root: Path, base_url: str, rng: random.Random,
                    journal: Path) -> bool:
    """Start chargen-es, SIGKILL it after 1..3 more journal lines; True when it finished first."""
    proc = start_process(root, base_url, *proc_args)
    finished = kill_after_progress(proc, journal, rng.randint(1, 3))
    assert not finished or proc.returncode == 0, f"{proc_args} failed with {proc.returncode}"
    return finished


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
            finished = _kill_somewhere(args, root, emu.base_url, rng, journal)
            kills += 0 if finished else 1
        if not finished:
            done = chargen(root, emu.base_url, "resume", RUN_ID)
            assert done.returncode == 0, done.stdout + done.stderr
        assert kills >= 10, "a kill needs only journal progress, so at least ten of twelve land"
        assert_exactly_once(root, emu.stats())
        report = json.loads((journal.parent / "report.json").read_text())
        assert report["phase"] == "completed"
        assert report["summary"]["failed"] == 0 and report["summary"]["pending"] == 0
        assert report["timing"]["resumes"] >= 1
