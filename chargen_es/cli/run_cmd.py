"""``chargen-es run``: plan, show, and (later) execute.

Thin on purpose: planning lives in :mod:`chargen_es.planner`, rendering in
:mod:`chargen_es.cli.plan_view`. Execution is not wired yet; every run option of
design.md section 3 is accepted so scripts can be written against the final interface.
"""

from __future__ import annotations

from pathlib import Path

import click

from chargen_es.cli.common import root_option
from chargen_es.cli.plan_view import render_plan
from chargen_es.errors import UsageError
from chargen_es.planner import PlanOptions, build_plan, utc_stamp


@click.command("run")
@root_option
@click.option("--mode", type=click.Choice(["generate", "analyze"]), default="generate", show_default=True)
@click.option("--scope", type=click.Choice(["all", "characters", "locations", "chapters"]), default="all",
              show_default=True)
@click.option("--only", "only", multiple=True, metavar="SLUG", help="Plan only this entity (repeatable).")
@click.option("--model", default=None, help="Override the model from chargen.yaml.")
@click.option("--runner", type=click.Choice(["batch", "live"]), default="batch", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--chunk-size", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--poll-interval", type=click.FloatRange(min=0), default=30.0, show_default=True)
@click.option("--upload-concurrency", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--no-cleanup", is_flag=True)
@click.option("--max-cost", type=click.FloatRange(min=0), default=None, metavar="USD",
              help="Refuse a plan estimated above this (batch prices).")
@click.option("--detach", is_flag=True)
@click.option("--force", is_flag=True, help="Plan tasks even when their outputs are intact.")
@click.option("--skip-invalid", is_flag=True, help="Drop broken entities with a warning instead of stopping.")
@click.option("--run-id", default=None)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--emulator", is_flag=True, help="Use the embedded emulator.")
@click.option("--base-url", default=None, envvar="GOOGLE_GEMINI_BASE_URL")
@click.option("--dry-run", is_flag=True, help="Show the plan; no API call, nothing written.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the plan as one JSON document.")
def run(root: Path, mode: str, scope: str, only: tuple[str, ...], model: str | None, chunk_size: int,
        max_cost: float | None, force: bool, skip_invalid: bool, dry_run: bool, as_json: bool,
        **_later: object) -> None:
    """Plan the content tree and run it through the Gemini Batch API."""
    if not dry_run:
        raise UsageError("execution is not implemented yet; use --dry-run to see the plan")
    opts = PlanOptions(root=root, mode=mode, scope=scope, only=only, model=model, force=force,
                       skip_invalid=skip_invalid, chunk_size=chunk_size, run_stamp=utc_stamp(),
                       max_cost=max_cost)
    render_plan(build_plan(opts), click.echo, as_json)


COMMANDS: list[click.Command] = [run]
