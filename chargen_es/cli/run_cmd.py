"""``chargen-es run``: plan, show the summary, confirm, then execute and apply.

Thin on purpose: planning lives in :mod:`chargen_es.planner`, rendering in
:mod:`chargen_es.cli.plan_view`, execution in :mod:`chargen_es.cli.execute` and the
engine. The run id is chosen before planning because output file names carry its stamp.

``--analyze-first`` (generate mode) is two runs, each journaled and resumable on its own:
run 1 analyses the consistency sources whose analyses are missing, stale or invalid
(``PlanOptions.consistency_only``), run 2 is planned only after run 1 has applied, so its
prompts carry the fresh analyses. The output names both runs and how to resume each.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, get_args

import click
from click.core import ParameterSource

from chargen_es import events as ev
from chargen_es import run_folders as runs
from chargen_es.cli.common import note, require_tree, root_option
from chargen_es.cli.execute import (
    ExecSettings,
    backend_options,
    confirm_or_refuse,
    execution_options,
    start_and_drive,
    taken_id,
)
from chargen_es.cli.plan_view import plan_document, render_plan
from chargen_es.engine import review, workspace  # the index and review stores only: no trio, no SDK
from chargen_es.errors import ChargenError, UsageError
from chargen_es.planner import Plan, PlanOptions, build_plan
from chargen_es.planner.batchfile import batch_root, build_batch_plan
from chargen_es.planner.limits import normalise_size, size_problem
from projections import workspace as wsp

DEFAULT_CHUNK_SIZE = 500
TODO_NOTE = ("these are exactly the scenes `chargen-es status` lists as missing, changed, outdated or never "
             "generated (`status --export FILE` writes the list)")


def plural(n: int, word: str) -> str:
    from chargen_es.cli.progress_view import plural as _plural  # it subclasses the engine's Progress

    return _plural(n, word)


@click.command("run")
@root_option(tree="body")
@click.option("--mode", type=click.Choice(get_args(ev.Mode)), default="generate", show_default=True,
              help="generate: new pictures from image_ideas.yaml; analyze: structured notes on the pictures in "
                   "images/ and the consistency sources.")
@click.option("--scope", type=click.Choice(["all", "characters", "locations", "chapters"]), default="all",
              show_default=True, help="Plan only this entity type.")
@click.option("--only", "only", multiple=True, metavar="GLOB",
              help="Plan only entities whose slug or type/slug matches this glob, e.g. 'a*' (repeatable).")
@click.option("--batch-file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Plan the items of this batch file (YAML or JSON) instead of the content tree; "
                   "its folder is the root.")
@click.option("--model", default=None, help="Override the model from chargen.yaml.")
@click.option("--runner", type=click.Choice(get_args(ev.Runner)), default="batch", show_default=True,
              help="batch: Gemini Batch API jobs at half the price, results within 48 h; live: direct calls now, "
                   "at full price (--workers).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=DEFAULT_CHUNK_SIZE, show_default=True,
              help="Tasks per batch job (one request file each).")
@click.option("--max-cost", type=click.FloatRange(min=0), default=None, metavar="USD",
              help="Refuse a plan estimated above this (batch prices).")
@click.option("--force", is_flag=True, help="Plan tasks even when their outputs are intact.")
@click.option("--skip-invalid", is_flag=True, help="Drop broken entities with a warning instead of stopping.")
@click.option("--strict", is_flag=True,
              help="Refuse any key the YAML files hold that chargen-es does not read (by default only near misses "
                   "of known keys are refused; others are warnings).")
@click.option("--run-id", default=None, callback=lambda ctx, param, value: value and runs.check_run_id(value),
              help="Name the run: letters, digits, '.', '_', '-' (default: its UTC start time).")
@click.option("--name", default=None, callback=lambda ctx, param, value: None if value is None else runs.check_run_id(value, "--name"),
              help="Name the batch (shown by inspect, stats, the dashboard and the API; a batch file's `name:` "
                   "by default). The run id stays --run-id's.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (required without a TTY).")
@click.option("--dry-run", is_flag=True, help="Show the plan; no API call, nothing written.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the plan as one JSON document.")
@click.option("--image-size", default=None, metavar="SIZE",
              help="imageSize of every image request (512, 1K, 2K, 4K; as the model allows), over chargen.yaml's, "
                   "an entity's and a scene's image_size.")
@click.option("--store/--no-store", default=None,
              help="Let Google keep the requests in the project's logs (AI Studio), or not; "
                   "default: chargen.yaml's store:, else --no-store.")
@click.option("--variants", type=click.IntRange(min=1), default=None, metavar="N",
              help="Takes of every scene (over any variants: in the files); lowering it forgets no take made.")
@click.option("--refresh", "refresh", type=click.Choice(["picked"]), default=None,
              help="picked: also plan the scenes a take was picked for whose inputs changed since "
                   "(a picked scene is otherwise never planned again).")
@click.option("--preview", "preview", type=click.IntRange(min=1), default=None, metavar="N",
              help="A first look: run N tasks live (spread over entities), then stop; `resume` sends the rest "
                   "as batch.")
@click.option("--analyze-first", is_flag=True,
              help="With --mode generate: first analyse the consistency sources whose analyses are missing or "
                   "stale (a run of its own), then generate with them.")
@backend_options
@execution_options
def run(root: Path, mode: ev.Mode, scope: str, only: tuple[str, ...], batch_file: Path | None, model: str | None,
        runner: ev.Runner, chunk_size: int, max_cost: float | None, force: bool, skip_invalid: bool, strict: bool,
        run_id: str | None, name: str | None, yes: bool, dry_run: bool, as_json: bool, image_size: str | None,
        store: bool | None, analyze_first: bool, variants: int | None, refresh: str | None, preview: int | None,
        **kwargs: Any) -> int:
    """Plan the content tree (or a batch file) and run it through the Gemini Batch API (or live calls)."""
    settings = ExecSettings.from_kwargs(kwargs)
    if image_size is not None:
        size = normalise_size(image_size)
        if size is None:
            raise UsageError(f"--image-size {image_size}: {size_problem(image_size)}")
        image_size = size
    if batch_file is None:
        require_tree(root, runs_count=False)  # runs alone (a batch file's folder) plan nothing
    if preview is not None and (runner != "batch" or analyze_first or settings.detach):
        raise UsageError("--preview goes with the batch runner (its rest is sent as batch), without "
                         "--analyze-first or --detach")
    if analyze_first:
        if batch_file is not None:
            raise UsageError("--analyze-first does not apply with --batch-file (a batch file has no "
                             "consistency sources)")
        if mode != "generate":
            raise UsageError("--analyze-first goes with --mode generate")
        if name:
            raise UsageError("--name does not apply with --analyze-first (it makes two runs); name each with "
                             "its own run")
        if refresh:
            raise UsageError("--refresh does not apply with --analyze-first; run the analyses first, then "
                             "`run --refresh picked`")
        if settings.detach:
            raise UsageError("--analyze-first cannot --detach: the generation is planned from the analyses' results")
        first = AnalyzeFirst(root, scope, only, model, runner, chunk_size, max_cost, force, skip_invalid, run_id,
                             variants, store, image_size, strict=strict)
        return first.dry_run(as_json) if dry_run else first.execute(yes, settings)
    if batch_file is not None:
        root = _batch_root(batch_file, root)
    rid = run_id or runs.new_run_id(runs.runs_root(root))
    index = workspace.load(root, write=not dry_run, note=note).index  # history, holders, unfinished runs
    if run_id is not None:
        refuse_taken(root, rid, index)
    opts = plan_options(root, rid, index, mode=mode, scope=scope, only=only, model=model, force=force,
                        skip_invalid=skip_invalid, strict=strict, chunk_size=chunk_size, max_cost=max_cost,
                        runner=runner, variants=variants, refresh_picked=refresh == "picked", store=store,
                        image_size=image_size)

    def planned(held: Mapping[str, str], run: str) -> Plan:
        """The plan without the keys other unfinished runs hold; made again under the claims
        lock when the workspace moved on since (``start_and_drive``)."""
        with_held = replace(opts, held=dict(held), run_stamp=runs.run_stamp(run))
        made = build_batch_plan(batch_file, with_held) if batch_file is not None else build_plan(with_held)
        if name:
            made.config["name"] = name  # in run.started's config: the journal names the run
        if preview is not None:
            made.config["preview"] = preview_keys(made.tasks, preview)
        return made

    plan = planned(wsp.holders(index), rid)
    if batch_file is not None:
        mode = plan.config["mode"]
    todo_note = batch_file is None  # status lists the content tree's scenes, not a batch file's items
    if dry_run:
        render_plan(plan, click.echo, as_json, runner=runner, root=root)
        if todo_note and not as_json:
            click.echo(TODO_NOTE)
        return 0
    render_plan(plan, click.echo, False, tasks=False, runner=runner, root=root)
    if todo_note:
        click.echo(TODO_NOTE)
    if not plan.tasks:
        click.echo(nothing_to_do(plan, root))
        return 0
    named = set(plan.held_by())  # already named in the summary's held line
    unfinished = [r for r in wsp.unfinished(index) if r not in named]
    if unfinished and not run_id:
        click.echo(f"note: run {unfinished[0]} of this tree is unfinished; `chargen-es resume {unfinished[0]} "
                   f"--root {root}` continues it", err=True)
        if not yes and sys.stdin.isatty() and click.confirm(f"resume {unfinished[0]} instead?", default=False):
            from chargen_es.cli.resume_cmd import resume

            ctx = click.get_current_context()
            return int(ctx.invoke(resume, run_id=unfinished[0], root=root, **_settings_kwargs(settings)))
    confirm_or_refuse(yes, f"submit {plural(len(plan.tasks), 'task')} in {plural(plan.chunks, 'chunk')}?")
    if settings.deadline_s is None and plan.config.get("deadline_s") is not None:
        settings = replace(settings, deadline_s=plan.config["deadline_s"])  # chargen.yaml's deadline:
    return start_and_drive(root, plan, mode=mode, runner=runner, run_id=rid, settings=settings, replan=planned,
                           id_given=run_id is not None, seen=wsp.marks(index))


def plan_options(root: Path, rid: str, index: wsp.WorkspaceIndex, **chosen: Any) -> PlanOptions:
    """A plan's options: what the user chose (``chosen``; PlanOptions' defaults, which are the
    flags' defaults, for the rest) and what the workspace says: what each scene was last
    made from, the keys other unfinished runs hold, the review's verdicts, today and the
    run's stamp."""
    return PlanOptions(root=root, run_stamp=runs.run_stamp(rid), today=date.today(), history=wsp.history(index),
                       held=dict(wsp.holders(index)), verdicts=review.verdict_map(root), **chosen)


