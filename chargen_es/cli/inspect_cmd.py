"""``chargen-es replay`` and ``chargen-es inspect``: read-only views of run journals.

Both read ``journal.jsonl`` with :func:`chargen_es.journal.read_events`, which never takes
``run.lock``, so they work on a run another process is executing; a half-written last line
is simply not shown yet. ``replay`` is the one command here that writes, and it writes only
the four projection files, atomically and byte-identically every time, under ``run.lock``
(so it never races a process that is writing them too; ``--check`` needs no lock).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from chargen_es import events as ev
from chargen_es import journal
from chargen_es.cli.common import note, root_option
from chargen_es.cli.tables import print_table
from chargen_es.engine import workspace  # the index store only: no trio, no SDK (test_startup)
from chargen_es.errors import UsageError
from chargen_es.fsio import write_files
from chargen_es.journal import JOURNAL_NAME, RunLock, read_events
from chargen_es.run_folders import run_dir_for, runs_root
from projections import (
    ENDING_TYPES,
    FILENAMES,
    Projections,
    pretty_json,
    project,
    render,
)
from projections import workspace as wsp
from projections.report import failures, report_view
from projections.state import chunk_records, state_view

# ---------------------------------------------------------------------------- output


def echo_json(obj: Any) -> None:
    click.echo(pretty_json(obj).decode(), nl=False)


def _duration(p: Projections) -> str:
    seconds = elapsed_seconds(p)
    if seconds is None:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def elapsed_seconds(p: Projections) -> float | None:
    """Seconds from run.started to the end, or to the latest event of a live run."""
    if p.run is None:
        return None
    end = p.ended.at if p.ended is not None else p.last_at
    try:
        a = datetime.fromisoformat(p.run.at.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (b - a).total_seconds()


def _usd(amount: float | None) -> str:
    return "-" if amount is None else f"${amount:.2f}"


def _cost(p: Projections) -> str:
    """The plan's estimate at the prices of the runner that ran it (live pays full price)."""
    if not p.sealed:
        return ""
    live = p.run is not None and p.run.runner == "live"
    return f"${(p.sealed.live_cost_usd if live else p.sealed.estimated_cost_usd):.2f}"


# ---------------------------------------------------------------------------- events


def _stats(stats: dict[str, int] | None) -> str:
    return " " + ",".join(f"{k}={v}" for k, v in sorted(stats.items())) if stats else ""


