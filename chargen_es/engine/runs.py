"""Run folders and the life of a run: start from a plan, resume from a journal, cancel.

``start`` journals the plan (``run.started``, every ``task.planned`` / ``task.skipped``,
``plan.sealed``) in one group commit, so a run either has its whole plan or none of it,
and returns a :class:`Recorder` (the journal and its fold). ``open_for_resume`` folds an
existing journal once, under its lock, and appends ``run.resumed``. ``carry_out`` sweeps
the temp files killed writers left under ``--root`` (``fsio.sweep_temp_files``), then hands
the recorder to the batch or live runner. Projections are written at the end of every
invocation, interrupted or not, rendered from the model the recorder folded while
appending: the journal is read once per invocation and never re-folded at exit.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import trio

import projections
import projections.workspace
from chargen_es import __version__
from chargen_es import events as ev
from chargen_es.engine.batch import BatchRunner
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.fallback import make_policy
from chargen_es.engine.options import EngineOptions, FallbackOptions
from chargen_es.engine.pauses import pause_message
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.errors import (
    BillingError,
    ChargenError,
    DailyQuotaExhausted,
    Interrupted,
    JournalError,
    LocalIOError,
    RunNotFound,
    local_io_error,
)
from chargen_es.fsio import sweep_temp_files
from chargen_es.gateway import Gateway
from chargen_es.journal import Journal, utc_now_ms
from chargen_es.run_folders import cancel_requested
from chargen_es.run_folders import list_runs as list_runs
from chargen_es.run_folders import new_run_id as new_run_id  # re-exported: the engine's callers use runs.*
from chargen_es.run_folders import run_dir_for as run_dir_for
from chargen_es.run_folders import run_stamp as run_stamp
from chargen_es.run_folders import runs_root as runs_root


def unfinished_runs(root: Path) -> list[str]:
    """Runs whose journal has no terminal event (completed or cancelled), newest first.

    Read from the workspace index (``engine.workspace``), which folds only new journal
    bytes, so this costs the same after a hundred runs as after one.
    """
    from chargen_es.engine import workspace

    return projections.workspace.unfinished(workspace.load(root).index)


def workspace_uploads(root: Path, exclude: str = "", backend: str | None = None,
                      ) -> dict[str, tuple[str, projections.Upload]]:
    """Live uploads of every other run of this tree held by ``backend``, for reuse
    (sha256 → (run, record)); the engine still confirms each by listing before reusing it."""
    from chargen_es.engine import workspace

    cache = projections.workspace.files_cache(workspace.load(root).index, exclude_run=exclude, backend=backend)
    return {
        sha: (r["from_run"], projections.Upload(sha, r["name"], r["uri"], r["expires"], r["mime"], r["size"],
                                                r["path"], r["backend"]))
        for sha, r in cache.items()
    }


@dataclass(frozen=True)
class PlanRecord:
    """What ``start`` needs from a plan (kept narrow so the engine does not import the planner)."""

    tasks: list[ev.Task]
    skipped: list[ev.TaskSkipped]
    chunks: int
    config: dict[str, Any]
    estimated_cost_usd: float
    live_cost_usd: float


def start(run_dir: Path, run_id: str, root: Path, mode: ev.Mode, runner: ev.Runner, plan: PlanRecord,
          fallback: FallbackOptions | None = None) -> Recorder:
    """Create the run and journal its whole plan in one group commit.

    A batch run's ``--deadline`` policy is part of that commit (its instant counts from the
    commit's own ``at``), so a crash can never lose it.
    """
    journal = Journal.open(run_dir, create=True)
    crash_point("before", "append:run.started")
    plan_bytes = msgspec.json.encode([msgspec.to_builtins(t) for t in plan.tasks])
    now = time.time()
    planned_max = plan.config.get("max_cost")
    policy = make_policy(fallback, None, utc_now_ms(now), float(planned_max) if planned_max is not None else None) \
        if fallback is not None and runner == "batch" else None
    journal.append_many([
        ev.RunStarted(run_id=run_id, tool_version=__version__, mode=mode, runner=runner,
                      root=str(root.resolve()), pid=os.getpid(), config=plan.config),
        *(ev.TaskPlanned(task=t) for t in plan.tasks),
        *plan.skipped,
        ev.PlanSealed(tasks=len(plan.tasks), skipped=len(plan.skipped), chunks=plan.chunks,
                      plan_sha256=hashlib.sha256(plan_bytes).hexdigest(),
                      estimated_cost_usd=plan.estimated_cost_usd, live_cost_usd=plan.live_cost_usd),
        *((policy,) if policy is not None else ()),
    ], now=now)
    crash_point("after", "append:run.started")
    return Recorder(journal)


def open_run(run_dir: Path) -> Recorder:
    """Take the run's lock and fold its journal once (nothing appended)."""
    return Recorder(Journal.open(run_dir))


def open_for_resume(recorder: Recorder) -> Recorder:
    """Append ``run.resumed`` to an open run that is sealed and not closed."""
    model = recorder.model
    if model.closed:
        raise RunNotFound(f"run {recorder.journal.run_dir.name} is already {model.phase}; nothing to resume")
    recorder.record(ev.RunResumed(pid=os.getpid(), tool_version=__version__, from_seq=recorder.journal.last_seq))
    return recorder