def batch_file_plan(batch_file: Path) -> dict[str, Any]:
    """``run --batch-file FILE --dry-run --json``, as data: the batch service's dry run.

    The dashboard's batch API and the MCP server plan in their own process through this
    (the cli hands it to them: the dashboard never imports the planner), so a plan answers
    in milliseconds rather than after a child interpreter's start, and is the very plan
    ``run`` makes, with one difference a long-lived server has: the model catalogue (and a
    user's catalogue file) is the one this process read when it started, where each run
    reads it anew. Raises ``BatchFileInvalid`` (every problem with its line) or another
    ``ChargenError``; writes nothing."""
    root = batch_root(batch_file)
    index = workspace.load(root, write=False, note=note).index
    rid = runs.new_run_id(runs.runs_root(root))
    return plan_document(build_batch_plan(batch_file, plan_options(root, rid, index)))


def refuse_taken(root: Path, rid: str, index: wsp.WorkspaceIndex) -> None:
    """A ``--run-id`` another run has (or a deleted one had) is refused before planning and
    confirming, as the batch API refuses a taken name; ``resume`` is offered only when it
    can continue that run."""
    taken = taken_id(runs.runs_root(root) / rid)
    if taken:
        resume = f", or `chargen-es resume {rid} --root {root}`" if rid in wsp.unfinished(index) else ""
        raise ChargenError(f"{taken}; pick another --run-id{resume}")


