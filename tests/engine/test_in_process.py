"""The engine in-process against the emulator, on trio's virtual clock.

Real parts: the unmodified SDK over loopback HTTP into the embedded emulator, the real
file system, the real journal. What is not real is time: ``MockClock(autojump_threshold=0)``
jumps every sleep (poll intervals, backoff, pacing) as soon as nothing else can run, so
the production poll interval of 30 s and an hour-long job take milliseconds. A crash is
not the point here; the child-process tests keep real SIGKILL.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import trio
import trio.testing

from chargen_es import engine
from chargen_es import events as ev
from chargen_es.cli.execute import plan_record
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.gateway import Backend, Gateway
from chargen_es.planner import PlanOptions, build_plan, sample_tree
from tests.engine.harness import API_KEY


def _tree(tmp_path: Path) -> Path:
    return Path(shutil.copytree(sample_tree(), tmp_path / "tree"))


def _run(root: Path, base_url: str, run_id: str, runner: str, *, force: bool = False,
         also: object = None) -> tuple[str, engine.Recorder, trio.testing.MockClock]:
    plan = build_plan(PlanOptions(root=root, run_stamp=engine.run_stamp(run_id), runner=runner, force=force,
                                  today=date(2026, 12, 2)))
    recorder = engine.start(engine.runs_root(root) / run_id, run_id, root, "generate", runner, plan_record(plan))
    options = engine.EngineOptions(root=root, run_dir=recorder.journal.run_dir, generated_at="2030-01-01T00:00:00Z")
    clock = trio.testing.MockClock(autojump_threshold=0)
    gateway = Gateway(Backend(api_key=API_KEY, base_url=base_url, api_version="v1beta"))
    try:
        outcome = engine.carry_out(recorder, gateway, options, engine.Progress(), clock=clock,
                                   also=also)  # type: ignore[arg-type]
    finally:
        gateway.close()
        recorder.journal.close()
    return outcome, recorder, clock


def test_the_live_runner_reuses_the_uploads_of_an_earlier_batch_run(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    with Emulator(EmulatorConfig()) as emu:
        first, _, _ = _run(root, emu.base_url, "2030-01-01T00-00-00Z", "batch")
        uploaded = dict(emu.stats()["uploads_by_sha256"])
        second, recorder, _ = _run(root, emu.base_url, "2030-01-01T00-00-01Z", "live", force=True)
        stats = emu.stats()
    assert (first, second) == ("completed", "completed")
    references = {e.sha256 for e in recorder.journal.events if isinstance(e, ev.UploadReused)}
    assert references, "the live run found the batch run's references"
    assert references <= set(uploaded)
    assert stats["uploads_by_sha256"] == uploaded, "the live run uploaded nothing again"
    assert not any(isinstance(e, ev.UploadStarted) for e in recorder.journal.events)
    assert recorder.model.outcome_counts() == (len(recorder.model.tasks), 0)


def test_an_hour_long_job_polled_every_30_s_takes_virtual_time_only(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    with Emulator(EmulatorConfig(job_seconds=3600.0)) as emu:
        async def the_emulator_keeps_virtual_time() -> None:
            while True:  # the emulator's clock follows the virtual one, a minute at a time (cancelled at the end)
                await trio.sleep(60)
                emu.advance(60)

        outcome, recorder, clock = _run(root, emu.base_url, "2030-01-01T00-00-00Z", "batch",
                                        also=the_emulator_keeps_virtual_time)
    assert outcome == "completed"
    states = [e.state for e in recorder.journal.events if isinstance(e, ev.JobStateChanged)]
    # (which states a poll sees depends on how far virtual time jumped while a call was in
    # a worker thread, so only the last one is asserted)
    assert states[-1] == "SUCCEEDED"
    assert clock.current_time() >= 3600, "an hour went by on the virtual clock"
    assert len(states) <= 3, "the journal holds state changes (PENDING, RUNNING, SUCCEEDED), not one line per poll"
    assert recorder.model.phase == "completed"


def test_projections_at_exit_are_the_fold_of_the_journal(tmp_path: Path) -> None:
    from chargen_es.journal import read_events
    from projections import project, render

    root = _tree(tmp_path)
    with Emulator(EmulatorConfig()) as emu:
        _, recorder, _ = _run(root, emu.base_url, "2030-01-01T00-00-00Z", "batch")
    run_dir = recorder.journal.run_dir
    expected = render(project(read_events(run_dir / "journal.jsonl")))
    assert {name: (run_dir / name).read_bytes() for name in expected} == expected
    assert recorder.model == project(read_events(run_dir / "journal.jsonl"))
