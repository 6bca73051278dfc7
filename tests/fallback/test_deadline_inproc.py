"""A deadline on virtual time: the engine in this process on trio's MockClock, its wall
clock moving with it, so the stuck-job fallback takes no wall time (tests/engine/inproc.py).
The child-process version (tests/fallback/test_fallback.py) keeps the command line's path."""

from __future__ import annotations

from pathlib import Path

from chargen_es import engine
from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine import inproc
from tests.engine.harness import assert_exactly_once, copy_sample
from tests.fallback.test_fallback import HOLD, applied_once

DEADLINE_S = 90.0  # three polls of 30 s; virtual, so it costs no wall time (the jobs are held PENDING)


def test_a_stuck_job_reaches_the_deadline_in_virtual_time_and_finishes_live(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=HOLD)) as emu:
        done = inproc.run(root, emu.base_url, fallback=engine.FallbackOptions(deadline_s=DEADLINE_S))
        stats = emu.stats()
    assert done.outcome == "completed"
    assert_exactly_once(root, stats)
    applied_once(root)
    fell_back = done.tagged("chunk.fallback")
    assert [f.reason for f in fell_back] == ["deadline"] * 3
    assert {a.via for a in done.tagged("line.applied")} == {"live"} and len(done.tagged("line.applied")) == 17
    assert len(done.tagged("job.cancelling")) == len(done.tagged("job.cancel_confirmed")) == 3
    assert stats["operations"]["batches.cancel"] == 3
    policy = done.tagged("fallback.policy")[0]
    assert isinstance(policy, ev.FallbackPolicy) and policy.duration_s == DEADLINE_S
    assert done.clock.current_time() > DEADLINE_S - 1  # the wait passed on the virtual clock only