def nothing_to_do(plan: Plan, root: Path) -> str:
    """Why a plan has no task: done, or held by unfinished runs (named, with their resume)."""
    holders = list(plan.held_by())
    if not holders:
        return "nothing to do: every task is already done"
    return (f"nothing to do here: the remaining tasks are held by unfinished run {', '.join(holders)}, which will "
            f"deliver them; `chargen-es resume {holders[0]} --root {root}` continues it")


def preview_keys(tasks: list[ev.Task], n: int) -> list[str]:
    """``--preview N``: N task keys spread over entities (one per entity in plan order, then
    round again) and, within an entity, over its scenes (a scene's second take only after
    every scene's first), so the first look shows as much of the plan as it can."""
    by_entity: dict[tuple[str, str], dict[str, list[str]]] = {}
    for t in tasks:
        by_entity.setdefault((t.entity_type, t.slug), {}).setdefault(t.scene, []).append(t.key)
    queues = [_interleaved(list(scenes.values())) for scenes in by_entity.values()]
    return _interleaved(queues)[:n]


def _interleaved(queues: list[list[str]]) -> list[str]:
    """The first of each queue, then the second of each, and so on."""
    longest = max((len(q) for q in queues), default=0)
    return [q[i] for i in range(longest) for q in queues if i < len(q)]


