"""``chargen-es demo``: the sample tree and batch file run on the embedded emulator."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from chargen_es import run_folders
from chargen_es.cli.execute import EXEC_DEFAULTS, ExecSettings, start_and_drive
from chargen_es.cli.run_cmd import DEFAULT_CHUNK_SIZE, AnalyzeFirst


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path),
                default=Path("chargen-demo"))
def demo(directory: Path) -> int:
    """Copy the sample tree to DIRECTORY and run it on the embedded emulator: the analyses
    generation needs, the generation, the analyses of the new pictures, then the sample
    batch file."""
    from chargen_es.planner import PlanOptions, build_plan, sample_batch, sample_tree
    from chargen_es.planner.batchfile import build_batch_plan

    if not directory.exists():
        shutil.copytree(sample_tree(), directory)
        click.echo(f"copied the sample tree to {directory}")
    else:
        click.echo(f"using the existing tree in {directory}")
    settings = ExecSettings(use_emulator=True, base_url=None, api_version="v1beta", emulator_job_seconds=1.0,
                            **EXEC_DEFAULTS)  # polls follow the emulator's job time
    # analyses feed the prompts, so they come first (what `run --analyze-first` does): a
    # generation planned before them would be outdated as soon as they land
    click.echo("\n== generate, with the analyses it needs first ==")
    code = AnalyzeFirst(directory, "all", (), None, "batch", DEFAULT_CHUNK_SIZE, None, False, False,
                        None).execute(True, settings)
    # then the new pictures' own analyses (for the gallery); none of them is a consistency
    # source, so the generation stays current
    click.echo("\n== analyze the new pictures ==")
    rid = run_folders.new_run_id(run_folders.runs_root(directory))
    plan = build_plan(PlanOptions(root=directory, mode="analyze", run_stamp=run_folders.run_stamp(rid)))
    if plan.tasks:
        code = max(code, start_and_drive(directory, plan, mode="analyze", runner="batch", run_id=rid,
                                         settings=settings))
    else:
        click.echo(f"nothing to analyze: every task is already done ({len(plan.skipped)} skipped)")
    # a batch file is its own root: it gets a folder of its own beside the tree's entities
    batch_root = directory / "batch-file"
    if not batch_root.exists():
        shutil.copytree(sample_batch(), batch_root)
    batch_file = batch_root / "postcards.yaml"
    click.echo(f"\n== batch file {batch_file} ==")
    rid = run_folders.new_run_id(run_folders.runs_root(batch_root))
    plan = build_batch_plan(batch_file, PlanOptions(root=batch_root, run_stamp=run_folders.run_stamp(rid)))
    if plan.tasks:
        code = max(code, start_and_drive(batch_root, plan, mode="generate", runner="batch", run_id=rid,
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


COMMANDS = [demo]
