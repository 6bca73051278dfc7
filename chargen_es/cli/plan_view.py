"""How a plan looks on screen: ``chargen-es run --dry-run`` and the pre-confirm summary.

Rendering only; every number comes from the :class:`~chargen_es.planner.Plan`. The text
form lists each task (entity, scene, reason, prompt summary, output path, key), then the
summary (tasks by entity type, skips by reason, chunks, the model with its catalogue
status, estimated batch cost and the saving against live calls) and the warnings, which
name a deprecated model with its shutdown date or a model the catalogue does not know (a
shut-down model never gets here: the planner refuses it). ``--json`` prints the same as
one JSON document, so a script never has to scrape the text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from chargen_es import catalogue
from chargen_es.events import EntityType
from chargen_es.planner import Plan, prompt_consistency, prompt_review, prompt_summary

Echo = Callable[[str], Any]
_JSON = msgspec.json.Encoder()
_TYPE_ORDER: tuple[EntityType, ...] = ("characters", "locations", "chapters")


def usd(amount: float) -> str:
    """Dollars with cents, or four decimals below a dollar so small plans do not read $0.00."""
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.4f}"


def plan_document(plan: Plan, runner: str = "batch") -> dict[str, Any]:
    """The ``--json`` document: the plan itself plus the summary the text shows."""
    doc = plan.to_builtins()
    doc["summary"] = summary_data(plan, runner)
    return doc


def summary_data(plan: Plan, runner: str = "batch") -> dict[str, Any]:
    """Counts and money, as plain data (``estimated_usd``: at the prices of ``runner``)."""
    by_type = Counter(t.entity_type for t in plan.tasks)
    by_reason = Counter(t.reason for t in plan.tasks)
    skips = Counter(s.reason for s in plan.skipped)
    est = plan.estimate
    return {
        "tasks": len(plan.tasks),
        "tasks_by_entity_type": {k: by_type[k] for k in _TYPE_ORDER if by_type[k]}
        | {k: v for k, v in sorted(by_type.items()) if k not in _TYPE_ORDER},
        "tasks_by_reason": dict(sorted(by_reason.items())),
        "skipped": len(plan.skipped),
        "skipped_by_reason": dict(sorted(skips.items())),
        "chunks": plan.chunks,
        "chunk_size": plan.config.get("chunk_size"),
        "model": model_data(str(plan.config.get("model", ""))),
        "estimated_batch_usd": est.batch_usd,
        "estimated_live_usd": est.live_usd,
        "estimated_saving_usd": est.saving_usd if runner == "batch" else 0.0,
        "runner": runner,
        "estimated_usd": est.live_usd if runner == "live" else est.batch_usd,
        "held_by": plan.held_by(),
        "warnings": len(plan.warnings),
        "store": bool(plan.config.get("store", False)),
    }


def model_data(model: str) -> dict[str, Any]:
    """The plan's model as the catalogue knows it (``unknown`` when it does not)."""
    info = catalogue.lookup(model)
    if info is None:
        return {"id": model, "status": "unknown", "shutdown": None, "replacement": None, "answered_by": None,
                "catalogue_read": catalogue.READ_ON.isoformat()}
    return {"id": model, "status": info.status, "shutdown": info.shutdown.isoformat() if info.shutdown else None,
            "replacement": info.replacement, "answered_by": info.answered_by,
            "catalogue_read": catalogue.READ_ON.isoformat()}


def store_note(store: bool) -> str:
    """What Google keeps of the requests, in one line (dry run, summary, doctor).

    Google keeps Generate Content requests (batch included: prompts, images, answers) in the
    project's logs, readable in AI Studio, for 55 days by default, on paid projects created
    on or after 2026-10-26; a request's ``store`` overrides the project setting
    (https://ai.google.dev/gemini-api/docs/changelog, 2026-10-26, and .../logs-datasets,
    read 2026-12-07).
    """
    if store:
        return ("requests carry store: true: Google keeps prompts, images and answers in the project's "
                "logs (AI Studio, 55 days by default); set store: false in chargen.yaml (or --no-store) to stop it")
    return ("requests carry store: false: Google keeps none of them in the project's logs (it would by default "
            "on paid projects created since 2026-10-26, for 55 days); store: true in chargen.yaml or --store "
            "lets it keep them")


def _model_line(model: dict[str, Any]) -> str:
    text = f"{model['id']} ({model['status'].replace('_', ' ')}"
    if model.get("answered_by"):
        text += f", answered by {model['answered_by']}"
    if model["shutdown"]:
        text += f", shuts down {model['shutdown']}"
    if model["replacement"]:
        text += f", replacement {model['replacement']}"
    return text + ")"


def render_plan(plan: Plan, echo: Echo, json: bool = False, *, tasks: bool = True, runner: str = "batch",
                root: Path | None = None) -> None:
    """Write the plan through ``echo`` (``click.echo`` or a console's ``print``).

    ``tasks=False`` leaves out the per-task list (the summary shown before confirming).
    ``runner`` decides which price is the price: live calls pay full price and save nothing.
    """
    if json:
        echo(_JSON.encode(plan_document(plan, runner)).decode("utf-8"))
        return
    if tasks:
        _render_tasks(plan, echo)
    _render_summary(plan, echo, runner, root)


