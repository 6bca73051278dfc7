"""The engine in-process against the emulator, on trio's virtual clock (``tests.engine.inproc``):
the production poll interval of 30 s and an hour-long job take milliseconds."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio
import trio.testing

from chargen_es import engine
from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.planner import sample_tree
from tests.engine import inproc


def _tree(tmp_path: Path) -> Path:
    return Path(shutil.copytree(sample_tree(), tmp_path / "tree"))


def _run(root: Path, base_url: str, run_id: str, runner: ev.Runner, *, force: bool = False,
         also: Callable[[], Awaitable[None]] | None = None) -> tuple[str, engine.Recorder, trio.testing.MockClock]:
    done = inproc.run(root, base_url, run_id=run_id, runner=runner, force=force, chunk_size=500, also=also)
    return done.outcome, done.recorder, done.clock


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
            # once the job exists, the emulator's clock follows the virtual one a minute at a
            # time, for 90 minutes at most: virtual time also jumps while a call is in a
            # worker thread, so an unbounded follower could age the files past their 48 h
            while not emu.stats()["batches"]:
                await trio.sleep(1)
            for _ in range(90):
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
