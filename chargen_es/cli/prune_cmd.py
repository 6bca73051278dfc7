"""``chargen-es prune``: free the disk finished runs still hold.

Removes results files, request files and ``failed/`` details of closed runs (completed or
cancelled), keeping journals and projections, so ``replay``, ``inspect`` and ``stats``
answer as before (the rules and why no kill loses anything: ``chargen_es.engine.prune``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from chargen_es.cli.common import human_bytes, root_option
from chargen_es.cli.execute import duration_option
from chargen_es.engine import prune as pruning


@click.command()
@root_option
@click.option("--older-than", "older_than_s", default="0s", metavar="DURATION", callback=duration_option,
              show_default=True, help="Only runs that ended at least this long ago (30d, 12h).")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def prune(root: Path, older_than_s: float, dry_run: bool) -> int:
    """Remove what finished runs no longer need (results, requests, failed/ details)."""
    runs = [r for r in pruning.finished_runs(root, older_than_s, datetime.now(UTC)) if not r.empty]
    if not runs:
        click.echo("nothing to prune: no finished run holds results, requests or failure details")
        return 0
    total = 0
    for run in runs:
        if dry_run:
            click.echo(f"{run.run_id} (ended {run.ended_at}): would remove {len(run.files)} file(s), "
                       f"{human_bytes(run.bytes)}")
            for path in run.files:
                click.echo(f"  {path.relative_to(run.run_dir).as_posix()}")
            total += run.bytes
            continue
        freed = pruning.prune(run)
        total += freed
        click.echo(f"{run.run_id}: removed {len(run.files)} file(s), {human_bytes(freed)}")
    verb = "would free" if dry_run else "freed"
    click.echo(f"{verb} {human_bytes(total)} in {len(runs)} run(s); journals and projections are kept")
    return 0


COMMANDS = [prune]
