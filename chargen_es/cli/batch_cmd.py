"""``run`` execution, ``resume``, ``cancel`` and ``demo``: the commands that change a run."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import click

from chargen_es import events as ev
from chargen_es.cli.common import root_option
from chargen_es.cli.execute import (
    ExecSettings,
    backend_options,
    drive,
    execution_options,
    open_gateway,
    plan_record,
)
from chargen_es.engine import runs
from chargen_es.errors import ChargenError, GeminiError, RunLocked, RunNotFound
from chargen_es.journal import Journal, RunLock, read_events
from chargen_es.statedir import state_dir


def execute_new_run(root: Path, plan: Any, *, mode: str, runner: str, run_id: str | None, settings: ExecSettings) -> int:
    """Journal the plan as a new run and execute it (the tail of ``chargen-es run``)."""
    state_dir(root)  # .chargen/ with its .gitignore, before anything lands in it
    runs_dir = runs.runs_root(root)
    runs_dir.mkdir(parents=True, exist_ok=True)
    rid = run_id or runs.new_run_id(runs_dir)
    _set_aside_unsealed(runs_dir / rid)
    record = plan_record(plan)
    return drive(lambda: runs.start(runs_dir / rid, rid, root, mode, runner, record), settings, root)


def _set_aside_unsealed(run_dir: Path) -> None:
    """A run id is free, or holds a run that died before its plan was durable.

    Such a folder (no ``plan.sealed``: a crash inside the plan's group commit) is renamed
    aside, not reused in place, so the new journal starts at seq 1 and nothing is lost.
    """
    journal = run_dir / "journal.jsonl"
    if not journal.exists():
        return
    events = read_events(journal)
    if any(ev.type_name(e) == "plan.sealed" for e in events):
        raise ChargenError(f"run id {run_dir.name!r} is taken under {run_dir.parent}; pick another --run-id, "
                           f"or `chargen-es resume {run_dir.name}`")
    if events:
        Journal.open(run_dir).close()  # refuses if a process still works on it
        n = 1
        while (aside := run_dir.with_name(f"{run_dir.name}.unsealed-{n}")).exists():
            n += 1
        run_dir.rename(aside)


@click.command()
@click.argument("run_id", required=False)
@root_option
@backend_options
@execution_options
def resume(run_id: str | None, root: Path, **kwargs: Any) -> int:
    """Continue a run from its journal (the newest unfinished one when no id is given)."""
    settings = ExecSettings.from_kwargs(kwargs)
    if run_id is None:
        candidates = runs.unfinished_runs(root)
        if not candidates:
            raise RunNotFound(f"no unfinished run under {runs.runs_root(root)}")
        run_id = candidates[0]
    run_dir = runs.run_dir_for(root, run_id)
    view = runs.build_view(read_events(run_dir / "journal.jsonl"))
    if view.terminal in ("completed", "cancelled"):
        journal = Journal.open(run_dir)  # a crash may have come before the projections were written
        try:
            runs.write_projections(journal)
        finally:
            journal.close()
        click.echo(f"run {run_id} is already {view.terminal}; nothing to resume")
        return 0
    if not view.sealed:
        raise ChargenError(f"run {run_id} stopped before its plan was journaled; start it again with "
                           f"`chargen-es run --run-id {run_id}` (the unfinished folder is set aside)")
    return drive(lambda: runs.open_for_resume(run_dir), settings, root)


@click.command()
@click.argument("run_id")
@root_option
@backend_options
@click.option("--wait", type=float, default=30.0, show_default=True, hidden=True,
              help="Seconds to wait for a running process to pause before recording the cancel.")
def cancel(run_id: str, root: Path, wait: float, **kwargs: Any) -> int:
    """Cancel the run's remote jobs, stop a process working on it, and record the cancel.

    A live run has no remote jobs: cancelling it stops the process working on it (calls
    in flight finish and are applied) and leaves it paused, so `resume` continues it.
    """
    settings = ExecSettings.from_kwargs({**kwargs, **_EXEC_DEFAULTS})
    run_dir = runs.run_dir_for(root, run_id)
    view = runs.build_view(read_events(run_dir / "journal.jsonl"))
    if view.terminal in ("completed", "cancelled"):
        raise ChargenError(f"run {run_id} is already {view.terminal}")
    if view.runner == "live":
        _lock_after_stopping(run_dir, RunLock(run_dir).holder_pid(), wait).close()
        click.echo(f"run {run_id} is paused; `chargen-es resume {run_id} --root {root}` continues it")
        return 0
    journal = _lock_after_stopping(run_dir, RunLock(run_dir).holder_pid(), wait)
    try:
        # under the lock nothing new can be submitted; an intent whose create may have
        # landed is found by listing this run's display names, not only by the journal
        prefix = f"chargen-es:{run_id}:"
        with open_gateway(settings, root) as gateway:
            remote = [j for j in gateway.list_batches() if j.display_name.startswith(prefix) and not j.done]
            cancelled = []
            for job in remote:
                try:
                    gateway.cancel_batch(job.name)
                    cancelled.append(job.name)
                except GeminiError as exc:
                    click.echo(f"warning: could not cancel {job.name}: {exc}", err=True)
        journal.append(ev.RunCancelled(by=f"user (pid {os.getpid()})", jobs=tuple(cancelled)))
        runs.write_projections(journal)
    finally:
        journal.close()
    click.echo(f"run {run_id} cancelled ({len(cancelled)} remote job(s) cancelled); uploads expire on their own")
    return 0


def _lock_after_stopping(run_dir: Path, holder: int | None, wait: float) -> Journal:
    """Take the run's journal, asking a process that holds it to pause first (SIGTERM)."""
    try:
        return Journal.open(run_dir)
    except RunLocked:
        if holder is None:
            raise
    os.kill(holder, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while True:
        try:
            return Journal.open(run_dir)
        except RunLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


_EXEC_DEFAULTS: dict[str, Any] = {
    "workers": 5, "poll_interval": 30.0, "upload_concurrency": 5, "no_cleanup": False, "detach": False,
    "backoff_base": 1.0, "reuse_margin_hours": 47.0,
}


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path),
                default=Path("chargen-demo"))