def _batch_root(batch_file: Path, root: Path) -> Path:
    """A batch file's folder is its run's root; options that select from a tree do not apply."""
    ctx = click.get_current_context()
    for name, flag in (("scope", "--scope"), ("only", "--only"), ("skip_invalid", "--skip-invalid"),
                       ("mode", "--mode")):
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None):
            raise UsageError(f"{flag} does not apply with --batch-file (the file lists its items and its form)")
    if not batch_file.is_file():
        raise UsageError(f"--batch-file {batch_file}: no such file")
    folder = batch_root(batch_file)
    if ctx.get_parameter_source("root") not in (ParameterSource.DEFAULT, None) and root.resolve() != folder:
        raise UsageError(f"--batch-file {batch_file}: its folder {folder} is the run's root; "
                         f"--root {root} names another folder")
    return folder if ctx.get_parameter_source("root") in (ParameterSource.DEFAULT, None) else root


def _settings_kwargs(settings: ExecSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in ExecSettings.__dataclass_fields__ if name != "max_cost"}


class AnalyzeFirst:
    """``run --mode generate --analyze-first``: the analyses run, then the generation run."""

    def __init__(self, root: Path, scope: str, only: tuple[str, ...], model: str | None, runner: ev.Runner,
                 chunk_size: int, max_cost: float | None, force: bool, skip_invalid: bool,
                 run_id: str | None, variants: int | None = None, store: bool | None = None,
                 image_size: str | None = None, *, strict: bool = False) -> None:
        self.root, self.runner, self.model, self.force, self.run_id = root, runner, model, force, run_id
        self.variants = variants
        self.common: dict[str, Any] = {"root": root, "scope": scope, "only": only, "skip_invalid": skip_invalid,
                                       "strict": strict,
                                       "chunk_size": chunk_size, "max_cost": max_cost, "runner": runner,
                                       "today": date.today(), "verdicts": review.verdict_map(root), "store": store,
                                       "image_size": image_size}

    def analyses(self, rid: str, held: Mapping[str, str] | None = None) -> Plan:
        # the analysis model comes from chargen.yaml: --model names the generation's
        if held is None:
            held = wsp.holders(workspace.load(self.root, write=False, note=note).index)
        return build_plan(PlanOptions(mode="analyze", consistency_only=True, run_stamp=runs.run_stamp(rid),
                                      held=dict(held), **self.common))

    def generation(self, rid: str, *, write: bool = True, held: Mapping[str, str] | None = None) -> Plan:
        # the history is read after the analyses' run, which the workspace index then includes
        index = workspace.load(self.root, write=write, note=note).index
        return build_plan(PlanOptions(mode="generate", model=self.model, force=self.force,
                                      run_stamp=runs.run_stamp(rid), history=wsp.history(index),
                                      variants=self.variants,
                                      held=dict(wsp.holders(index) if held is None else held), **self.common))

    def ids(self) -> tuple[str, str]:
        """The analyses' run id and the generation's (``--run-id X``: ``X-analyses`` and ``X``)."""
        if self.run_id:
            return f"{self.run_id}-analyses", self.run_id
        first = runs.new_run_id(runs.runs_root(self.root))
        return first, first  # the generation's id is drawn again once the first run exists

    def dry_run(self, as_json: bool) -> int:
        first_id, second_id = self.ids()
        first, second = self.analyses(first_id), self.generation(second_id, write=False)
        if as_json:
            click.echo(json.dumps({"analyses": plan_document(first), "generation": plan_document(second)},
                                  ensure_ascii=False))
            return 0
        click.echo("== run 1 of 2: the analyses the generation needs first (missing or stale) ==")
        render_plan(first, click.echo)
        click.echo("== run 2 of 2: the generation, as the analyses on disk stand now "
                   "(run 1 changes the prompts of the entities it analyses) ==")
        render_plan(second, click.echo)
        return 0

    def execute(self, yes: bool, settings: ExecSettings) -> int:
        root = self.root
        first_id, _ = self.ids()
        index = workspace.load(root, note=note).index
        if self.run_id is not None:  # each id is refused before its own run is planned and confirmed
            refuse_taken(root, self.run_id, index)
        seen = wsp.marks(index)
        first = self.analyses(first_id, wsp.holders(index))
        code = 0
        if first.tasks:
            if self.run_id is not None:
                refuse_taken(root, first_id, index)
            click.echo(f"== run 1 of 2: analyses, run {first_id} ==")
            click.echo(f"   if it stops: `chargen-es resume {first_id} --root {root}`, then this command again "
                       "for the generation")
            render_plan(first, click.echo, False, tasks=False, runner=self.runner, root=root)
            confirm_or_refuse(yes, f"analyse {plural(len(first.tasks), 'image')} first?")
            code = start_and_drive(root, first, mode="analyze", runner=self.runner, run_id=first_id,
                                   settings=settings, replan=lambda held, run: self.analyses(run, held),
                                   id_given=self.run_id is not None, seen=seen)
            if code == 1:  # report_outcome: the analyses' run was cancelled
                click.echo(f"   run 1 was cancelled: no generation follows; `chargen-es run --root {root}` plans it")
                return code
            if code:
                click.echo("   some analyses failed (see the report): their entities are generated without them")
        else:
            click.echo("== run 1 of 2: no analyses to do first (none missing or stale) ==")
        second_id = self.run_id or runs.new_run_id(runs.runs_root(root))
        seen = wsp.marks(workspace.load(root, write=False).index)
        second = self.generation(second_id)
        click.echo(f"== run 2 of 2: generation, run {second_id} ==")
        click.echo(f"   if it stops: `chargen-es resume {second_id} --root {root}`")
        render_plan(second, click.echo, False, tasks=False, runner=self.runner, root=root)
        if not second.tasks:
            click.echo(nothing_to_do(second, root))
            return code
        confirm_or_refuse(yes, f"submit {plural(len(second.tasks), 'task')} in {plural(second.chunks, 'chunk')}?")
        return max(code, start_and_drive(root, second, mode="generate", runner=self.runner, run_id=second_id,
                                         settings=settings,
                                         replan=lambda held, run: self.generation(run, held=held),
                                         id_given=self.run_id is not None, seen=seen))


COMMANDS: list[click.Command] = [run]
