"""``chargen-es delete``: remove a finished run's folder and remote files; its totals stay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chargen_es.cli.common import root_option
from chargen_es.cli.execute import EXEC_DEFAULTS, ExecSettings, backend_options, open_gateway


@click.command()
@click.argument("run_id")
@root_option
@backend_options
def delete(run_id: str, root: Path, **kwargs: Any) -> int:
    """Delete a finished (completed or cancelled) run: its folder, and its remote files
    while they still exist. Refused while a process works on the run. Its totals stay in
    `chargen-es stats`; a delete killed midway is finished or undone by the next command."""
    from chargen_es import engine

    settings = ExecSettings.from_kwargs({**kwargs, **EXEC_DEFAULTS})
    done = engine.delete_run(root, run_id, lambda: open_gateway(settings, root))
    elsewhere = f"; {done.elsewhere} on another backend left to expire (48 h)" if done.elsewhere else ""
    click.echo(f"run {run_id} deleted ({len(done.remote)} remote file(s) removed{elsewhere}); its totals stay in "
               "`chargen-es stats`")
    return 0


COMMANDS = [delete]