def demo(directory: Path) -> int:
    """Copy the sample tree to DIRECTORY and run generate, then analyze, then the sample
    batch file, on the embedded emulator."""
    from chargen_es.planner import PlanOptions, build_plan, sample_batch, sample_tree
    from chargen_es.planner.batchfile import build_batch_plan

    if not directory.exists():
        shutil.copytree(sample_tree(), directory)
        click.echo(f"copied the sample tree to {directory}")
    else:
        click.echo(f"using the existing tree in {directory}")
    settings = ExecSettings(use_emulator=True, base_url=None, api_version="v1beta", emulator_job_seconds=1.0,
                            **{**_EXEC_DEFAULTS, "poll_interval": 0.25})
    code = 0
    for mode in ("generate", "analyze"):
        click.echo(f"\n== {mode} ==")
        rid = runs.new_run_id(runs.runs_root(directory))
        plan = build_plan(PlanOptions(root=directory, mode=mode, run_stamp=runs.run_stamp(rid)))
        if not plan.tasks:
            click.echo(f"nothing to {mode}: every task is already done ({len(plan.skipped)} skipped)")
            continue
        code = max(code, execute_new_run(directory, plan, mode=mode, runner="batch", run_id=rid, settings=settings))
    # a batch file is its own root: it gets a folder of its own beside the tree's entities
    batch_root = directory / "batch-file"
    if not batch_root.exists():
        shutil.copytree(sample_batch(), batch_root)
    batch_file = batch_root / "postcards.yaml"
    click.echo(f"\n== batch file {batch_file} ==")
    rid = runs.new_run_id(runs.runs_root(batch_root))
    plan = build_batch_plan(batch_file, PlanOptions(root=batch_root, run_stamp=runs.run_stamp(rid)))
    if plan.tasks:
        code = max(code, execute_new_run(batch_root, plan, mode="generate", runner="batch", run_id=rid,
                                         settings=settings))
    else:
        click.echo(f"nothing to generate: every item is already done ({len(plan.skipped)} skipped)")
    images = sorted(p for p in directory.glob("*/*/images/*") if p.suffix in (".png", ".jpg", ".webp"))
    click.echo(f"\n{len(images)} images under {directory}/*/*/images/, e.g.:")
    for path in images[:5]:
        click.echo(f"  {path}")
    click.echo(f"the batch file's images are in {batch_root / 'postcards'}/")
    click.echo(f"inspect the runs with: chargen-es inspect --root {directory}  (the batch file's: --root {batch_root})")
    click.echo(f"the two ways in: `chargen-es menu --root {directory}`, "
               f"`chargen-es run --batch-file {batch_file} --emulator`")
    return code


COMMANDS = [resume, cancel, demo]