def sweep_leftovers(root: Path) -> list[Path]:
    """Remove the temp files writers killed in an earlier invocation left under ``root``
    (images, imagery.yaml, downloads, projections), before this one writes again.

    Every command that takes a run's lock to write calls it: ``resume`` of a run that
    is already closed too, since a kill after ``run.completed`` can leave a projection's
    temp file. The emulator's folder is its own and is not walked.
    """
    return sweep_temp_files(root, skip=[root / ".chargen" / "emulator"])


def carry_out(recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
              clock: trio.abc.Clock | None = None, also: Callable[[], Awaitable[None]] | None = None) -> str:
    """Drive the run to an end or a pause; returns completed | failed | cancelled | detached | paused.

    ``clock`` is trio's (``trio.testing.MockClock`` in tests: hours of polling and
    backoff in milliseconds); ``also`` runs beside the work in the same nursery and is
    cancelled with it (a test moves the emulator's clock from there).

    SIGINT / SIGTERM cancel the work at the next checkpoint (calls in flight finish, so
    every effect lands with its outcome), the run is journaled as paused, and
    ``Interrupted`` tells the user which ``resume`` command continues it.
    """
    model = recorder.model
    sweep_leftovers(options.root)
    resume = options.resume_command or f"chargen-es resume {model.run_id} --root {shlex.quote(str(options.root))}"

    def named(exc: BaseException) -> BaseException:
        """A local I/O error (disk full, read-only, permission, EIO, too large), named for the user."""
        if isinstance(exc, LocalIOError) and exc.resume:
            return exc  # named already
        return local_io_error(exc, root=options.root, resume=resume) or exc

    async def main() -> str:
        workspace = workspace_uploads(options.root, exclude=model.run_id, backend=gateway.backend.identity)
        if model.runner == "live":
            from chargen_es.engine.live import LiveRunner

            runner: Any = LiveRunner(recorder, gateway, options, progress, workspace)
        else:
            runner = BatchRunner(recorder, gateway, options, progress, workspace)
        outcome = "interrupted"
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                async def watch() -> None:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

                async def work() -> None:
                    nonlocal outcome
                    outcome = await runner.run()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(watch)
                nursery.start_soon(work)
                if also is not None:
                    nursery.start_soon(also)
        return outcome

    try:
        try:
            outcome = trio.run(main, clock=clock)
        except BaseExceptionGroup as group:
            first = _first_leaf(group)
            leaf = named(first)
            if isinstance(leaf, BillingError | DailyQuotaExhausted):
                outcome = _pause_for(recorder, leaf)
            else:
                if not isinstance(leaf, KeyboardInterrupt | Interrupted):
                    _record_failure(recorder, leaf)
                raise leaf from (first if leaf is not first else None)
        except (KeyboardInterrupt, Interrupted):
            raise
        except (BillingError, DailyQuotaExhausted) as exc:
            outcome = _pause_for(recorder, exc)
        except Exception as exc:
            failure = named(exc)
            _record_failure(recorder, failure)
            if failure is exc:
                raise
            raise failure from exc
        if outcome == "interrupted":
            canceller = cancel_requested(recorder.journal.run_dir)
            if canceller is not None:
                recorder.record(ev.RunPaused(reason="interrupted", message=f"stopped by cancel (pid {canceller})"))
                raise Interrupted(f"cancelled: `chargen-es cancel` (pid {canceller}) stopped run {model.run_id}; "
                                  "it cancels the remote jobs and closes the run")
            recorder.record(ev.RunPaused(reason="interrupted", message="stopped by a signal"))
            raise Interrupted(
                f"interrupted; the run is safe: continue it with `chargen-es resume {model.run_id} "
                f"--root {options.root}`"
            )
    except BaseException as exc:
        progress.close()
        # best effort: the first error is the one the user sees; the next command rebuilds
        # the projections from the journal
        with contextlib.suppress(OSError, ChargenError):
            recorder.write_projections()
        _refresh_index(options.root)
        if (failure := named(exc)) is not exc:
            raise failure from exc  # e.g. the pause's own append hit the disk
        raise
    progress.close()
    try:
        recorder.write_projections()
    except OSError as exc:
        raise named(exc) from exc
    _refresh_index(options.root)
    return outcome


def _refresh_index(root: Path) -> None:
    """Fold the run's new events into the workspace index so the next command starts warm.

    Best effort: the index is a projection, and any reader catches up from the journals.
    """
    from chargen_es.engine import workspace

    with contextlib.suppress(OSError, ChargenError):
        workspace.load(root, point="index.write:end")


def _pause_for(recorder: Recorder, exc: BillingError | DailyQuotaExhausted) -> str:
    reason, message = pause_message(exc)
    recorder.record(ev.RunPaused(reason=reason, message=message))
    return "paused"


def _record_failure(recorder: Recorder, exc: BaseException) -> None:
    """A run that stops on an error says so in its journal (inspect, report), resumably."""
    if isinstance(exc, BaseExceptionGroup):
        exc = _first_leaf(exc)
    if isinstance(exc, JournalError) or recorder.journal.broken:
        return  # the journal itself failed: nothing more can be written to it
    code = type(exc).__name__ if isinstance(exc, ChargenError) else "internal"
    with contextlib.suppress(JournalError, LocalIOError):  # the disk may refuse this line too
        recorder.record(ev.RunFailed(code=code, message=str(exc) or type(exc).__name__))


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    """Nurseries wrap errors in groups; the user needs the first real one."""
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first