SUMMARIES: dict[type, Callable[[Any], str]] = {
    ev.RunStarted: lambda e: f"{e.run_id} mode={e.mode} runner={e.runner} version={e.tool_version}",
    ev.RunResumed: lambda e: f"pid {e.pid} resumed from seq {e.from_seq} (version {e.tool_version})",
    ev.TaskPlanned: lambda e: f"{e.task.key} chunk {e.task.chunk} ({e.task.reason})",
    ev.TaskSkipped: lambda e: f"{e.key} ({e.reason})",
    ev.PlanSealed: lambda e: (f"{e.tasks} tasks, {e.skipped} skipped, {e.chunks} chunks, "
                              f"estimated ${e.estimated_cost_usd:.2f}"),
    ev.UploadStarted: lambda e: f"{e.purpose} {e.path} ({e.size} bytes)",
    ev.UploadCompleted: lambda e: f"{e.purpose} {e.path} -> {e.name}{' (adopted)' if e.adopted else ''}",
    ev.UploadReused: lambda e: f"{e.path} -> {e.name} from {e.from_run}",
    ev.UploadLost: lambda e: f"{e.path or e.sha256[:12]}: {e.name} gone" + (f" ({e.reason})" if e.reason else ""),
    ev.JobQueued: lambda e: f"chunk {e.chunk} attempt {e.attempt}: queued, asking again in {e.wait_s:g}s",
    ev.ItemsReopened: lambda e: f"chunk {e.chunk}: {len(e.keys)} failed item(s) reopened"
                                + (f" ({e.reason})" if e.reason else ""),
    ev.ImagePicked: lambda e: f"picked {e.path or e.key}",
    ev.ImageRejected: lambda e: f"rejected {e.path or e.key}" + (f": {e.note}" if e.note else ""),
    ev.ImageCleared: lambda e: f"verdict cleared on {e.path or e.key}",
    ev.ChunkFallback: lambda e: (f"chunk {e.chunk}: {e.keys} item(s) go live ({e.reason}"
                                 + (", batch kept" if e.keep_batch else "") + f", ${e.live_cost_usd:.2f} at live prices)"),
    ev.FallbackPolicy: lambda e: (f"fallback {e.fallback}" + (f", deadline {e.deadline}" if e.deadline else "")
                                  + (", batch kept" if e.keep_batch else "")),
    ev.JobCancelling: lambda e: f"chunk {e.chunk}: cancelling {e.job_name}",
    ev.JobCancelConfirmed: lambda e: f"chunk {e.chunk}: {e.job_name} {e.state}",
    ev.RequestsWritten: lambda e: f"chunk {e.chunk}: {e.path} ({e.lines} lines)",
    ev.JobSubmitting: lambda e: f"chunk {e.chunk} attempt {e.attempt}: {e.display_name}",
    ev.JobSubmitted: lambda e: f"chunk {e.chunk}: {e.job_name}{' (adopted)' if e.adopted else ''}",
    ev.JobStateChanged: lambda e: f"chunk {e.chunk}: {e.job_name} {e.state}{_stats(e.stats)}",
    ev.ResultsDownloaded: lambda e: f"chunk {e.chunk}: {e.path} ({e.lines} lines, {e.bytes} bytes)",
    ev.ResultsDiscarded: lambda e: f"chunk {e.chunk}: {e.path} deleted once applied ({e.bytes} bytes)",
    ev.LineApplied: lambda e: f"{e.key}: {len(e.outputs)} output(s)",
    ev.ItemFailed: lambda e: f"{e.key}: {e.stage} {e.code}: {e.message}",
    ev.ResultIgnored: lambda e: f"{e.key}: {e.reason} (chunk {e.chunk}, line {e.line})",
    ev.CallStarted: lambda e: f"{e.key} attempt {e.attempt}",
    ev.CallFailed: lambda e: f"{e.key} attempt {e.attempt}: {e.kind} {e.status} {e.message}".rstrip(),
    ev.FilesDeleted: lambda e: f"{len(e.names)} file(s), {len(e.jobs)} job(s)",
    ev.RunPaused: lambda e: f"{e.reason} {e.message}".rstrip(),
    ev.RunCompleted: lambda e: f"ok {e.ok}, failed {e.failed}, skipped {e.skipped}",
    ev.RunFailed: lambda e: f"{e.code}: {e.message}",
    ev.RunCancelled: lambda e: f"by {e.by}, {len(e.jobs)} job(s)",
}


def summary(e: ev.Event) -> str:
    return SUMMARIES[e.__class__](e)


def type_filter(patterns: Sequence[str]) -> Callable[[ev.Event], bool] | None:
    """``--type``: exact public names (``job.submitted``) or prefixes (``job.`` / ``job``)."""
    if not patterns:
        return None
    wanted: set[type] = set()
    for pattern in patterns:
        prefix = pattern if pattern.endswith(".") else pattern + "."
        hits = {cls for name, cls in ev.BY_NAME.items() if name == pattern or name.startswith(prefix)}
        if not hits:
            raise UsageError(f"--type {pattern!r} matches no event type; known: {', '.join(ev.TYPE_NAMES)}")
        wanted |= hits
    return lambda e: e.__class__ in wanted


def event_key(e: ev.Event) -> str | None:
    """The task key an event is about, if any."""
    if isinstance(e, ev.TaskPlanned):
        return e.task.key
    return getattr(e, "key", None)


def event_filter(types: Sequence[str], task: str | None) -> Callable[[ev.Event], bool]:
    by_type = type_filter(types)

    def keep(e: ev.Event) -> bool:
        if by_type is not None and not by_type(e):
            return False
        return task is None or event_key(e) == task

    return keep


def event_record(e: ev.Event) -> dict[str, Any]:
    data: dict[str, Any] = ev.to_builtins(e)
    data["type"] = ev.type_name(e)
    return data


