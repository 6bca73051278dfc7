"""``chargen-es cancel``: cancel a run's remote jobs, stop its process, record the cancel."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import click

from chargen_es import events as ev
from chargen_es import run_folders
from chargen_es.cli.common import root_option
from chargen_es.cli.execute import EXEC_DEFAULTS, ExecSettings, backend_options, open_gateway
from chargen_es.errors import ChargenError, GeminiError, RunLocked
from chargen_es.fsio import write_files
from chargen_es.journal import Journal, RunLock, read_events
from projections import project, render


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
    settings = ExecSettings.from_kwargs({**kwargs, **EXEC_DEFAULTS})
    run_dir = run_folders.run_dir_for(root, run_id)
    model = project(read_events(run_dir / "journal.jsonl"))
    if model.closed:
        raise ChargenError(f"run {run_id} is already {model.phase}")
    if model.runner == "live":
        _lock_after_stopping(run_dir, RunLock(run_dir).holder_pid(), wait).close()
        click.echo(f"run {run_id} is paused; `chargen-es resume {run_id} --root {root}` continues it")
        return 0
    run_folders.request_cancel(run_dir)
    try:
        journal = _lock_after_stopping(run_dir, RunLock(run_dir).holder_pid(), wait)
    except BaseException:
        run_folders.clear_cancel(run_dir)
        raise
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
        write_files(run_dir, render(project(journal.events)), point="projections.write")
    finally:
        journal.close()
        run_folders.clear_cancel(run_dir)
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


COMMANDS = [cancel]
