"""``chargen-es run``: plan, show the summary, confirm, then execute and apply.

Thin on purpose: planning lives in :mod:`chargen_es.planner`, rendering in
:mod:`chargen_es.cli.plan_view`, execution in :mod:`chargen_es.cli.execute` and the
engine. The run id is chosen before planning because output file names carry its stamp.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import click

from chargen_es import engine
from chargen_es.cli.common import root_option
from chargen_es.cli.execute import (
    ExecSettings,
    backend_options,
    confirm_or_refuse,
    execution_options,
    start_and_drive,
)
from chargen_es.cli.plan_view import render_plan
from chargen_es.planner import PlanOptions, build_plan


@click.command("run")
@root_option
@click.option("--mode", type=click.Choice(["generate", "analyze"]), default="generate", show_default=True)
@click.option("--scope", type=click.Choice(["all", "characters", "locations", "chapters"]), default="all",
              show_default=True)
@click.option("--only", "only", multiple=True, metavar="SLUG", help="Plan only this entity (repeatable).")
@click.option("--model", default=None, help="Override the model from chargen.yaml.")
@click.option("--runner", type=click.Choice(["batch", "live"]), default="batch", show_default=True)
@click.option("--chunk-size", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--max-cost", type=click.FloatRange(min=0), default=None, metavar="USD",
              help="Refuse a plan estimated above this (batch prices).")
@click.option("--force", is_flag=True, help="Plan tasks even when their outputs are intact.")
@click.option("--skip-invalid", is_flag=True, help="Drop broken entities with a warning instead of stopping.")
@click.option("--run-id", default=None, help="Name the run (default: its UTC start time).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (required without a TTY).")
@click.option("--dry-run", is_flag=True, help="Show the plan; no API call, nothing written.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the plan as one JSON document.")
@backend_options
@execution_options
def run(root: Path, mode: str, scope: str, only: tuple[str, ...], model: str | None, runner: str,
        chunk_size: int, max_cost: float | None, force: bool, skip_invalid: bool, run_id: str | None,
        yes: bool, dry_run: bool, as_json: bool, **kwargs: Any) -> int:
    """Plan the content tree and run it through the Gemini Batch API (or live calls)."""
    settings = ExecSettings.from_kwargs(kwargs)
    rid = run_id or engine.new_run_id(engine.runs_root(root))
    opts = PlanOptions(root=root, mode=mode, scope=scope, only=only, model=model, force=force,
                       skip_invalid=skip_invalid, chunk_size=chunk_size, run_stamp=engine.run_stamp(rid),
                       max_cost=max_cost, runner=runner, today=date.today())
    plan = build_plan(opts)
    if dry_run:
        render_plan(plan, click.echo, as_json)
        return 0
    render_plan(plan, click.echo, False, tasks=False)
    if not plan.tasks:
        click.echo("nothing to do: every task is already done")
        return 0
    unfinished = engine.unfinished_runs(root)
    if unfinished and not run_id:
        click.echo(f"note: run {unfinished[0]} of this tree is unfinished; `chargen-es resume {unfinished[0]} "
                   f"--root {root}` continues it", err=True)
        if not yes and sys.stdin.isatty() and click.confirm(f"resume {unfinished[0]} instead?", default=True):
            from chargen_es.cli.resume_cmd import resume

            ctx = click.get_current_context()
            return int(ctx.invoke(resume, run_id=unfinished[0], root=root, **_settings_kwargs(settings)))
    confirm_or_refuse(yes, f"submit {len(plan.tasks)} task(s) in {plan.chunks} chunk(s)?")
    if settings.deadline_s is None and plan.config.get("deadline_s") is not None:
        settings = replace(settings, deadline_s=plan.config["deadline_s"])  # chargen.yaml's deadline:
    return start_and_drive(root, plan, mode=mode, runner=runner, run_id=rid, settings=settings)


def _settings_kwargs(settings: ExecSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in ExecSettings.__dataclass_fields__ if name != "max_cost"}


COMMANDS: list[click.Command] = [run]