def print_events(events: Sequence[ev.Event], as_json: bool) -> None:
    if as_json:
        for e in events:
            click.echo(json.dumps(event_record(e), sort_keys=True, separators=(",", ":")))
        return
    print_table("", ["seq", "at", "type", "summary"], [(e.seq, e.at, ev.type_name(e), summary(e)) for e in events],
                keep=("type",), drop=("at",))


# ---------------------------------------------------------------------------- views


def run_row(row: wsp.RunRow) -> dict[str, Any]:
    """One line of the runs table, from the workspace index; an unreadable journal says why."""
    if row.error:
        return {"id": row.run_id, "name": row.name, "mode": "", "runner": "", "phase": "unreadable", "tasks": 0, "ok": 0,
                "failed": 0, "skipped": 0, "started": "", "duration": "", "cost": "", "error": row.error}
    estimate = wsp.estimate_at_runner(row)
    return {"id": row.run_id, "name": row.name, "mode": row.mode, "runner": row.runner, "phase": row.phase,
            "tasks": row.tasks,
            "ok": row.ok, "failed": row.failed, "skipped": row.skipped, "started": row.started_at,
            "duration": _hms(row_seconds(row)), "cost": "" if estimate is None else f"${estimate:.2f}",
            "error": ""}


def named(run_id: str, name: str) -> str:
    """A table's id cell: the run id, and its name when it has one of its own."""
    return f"{run_id} ({name})" if name and name != run_id else run_id


def row_seconds(row: wsp.RunRow) -> float | None:
    """Seconds from run.started to its end, or to the latest event of a run still going."""
    return _seconds(row.started_at, row.ended_at or row.last_at) if row.started_at else None


def _seconds(start: str, end: str) -> float | None:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (b - a).total_seconds()


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def show_runs(root: Path, as_json: bool) -> None:
    index = workspace.load(root, note=note).index
    rows = [run_row(index.runs[run_id]) for run_id in sorted(index.runs)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no runs under {runs_root(root)}")
        return
    print_table("runs", ["id", "mode", "phase", "tasks", "ok/failed/skipped", "started", "duration", "estimate"],
                [(named(r["id"], r["name"]), f"{r['mode']} ({r['runner']})" if r["runner"] else r["mode"], r["phase"], r["tasks"],
                  f"{r['ok']}/{r['failed']}/{r['skipped']}", r["started"], r["duration"], r["cost"])
                 for r in rows], keep=("id",), drop=("started", "duration", "tasks", "estimate"))
    for r in rows:
        if r["error"]:
            click.echo(f"{r['id']}: {r['error']}", err=True)


def show_run(p: Projections, as_json: bool) -> None:
    report = report_view(p)
    chunks = chunk_records(p)
    if as_json:
        echo_json({"state": state_view(p), "report": report})
        return
    s = report["summary"]
    usage = report["usage"]
    lines = [
        ("run", p.run_id), ("mode", f"{p.run.mode if p.run else ''} ({p.run.runner if p.run else ''})"),
        ("phase", p.phase), ("seq", p.seq), ("started", report["timing"]["started_at"]),
        ("ended", report["timing"]["ended_at"] or "-"), ("duration", _duration(p)),
        ("tasks", f"{s['planned']} planned, {s['ok']} ok, {s['failed']} failed, {s['skipped']} skipped, "
                  f"{s['pending']} pending, {s['ignored']} ignored result line(s)"),
        ("cost", f"estimated {_cost(p) or '-'}, actual {_usd(report['cost']['actual_usd'])}; "
                 f"tokens in {usage['prompt_tokens']}, out {usage['output_tokens']}"),
    ]
    d = report["delivery"]
    if d["fallbacks"] or d["duplicates"]:
        lines.append(("paths", f"{d['by_path'].get('batch', 0)} by batch, {d['by_path'].get('live', 0)} live; "
                                   f"{d['duplicates']} paid duplicate(s) {_usd(d['duplicates_usd'])}; all batch "
                                   f"{_usd(d['all_batch_usd'])}, all live {_usd(d['all_live_usd'])}"))
        if d["fallbacks"]:
            lines.append(("fallback", "; ".join(f"chunk {f['chunk']} {f['reason']}: {f['keys']} item(s) went live"
                                                f"{' (batch kept running)' if f['keep_batch'] else ''}"
                                                for f in d["fallbacks"])))
    for pair in report.get("answered_by", []):
        lines.append(("model", f"{pair['items']} item(s) asked of {pair['asked']} answered by {pair['answered']} "
                               f"(priced at {pair['priced_at']})"))
    if p.ended is not None and not isinstance(p.ended, ev.RunCompleted):
        lines.append(("ended by", f"{ev.type_name(p.ended)}: {summary(p.ended)}"))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"{k.ljust(width)}  {v}")
    if chunks:
        print_table("chunks", ["chunk", "tasks", "attempt", "job", "state", "stats", "downloaded", "ok", "failed"],
                    [(c["chunk"], c["tasks"], c["attempt"], c["job_name"], c["job_state"], _stats(c["stats"]).strip(),
                      "yes" if c["results_downloaded"] else "no", c["applied"], c["failed"]) for c in chunks],
                    keep=("job",), drop=("stats", "downloaded", "attempt"))
    items = report["items"]
    if items:
        print_table("items by path", ["key", "chunk", "via", "cost"],
                    [(i["key"], i["chunk"], i["via"], _usd(i["cost_usd"])) for i in items], keep=("key",))
    show_failures(p, as_json=False)
    if report["recommendations"]:
        click.echo("recommendations:")
        for advice in report["recommendations"]:
            click.echo(f"  - {advice['message']}")


