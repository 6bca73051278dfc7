"""``chargen-es demo``: the sample tree generated and analysed on the embedded emulator."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from chargen_es import engine
from chargen_es.cli.execute import EXEC_DEFAULTS, ExecSettings, start_and_drive


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path),
                default=Path("chargen-demo"))
def demo(directory: Path) -> int:
    """Copy the sample tree to DIRECTORY and run generate, then analyze, on the embedded emulator."""
    from chargen_es.planner import PlanOptions, build_plan, sample_tree

    if not directory.exists():
        shutil.copytree(sample_tree(), directory)
        click.echo(f"copied the sample tree to {directory}")
    else:
        click.echo(f"using the existing tree in {directory}")
    settings = ExecSettings(use_emulator=True, base_url=None, api_version="v1beta", emulator_job_seconds=1.0,
                            **{**EXEC_DEFAULTS, "poll_interval": 0.25})
    code = 0
    for mode in ("generate", "analyze"):
        click.echo(f"\n== {mode} ==")
        rid = engine.new_run_id(engine.runs_root(directory))
        plan = build_plan(PlanOptions(root=directory, mode=mode, run_stamp=engine.run_stamp(rid)))
        if not plan.tasks:
            click.echo(f"nothing to {mode}: every task is already done ({len(plan.skipped)} skipped)")
            continue
        code = max(code, start_and_drive(directory, plan, mode=mode, runner="batch", run_id=rid, settings=settings))
    images = sorted(p for p in directory.glob("*/*/images/*") if p.suffix in (".png", ".jpg", ".webp"))
    click.echo(f"\n{len(images)} images under {directory}/*/*/images/, e.g.:")
    for path in images[:5]:
        click.echo(f"  {path}")
    click.echo(f"inspect the runs with: chargen-es inspect --root {directory}")
    return code


COMMANDS = [demo]
