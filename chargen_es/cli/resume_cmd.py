"""``chargen-es resume``: continue a run from its journal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from chargen_es.cli.common import root_option
from chargen_es.cli.execute import (
    ExecSettings,
    backend_options,
    drive,
    execution_options,
    named_disk_errors,
    open_gateway,
    resume_command,
)
from chargen_es.errors import ChargenError


@click.command()
@click.argument("run_id", required=False)
@root_option
@click.option("--max-cost", type=click.FloatRange(min=0), default=None, metavar="USD",
              help="A new limit for the live fallback's cost check (the run's own --max-cost otherwise).")
@backend_options
@execution_options
def resume(run_id: str | None, root: Path, max_cost: float | None = None, **kwargs: Any) -> int:
    """Continue a run from its journal (the newest unfinished one when no id is given)."""
    from chargen_es import engine  # here, not at the top: `--help` must not load the engine

    settings = replace(ExecSettings.from_kwargs(kwargs), max_cost=max_cost)
    if run_id is None:
        candidates = engine.unfinished_runs(root)
        if not candidates:  # nothing to do is not a failure, as for a run already closed
            click.echo(f"nothing to resume: no unfinished run under {engine.runs_root(root)}")
            return 0
        run_id = candidates[0]
    recorder = engine.open_run(engine.run_dir_for(root, run_id))  # the journal is read and folded once
    model = recorder.model
    if model.closed or not model.sealed:
        try:
            if model.closed:  # a crash may have come before the projections were written
                engine.sweep_leftovers(root)
                recorder.write_projections()
        finally:
            recorder.journal.close()
        if model.closed:
            click.echo(f"run {run_id} is already {model.phase}; nothing to resume")
            return 0
        raise ChargenError(f"run {run_id} stopped before its plan was journaled; start it again with "
                           f"`chargen-es run --run-id {run_id}` (the unfinished folder is set aside)")
    handed = False  # once drive() has the recorder, it closes the journal
    try:
        # the backend first: a resume that cannot reach it (no key) must not reopen the run,
        # which would then hold its keys with nothing working on it
        with open_gateway(settings, root) as gateway:
            with named_disk_errors(root, resume_command(run_id, root, settings)), \
                    engine.claiming(root) as claims:  # a failed run claims its keys again, checked first
                claims.check_resume(run_id, recorder.model.tasks)
                engine.open_for_resume(recorder)
            handed = True
            return drive(lambda: recorder, settings, root, run_id, gateway=gateway)
    finally:
        if not handed:
            recorder.journal.close()


COMMANDS = [resume]