def show_failures(p: Projections, as_json: bool) -> None:
    rows = failures(p)
    if as_json:
        echo_json(rows)
        return
    if rows:
        print_table("failures", ["key", "stage", "code", "message", "detail"],
                    [(f["key"], f["stage"], f["code"], f["message"], f["detail_path"]) for f in rows],
                    keep=("key",), drop=("stage", "detail"))
    else:
        click.echo("no failures")


# ---------------------------------------------------------------------------- commands


@click.command("replay")
@click.argument("run_id", required=False)
@click.option("--check", is_flag=True, help="Rebuild in memory; exit 1 naming each projection that differs.")
@click.option("--until", "until", type=click.IntRange(min=0), default=None, metavar="SEQ",
              help="Print the state as it was after event SEQ (JSON).")
@click.option("--workspace", "whole", is_flag=True,
              help="The workspace index (.chargen/workspace.json) over all runs instead of one run.")
@click.option("--review", "of_review", is_flag=True,
              help="The review journal's projection (.chargen/review/review.json) and the verdicts imagery.yaml "
                   "shows, instead of a run.")
@root_option
@click.pass_context
def replay(ctx: click.Context, run_id: str | None, check: bool, until: int | None, whole: bool, of_review: bool,
           root: Path) -> None:
    """Rebuild state.json, files-cache.json, report.json and plan.json from the journal."""
    if check and until is not None:
        raise UsageError("--check and --until do not combine; use one")
    if of_review:
        if run_id is not None or until is not None or whole:
            raise UsageError("--review covers the workspace's verdicts: give no RUN_ID, --until or --workspace")
        replay_review(ctx, root, check)
        return
    if whole:
        if run_id is not None or until is not None:
            raise UsageError("--workspace covers every run: give no RUN_ID and no --until")
        replay_workspace(ctx, root, check)
        return
    if run_id is None:
        raise UsageError("replay needs a RUN_ID, or --workspace for the workspace index")
    folder = run_dir_for(root, run_id)
    events = read_events(folder / JOURNAL_NAME)
    if until is not None:
        if until > len(events):
            raise UsageError(f"--until {until}: the journal of {run_id} ends at seq {len(events)}")
        echo_json(state_view(project(events[:until])))
        return
    model = project(events)
    if check:
        stale = [name for name, data in render(model).items() if _read(folder / name) != data]
        for name in stale:
            state = "missing" if not (folder / name).exists() else "differs from the journal"
            click.echo(f"{run_id}/{name}: {state}", err=True)
        if stale:
            click.echo(f"chargen-es: {len(stale)} projection(s) stale; `chargen-es replay {run_id}` rebuilds them",
                       err=True)
            ctx.exit(1)
        click.echo(f"{run_id}: {', '.join(FILENAMES)} match the journal (seq {model.seq})")
        return
    lock = RunLock(folder)
    lock.acquire()  # refuses (naming the pid) while a process works on the run: it writes these itself
    try:
        model = project(read_events(folder / JOURNAL_NAME))
        changed = write_files(folder, render(model), point="projections.write")
    finally:
        lock.release()
    wrote = [name for name, did in changed.items() if did]
    click.echo(f"{run_id}: replayed {model.seq} events; "
               + (f"wrote {', '.join(wrote)}" if wrote else "projections already up to date"))


