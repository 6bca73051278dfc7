"""``chargen-es stats``: what the runs of this tree cost and how well they went.

One row per run from the workspace index (never a pass over every journal): id, date,
mode, runner, tasks, ok, failed, skipped, duration, the estimate and the actual cost at
the runner's own prices (batch runs at the batch discount, live runs at full price),
the saving against live calls, retries and 429s, then a totals row. ``--csv FILE``
writes the same table (totals last) for a spreadsheet; ``--json`` prints it.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import click

from chargen_es.cli.common import note, root_option
from chargen_es.cli.inspect_cmd import echo_json, named, print_table, row_seconds
from chargen_es.engine import workspace
from chargen_es.errors import UsageError
from projections import workspace as wsp

COLUMNS = ("id", "name", "date", "mode", "runner", "tasks", "ok", "failed", "skipped", "duration_s",
           "estimated_usd", "actual_usd", "saving_vs_live_usd", "retries", "rate_limited_429")
_SUMMED = ("tasks", "ok", "failed", "skipped", "duration_s", "estimated_usd", "actual_usd",
           "saving_vs_live_usd", "retries", "rate_limited_429")


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: use a date like 2026-12-01") from None


def stats_row(row: wsp.RunRow) -> dict[str, Any]:
    seconds = row_seconds(row)
    return {
        "id": row.run_id, "name": row.name, "date": row.started_at[:10], "mode": row.mode, "runner": row.runner,
        "tasks": row.tasks, "ok": row.ok, "failed": row.failed, "skipped": row.skipped,
        "duration_s": None if seconds is None else round(seconds, 3),
        "estimated_usd": wsp.estimate_at_runner(row), "actual_usd": wsp.actual_cost(row),
        "saving_vs_live_usd": wsp.saving_vs_live(row), "retries": row.retries, "rate_limited_429": row.rate_limited,
    }


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {c: "" for c in COLUMNS}
    out["id"] = "TOTAL"
    out["runner"] = f"{len(rows)} run(s)"
    for c in _SUMMED:
        values = [r[c] for r in rows if r[c] is not None]
        total = sum(values) if values else None
        out[c] = round(total, 6) if isinstance(total, float) else total
    return out


def select(index: wsp.WorkspaceIndex, since: date | None, until: date | None, mode: str | None) -> list[dict[str, Any]]:
    rows = []
    for run_id in sorted(index.runs):
        row = index.runs[run_id]
        if row.error or not row.started_at:
            continue
        day = date.fromisoformat(row.started_at[:10])
        if (since and day < since) or (until and day > until) or (mode and row.mode != mode):
            continue
        rows.append(stats_row(row))
    return rows


def csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in [*rows, totals(rows)]:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return out.getvalue()


def _money(v: float | str | None) -> str:  # totals() leaves "" where nothing adds up
    return "-" if v is None or v == "" else f"${v:.4f}"


@click.command("stats")
@root_option
@click.option("--from", "since", default=None, metavar="DATE", help="Runs started on or after DATE (YYYY-MM-DD, UTC).")
@click.option("--to", "until", default=None, metavar="DATE", help="Runs started on or before DATE (YYYY-MM-DD, UTC).")
@click.option("--mode", type=click.Choice(["generate", "analyze"]), default=None, help="Only runs of this mode.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Write the table, totals last, as CSV to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stats(root: Path, since: str | None, until: str | None, mode: str | None, csv_file: Path | None,
          as_json: bool) -> None:
    """One row per run (cost at the runner's prices, saving against live, retries, 429s) and totals."""
    start, end = _day(since, "--from"), _day(until, "--to")
    if start and end and start > end:
        raise UsageError(f"--from {since} is after --to {until}")
    rows = select(workspace.load(root, note=note).index, start, end, mode)
    if csv_file is not None:
        csv_file.write_text(csv_text(rows), encoding="utf-8")
        click.echo(f"wrote {csv_file}: {len(rows)} run(s) and a totals row", err=as_json)
    if as_json:
        echo_json({"runs": rows, "totals": totals(rows)})
        return
    if not rows:
        click.echo("no runs match")
        return
    shown = [*rows, totals(rows)]
    print_table("runs", ["id", "date", "mode", "runner", "tasks", "ok", "failed", "skipped", "duration",
                         "estimate", "actual", "saving", "retries", "429s"],
                [(named(r["id"], r["name"]), r["date"], r["mode"], r["runner"], r["tasks"], r["ok"], r["failed"], r["skipped"],
                  "" if r["duration_s"] is None else f"{r['duration_s']:.1f}s", _money(r["estimated_usd"]),
                  _money(r["actual_usd"]), _money(r["saving_vs_live_usd"]), r["retries"], r["rate_limited_429"])
                 for r in shown])


COMMANDS: list[click.Command] = [stats]