def _render_tasks(plan: Plan, echo: Echo) -> None:
    mode = plan.config.get("mode", "generate")
    echo(f"Plan: {len(plan.tasks)} task(s) to {mode}")
    for t in plan.tasks:
        entity = f"{t.entity_type}/{t.slug}"
        if t.kind == "analyze":
            image = t.input_image.path if t.input_image else t.output_stem
            echo(f"- {entity}  {t.scene}  [{t.reason}]")
            echo(f"    image:  {image}")
            echo(f"    output: {t.output_dir}/{t.output_stem}.analysis.json")
        else:
            title = f" ({t.title})" if t.title and t.title != t.scene else ""
            echo(f"- {entity}  {t.scene}{title}  [{t.reason}]")
            echo(f"    prompt: {prompt_summary(t.prompt)}")
            keep = prompt_consistency(t.prompt)
            if keep:
                echo(f"    keep:   {keep}")
            unlike = prompt_review(t.prompt)
            if unlike:
                echo(f"    unlike: {unlike}")
            echo(f"    output: {t.output_dir}/{t.output_stem}.<ext>")
            if t.references:
                echo(f"    refs:   {', '.join(r.path for r in t.references)}")
        safety = _safety_text(t.generation_config)
        if safety:
            echo(f"    safety: {safety}")
        echo(f"    key:    {t.key}")
    if plan.skipped:
        echo("")
        echo(f"Skipped: {len(plan.skipped)}")
        for s in plan.skipped:
            detail = f" ({s.detail})" if s.detail else ""
            echo(f"- {s.entity_type}/{s.slug}  {s.scene}  [{s.reason}]{detail}")
    echo("")


def _safety_text(config: dict[str, Any]) -> str:
    """A task's ``safetySettings`` as ``CATEGORY THRESHOLD, ...`` ("" when none is sent)."""
    return ", ".join(f"{s['category'].removeprefix('HARM_CATEGORY_')} {s['threshold']}"
                     for s in config.get("safetySettings") or ())


def _safety_summary(plan: Plan) -> str:
    """Which safety settings the plan sends, and to how many tasks."""
    kinds = Counter(_safety_text(t.generation_config) for t in plan.tasks)
    if not plan.tasks or set(kinds) == {""}:
        return "Google's standard filtering (no safetySettings sent)"
    parts = [f"{text or 'standard filtering'} ({n} task(s))" for text, n in sorted(kinds.items())]
    return "; ".join(parts)


def _render_summary(plan: Plan, echo: Echo, runner: str = "batch", root: Path | None = None) -> None:
    data = summary_data(plan, runner)
    est = plan.estimate
    by_type = ", ".join(f"{k} {v}" for k, v in data["tasks_by_entity_type"].items()) or "none"
    by_reason = ", ".join(f"{k} {v}" for k, v in data["tasks_by_reason"].items())
    skips = ", ".join(f"{k} {v}" for k, v in data["skipped_by_reason"].items()) or "none"
    echo("Summary")
    echo(f"  tasks:    {data['tasks']} ({by_type})" + (f"; {by_reason}" if by_reason else ""))
    echo(f"  skipped:  {data['skipped']} ({skips})")
    where = f" --root {root}" if root is not None else ""
    for holder, n in data["held_by"].items():
        echo(f"  held:     {n} task(s) by unfinished run {holder}, which will deliver them "
             f"(`chargen-es resume {holder}{where}` continues it)")
    if runner == "live":
        echo(f"  calls:    {data['tasks']} live call(s) at up to --workers at a time")
    else:
        echo(f"  chunks:   {data['chunks']} of up to {data['chunk_size']} task(s)")
    echo(f"  model:    {_model_line(data['model'])}")
    echo(f"  safety:   {_safety_summary(plan)}")
    if runner == "live":
        echo(f"  estimate: {usd(est.live_usd)} as live calls (full price; the Batch API would cost "
             f"{usd(est.batch_usd)}: drop --runner live to save {usd(est.saving_usd)})")
    else:
        echo(f"  estimate: {usd(est.batch_usd)} with the Batch API; {usd(est.live_usd)} as live calls "
             f"(saving {usd(est.saving_usd)})")
    for model, cost in est.by_model.items():
        priced = "" if cost.priced else " (no price known)"
        price = f"{usd(cost.live_usd)} live" if runner == "live" else f"{usd(cost.batch_usd)} batch"
        echo(f"    {model}: {cost.tasks} task(s), ~{cost.input_tokens:,} input + "
             f"~{cost.output_tokens:,} output tokens, {price}{priced}")
    echo(f"  privacy:  {store_note(bool(plan.config.get('store', False)))}")
    _render_consistency(plan, echo)
    if plan.warnings:
        echo(f"Warnings ({len(plan.warnings)})")
        for w in plan.warnings:
            echo(f"  {w}")


def _render_consistency(plan: Plan, echo: Echo) -> None:
    """Per entity: the analyses its prompts keep consistent with, and the missing or stale ones."""
    if not plan.consistency:
        return
    using = sum(1 for e in plan.consistency if any(s["status"] in ("ok", "stale", "unrecorded") for s in e["sources"]))
    echo(f"Consistency: {using} of {len(plan.consistency)} entit{'y' if len(plan.consistency) == 1 else 'ies'} "
         "with sources use analyses")
    todo = 0
    for entry in plan.consistency:
        notes = [f"{s['status']} {s['image'].removeprefix(entry['entity'] + '/')}"
                 + (f" ({s['detail']})" if s["status"] == "stale" else "")
                 for s in entry["sources"] if s["status"] in ("missing", "stale", "invalid")]
        if notes:
            todo += 1
            echo(f"  {entry['entity']}: {'; '.join(notes)}")
    if todo:
        echo("  `chargen-es run --mode generate --analyze-first` analyses the missing and stale ones first")
