"""The engine in this process on trio's virtual clock: for tests where waiting is not the point.

Real parts: the unmodified SDK over loopback HTTP into the embedded emulator, the real file
system, the real journal, the same planner and engine entry points the CLI uses. What is
not real is time: ``MockClock(autojump_threshold=0)`` jumps every ``trio.sleep`` (poll
intervals, retry backoff, the minutes a refused batch create waits in the queue, pacing)
as soon as nothing else can run, so the production waits take no wall time and no test
needs a flag that scales them. A crash is not the point here; the child-process tests
keep real ``SIGKILL``. A ``--deadline`` is read off the engine's wall clock
(``EngineOptions.wall_clock``), which here starts now and moves with the virtual clock.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import trio.testing

from chargen_es import engine
from chargen_es import events as ev
from chargen_es.cli.execute import plan_record
from chargen_es.gateway import Backend, Gateway
from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.batchfile import build_batch_plan
from tests.engine.harness import API_KEY, RUN_ID


@dataclass
class Finished:
    outcome: str  # completed | failed | cancelled | detached | paused
    recorder: engine.Recorder
    clock: trio.testing.MockClock

    @property
    def events(self) -> list[ev.AnyEvent]:
        return list(self.recorder.journal.events)

    def tagged(self, *tags: str) -> list[Any]:
        return [e for e in self.recorder.journal.events if ev.type_name(e) in tags]


def carry_out(recorder: engine.Recorder, base_url: str, options: engine.EngineOptions,
              also: Callable[[], Awaitable[None]] | None = None) -> Finished:
    clock = trio.testing.MockClock(autojump_threshold=0)
    # a --deadline is read off the wall clock: here one that starts now and moves with
    # trio's virtual clock, so a 3 s deadline arrives after 3 virtual seconds
    started = time.time()
    options = replace(options, wall_clock=lambda: started + clock.current_time())
    gateway = Gateway(Backend(api_key=API_KEY, base_url=base_url, api_version="v1beta"))
    try:
        outcome = engine.carry_out(recorder, gateway, options, engine.Progress(), clock=clock, also=also)
    finally:
        gateway.close()
        recorder.journal.close()
    return Finished(outcome, recorder, clock)


def options_for(root: Path, run_dir: Path, **overrides: object) -> engine.EngineOptions:
    """The CLI's defaults (production poll interval and backoff), with a fixed stamp."""
    options = engine.EngineOptions(root=root, run_dir=run_dir, generated_at="2030-01-01T00:00:00Z")
    return replace(options, **overrides)  # type: ignore[arg-type]


def run(root: Path, base_url: str, *, run_id: str = RUN_ID, runner: ev.Runner = "batch",
        chunk_size: int = 6, force: bool = False, also: Callable[[], Awaitable[None]] | None = None,
        fallback: engine.FallbackOptions | None = None, **overrides: object) -> Finished:
    """``chargen-es run --yes --run-id RUN_ID --chunk-size N`` of the tree at ``root``
    (with ``fallback``: ``--deadline`` and friends, journaled with the plan)."""
    plan = build_plan(PlanOptions(root=root, run_stamp=engine.run_stamp(run_id), runner=runner, force=force,
                                  chunk_size=chunk_size, today=date(2026, 12, 2)))
    recorder = engine.start(engine.runs_root(root) / run_id, run_id, root, "generate", runner, plan_record(plan),
                            fallback=fallback)
    if fallback is not None:
        overrides.setdefault("fallback", fallback)
    return carry_out(recorder, base_url, options_for(root, recorder.journal.run_dir, **overrides), also)


def run_batch_file(path: Path, base_url: str, *, run_id: str = RUN_ID, runner: ev.Runner = "batch",
                   chunk_size: int = 6, **overrides: object) -> Finished:
    """``chargen-es run --batch-file PATH --yes --run-id RUN_ID --chunk-size N`` (root: its folder)."""
    root = path.parent
    plan = build_batch_plan(path, PlanOptions(root=root, run_stamp=engine.run_stamp(run_id), runner=runner,
                                              chunk_size=chunk_size, today=date(2026, 12, 2)))
    recorder = engine.start(engine.runs_root(root) / run_id, run_id, root, plan.config["mode"], runner,
                            plan_record(plan))
    return carry_out(recorder, base_url, options_for(root, recorder.journal.run_dir, **overrides))


def resume(root: Path, base_url: str, *, run_id: str = RUN_ID, also: Callable[[], Awaitable[None]] | None = None,
           **overrides: object) -> Finished:
    """``chargen-es resume RUN_ID``."""
    recorder = engine.open_for_resume(engine.open_run(engine.run_dir_for(root, run_id)))
    return carry_out(recorder, base_url, options_for(root, recorder.journal.run_dir, **overrides), also)
