"""The live runner against the emulator's RPM quota and injected faults."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine import inproc
from tests.engine.harness import (
    RUN_ID,
    chargen,
    copy_sample,
    imagery_keys,
    kill_after_growth,
    next_args,
    run_args,
    start_process,
)
from tests.procs import run_child

LIVE = ("--runner", "live", "--workers", "5")


def events_of(root: Path) -> list[Any]:
    return read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")


def tags(root: Path) -> Counter[str]:
    return Counter(e.__struct_config__.tag for e in events_of(root))


def test_tight_quota_finishes_without_a_failed_item(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(rpm=6, quota_window_s=1.0)) as emu:
        done = chargen(root, emu.base_url, *run_args(*LIVE))
        assert done.returncode == 0, done.stdout + done.stderr
        stats = emu.stats()
    seen = tags(root)
    assert seen["line.applied"] == 17 and seen["item.failed"] == 0
    assert seen["call.failed"] >= 1, "the quota was hit and handled"
    assert stats["calls"] + stats["calls_rejected"] == seen["call.started"]
    kinds = {e.kind for e in events_of(root) if e.__struct_config__.tag == "call.failed"}
    assert kinds == {"rate_limit"}


def test_error_classes(tmp_path: Path) -> None:
    """503s retry, a 400 fails its item at once with the server's message."""
    root = copy_sample(tmp_path / "tree")
    faults = [
        {"op": "models.generateContent", "kind": "status", "status": 503, "count": 3},
        {"op": "models.generateContent", "kind": "drop", "count": 1},
        {"op": "models.generateContent", "kind": "status", "status": 400, "count": 1,
         "message": "Request contains an invalid argument."},
    ]
    with Emulator(EmulatorConfig(faults=faults)) as emu:
        done = inproc.run(root, emu.base_url, runner="live", workers=5)  # backoff on the virtual clock
    assert done.outcome == "completed" and done.recorder.model.outcome_counts()[1] == 1
    events = events_of(root)
    failed = [e for e in events if e.__struct_config__.tag == "item.failed"]
    assert len(failed) == 1 and failed[0].stage == "call" and failed[0].code == "http_400"
    assert "invalid argument" in failed[0].message  # the server's own words
    kinds = Counter(e.kind for e in events if e.__struct_config__.tag == "call.failed")
    assert kinds["transient"] == 4 and kinds["permanent"] == 1


def test_daily_quota_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(faults=[{"kind": "daily_quota", "count": 1}])) as emu:
        first = chargen(root, emu.base_url, *run_args("--runner", "live", "--workers", "1"))
        assert first.returncode == 1, first.stdout + first.stderr
        assert "per-day quota" in first.stderr and f"chargen-es resume {RUN_ID}" in first.stderr
        assert tags(root)["run.paused"] == 1
        second = chargen(root, emu.base_url, "resume", RUN_ID)
        assert second.returncode == 0, second.stdout + second.stderr
    seen = tags(root)
    assert seen["line.applied"] == 17 and seen["item.failed"] == 0


@pytest.mark.slow
def test_sigkill_torture_applies_no_task_twice(tmp_path: Path) -> None:
    rng = random.Random(77)
    root = copy_sample(tmp_path / "tree")
    journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
    faults = [{"op": "models.generateContent", "kind": "latency", "seconds": 0.15}]
    with Emulator(EmulatorConfig(faults=faults, rpm=6, quota_window_s=1.0)) as emu:
        first = tuple(run_args("--runner", "live", "--workers", "3"))
        kills = 0
        for _ in range(10):
            proc = start_process(root, emu.base_url, *next_args(journal, first))
            if kill_after_growth(proc, journal, rng.randint(1, 5)):
                break
            kills += 1
        final = chargen(root, emu.base_url, *next_args(journal, first))
        assert final.returncode == 0, final.stdout + final.stderr
    assert kills >= 1
    applied = [e.key for e in events_of(root) if e.__struct_config__.tag == "line.applied"]
    assert len(applied) == len(set(applied)) == 17
    for name, keys in imagery_keys(root).items():
        assert len(keys) == len(set(keys)), name
    state = json.loads((journal.parent / "state.json").read_text())
    assert state["phase"] == "completed" and state["counts"]["pending"] == 0


def test_cancel_pauses_a_live_run_and_resume_continues(tmp_path: Path) -> None:
    """The seeds' pause and resume: calls in flight finish, nothing is lost or doubled."""
    root = copy_sample(tmp_path / "tree")
    journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
    # a 0.2 s call keeps the run going long enough to be cancelled midway, without a quota
    # whose 429s would make the test wait out the production backoff
    slow_calls = [{"op": "models.generateContent", "kind": "latency", "seconds": 0.2}]
    with Emulator(EmulatorConfig(faults=slow_calls)) as emu:
        proc = start_process(root, emu.base_url, *run_args("--runner", "live", "--workers", "2"))
        while not (journal.exists() and journal.read_bytes().count(b'"line.applied"') >= 2):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        cancel = chargen_plain(root, "cancel", RUN_ID)
        assert cancel.returncode == 0, cancel.stderr
        assert "paused" in cancel.stdout
        proc.communicate(timeout=60)
        assert proc.returncode == 130
        assert tags(root)["run.paused"] == 1 and tags(root)["run.cancelled"] == 0
        done = chargen(root, emu.base_url, "resume", RUN_ID)
        assert done.returncode == 0, done.stdout + done.stderr
    applied = [e.key for e in events_of(root) if e.__struct_config__.tag == "line.applied"]
    assert len(applied) == len(set(applied)) == 17


def chargen_plain(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A command that needs no backend options (cancel of a live run)."""
    return run_child([*args, "--root", str(root)], timeout=120)