def replay_review(ctx: click.Context, root: Path, check: bool) -> None:
    """Rebuild (or ``--check``) review.json and the verdicts imagery.yaml shows from the review journal."""
    from chargen_es.engine import review  # the review store only: no trio, no SDK

    if check:
        problems = review.check(root)
        for line in problems:
            click.echo(line, err=True)
        if problems:
            click.echo("chargen-es: the review's projections are stale; `chargen-es replay --review` rebuilds them",
                       err=True)
            ctx.exit(1)
        click.echo(f"{review.review_dir(root)}: review.json and imagery.yaml match the review journal")
        return
    with review.ReviewLog.open(root, resync=True) as log:
        click.echo(f"{review.review_dir(root)}: replayed {log.journal.last_seq} verdict event(s); "
                   f"{len(log.review.verdicts)} image(s) judged")


def replay_workspace(ctx: click.Context, root: Path, check: bool) -> None:
    """Rebuild (or ``--check``) the workspace index from every journal of the tree."""
    if check:
        problems = workspace.check(root)
        for line in problems:
            click.echo(line, err=True)
        if problems:
            click.echo("chargen-es: the workspace index is stale; `chargen-es replay --workspace` rebuilds it "
                       "(any command that reads it also refreshes it)", err=True)
            ctx.exit(1)
        index = workspace.rebuild(root).index
        click.echo(f"{workspace.index_path(root)}: matches the journals of {len(index.runs)} run(s)")
        return
    loaded = workspace.rebuild(root)
    wrote = workspace.save(root, loaded.index)
    click.echo(f"{workspace.index_path(root)}: rebuilt from {len(loaded.index.runs)} run(s), "
               f"{loaded.folded_bytes} journal bytes; " + ("written" if wrote else "already up to date"))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@click.command("inspect")
@click.argument("run_id", required=False)
@click.option("--events", "show_events", is_flag=True, help="The timeline: seq, time, type, summary.")
@click.option("--type", "types", multiple=True, metavar="T",
              help="Only events of type T (e.g. job.submitted, or a prefix like job.); repeatable.")
@click.option("--task", "task", default=None, metavar="KEY", help="Only events about task KEY.")
@click.option("--failed", "show_failed", is_flag=True, help="List the failed items.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--follow", is_flag=True, help="Tail a live run's events until it ends.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=0.5, hidden=True,
              help="Polling interval for --follow, in seconds.")
@root_option
def inspect(run_id: str | None, show_events: bool, types: tuple[str, ...], task: str | None, show_failed: bool,
            as_json: bool, follow: bool, interval: float, root: Path) -> None:
    """Show runs: no RUN_ID lists them; with one, its summary, chunks and failures."""
    if run_id is None:
        if show_events or types or task or show_failed or follow:
            raise UsageError("--events, --type, --task, --failed and --follow need a RUN_ID")
        show_runs(root, as_json)
        return
    folder = run_dir_for(root, run_id)
    keep = event_filter(types, task)
    if follow:
        for e in journal.follow(folder / JOURNAL_NAME, interval=interval,
                                until=lambda e: isinstance(e, ENDING_TYPES)):
            if keep(e):
                if as_json:
                    click.echo(json.dumps(event_record(e), sort_keys=True, separators=(",", ":")))
                else:
                    click.echo(f"{e.seq:>6}  {e.at}  {ev.type_name(e):<18} {summary(e)}")
        return
    events = read_events(folder / JOURNAL_NAME)
    if show_events or types or task:
        print_events([e for e in events if keep(e)], as_json)
        return
    model = project(events)
    if show_failed:
        show_failures(model, as_json)
        return
    show_run(model, as_json)


COMMANDS: list[click.Command] = [replay, inspect]
