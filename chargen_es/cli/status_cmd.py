"""``chargen-es status``: per entity and scene, what is done and what is missing, and why.

The answer is the planner's own skip check, run for both modes with the workspace
history, so ``status`` can never disagree with ``run``: a scene that ``status`` lists as
missing, changed, outdated or never generated is exactly a task ``run`` plans with the
same ``--scope`` / ``--only``, and ``--export FILE`` writes that list (tested to agree).

States of a scene: ``done`` (with its file and the run that made it), ``missing`` (the
recorded file is gone), ``changed`` (its bytes differ from the recorded hash),
``outdated`` (its prompt, references, model or config changed since its last picture, so
its task key is new), ``never generated``, ``another take`` (a take still to make of a
scene that has pictures from the same inputs: ``variants``). The strongest reason wins: a scene whose
inputs changed *and* whose last picture is gone is ``missing`` (edited: ``changed``), as
the planner reports it. Of an image's analysis: ``present``, ``stale``
(the image, or the analysis request, changed since), ``absent``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import click

from chargen_es.cli.common import note, root_option
from chargen_es.engine import review, workspace
from chargen_es.errors import UsageError
from chargen_es.events import TaskReason
from chargen_es.planner import Plan, PlanOptions, build_plan
from projections import pretty_json
from projections import workspace as wsp
from projections.review import ImageState, Review, scene_verdict

SCENE_STATES = ("done", "missing", "changed", "outdated", "never generated", "another take", "picked", "held")
ANALYSIS_STATES = ("present", "stale", "absent", "held")
_STAMP = "00000000T000000Z"  # output names are not shown; any valid stamp plans the same keys


def scene_state(reason: TaskReason) -> str:
    """A planned task's reason as a scene state."""
    if reason in ("missing", "changed"):
        return reason
    if reason == "new":
        return "never generated"
    if reason == "new take":  # the scene has pictures from these inputs; this take is still to make
        return "another take"
    return "outdated"  # prompt / references / model / config / inputs changed


def scene_reviews(root: Path, verdicts: Review) -> dict[str, str]:
    """Scene id -> waiting / picked / rejected, over every image the tree records of it."""
    states: dict[str, list[ImageState | None]] = {}
    for image in review.images(root):
        verdict = verdicts.of(image.key, image.sha256)
        states.setdefault(image.scene, []).append(verdict.state if verdict else None)
    return {scene: scene_verdict(found) for scene, found in states.items()}


def analysis_state(reason: TaskReason) -> str:
    return "absent" if reason in ("new", "missing") else "stale"


def _plans(root: Path, scope: str, only: tuple[str, ...], history: dict[str, Any],
           verdicts: dict[tuple[str, str], tuple[str, str]], skip_invalid: bool = False,
           strict: bool = False, held: dict[str, str] | None = None) -> tuple[Plan, Plan]:
    def plan(mode: str) -> Plan:
        return build_plan(PlanOptions(root=root, mode=mode, scope=scope, only=only, run_stamp=_STAMP,
                                      history=history, verdicts=verdicts, skip_invalid=skip_invalid, strict=strict,
                                      held=held or {}))

    return plan("generate"), plan("analyze")


def status_document(root: Path, scope: str, only: tuple[str, ...], skip_invalid: bool = False,
                    strict: bool = False) -> dict[str, Any]:
    """Everything ``status`` shows, as data (the ``--json`` form); ``skip_invalid`` leaves
    out the broken entities (each named in a warning), as ``run --skip-invalid`` does."""
    index = workspace.load(root, note=note).index
    history = wsp.history(index)
    verdicts = review.load(root)
    # the keys unfinished runs hold, as `run` plans them: held, not to do (the holder delivers them)
    gen, ana = _plans(root, scope, only, history, {k: (v.state, v.note) for k, v in verdicts.verdicts.items()},
                      skip_invalid, strict, wsp.holders(index))
    judged = scene_reviews(root, verdicts)
    scenes: list[dict[str, Any]] = []
    for s in gen.skipped:
        made = history.get(wsp.scene_id(s.key))
        # picked: settled by a pick, the detail says what would plan it; held: another run's
        told = s.reason in ("picked", "held")
        scenes.append({"entity": f"{s.entity_type}/{s.slug}", "scene": s.scene, "state": s.reason if told else "done",
                       "file": "" if told or not s.detail else f"{s.entity_type}/{s.slug}/{s.detail}",
                       "run": made["run"] if made and made["key"] == s.key else "", "key": s.key,
                       "reason": s.detail if told else "", "review": judged.get(wsp.scene_id(s.key), "")})
    for t in gen.tasks:
        scenes.append({"entity": f"{t.entity_type}/{t.slug}", "scene": t.scene, "state": scene_state(t.reason),
                       "file": "", "run": "", "key": t.key, "reason": t.reason,
                       "review": "rejected" if t.reason == "rejected" else judged.get(wsp.scene_id(t.key), "")})
    analyses: list[dict[str, Any]] = []
    for s in ana.skipped:
        held = s.reason == "held"
        analyses.append({"entity": f"{s.entity_type}/{s.slug}", "image": s.scene.removeprefix("analyze:"),
                         "state": "held" if held else "present",
                         "file": f"{s.entity_type}/{s.slug}/{s.detail}" if s.detail and not held else "",
                         "key": s.key, "reason": s.detail if held else ""})
    for t in ana.tasks:
        analyses.append({"entity": f"{t.entity_type}/{t.slug}", "image": t.input_image.path if t.input_image else "",
                         "state": analysis_state(t.reason), "file": "", "key": t.key, "reason": t.reason})
    order = {k: i for i, k in enumerate(("characters", "locations", "chapters"))}
    scenes.sort(key=lambda r: (order.get(r["entity"].split("/")[0], 9), r["entity"]))
    analyses.sort(key=lambda r: (order.get(r["entity"].split("/")[0], 9), r["entity"], r["image"]))
    scene_counts = Counter(r["state"] for r in scenes)
    analysis_counts = Counter(r["state"] for r in analyses)
    return {
        "root": str(root), "scope": scope, "only": list(only),
        "scenes": scenes, "analyses": analyses,
        "totals": {"scenes": {s: scene_counts[s] for s in SCENE_STATES},
                   "analyses": {s: analysis_counts[s] for s in ANALYSIS_STATES}},
        "warnings": gen.warnings + [w for w in ana.warnings if w not in gen.warnings],
        "todo": {"generate": [t.key for t in gen.tasks], "analyze": [t.key for t in ana.tasks]},
    }


def run_command(root: Path, scope: str, only: tuple[str, ...], mode: str, flags: tuple[str, ...] = ()) -> str:
    parts = ["chargen-es", "run", "--root", str(root)]
    if mode != "generate":
        parts += ["--mode", mode]
    if scope != "all":
        parts += ["--scope", scope]
    for slug in only:
        parts += ["--only", slug]
    return " ".join([*parts, *flags])


def export_document(doc: dict[str, Any], root: Path, scope: str, only: tuple[str, ...],
                    flags: tuple[str, ...] = ()) -> dict[str, Any]:
    """The to-do list: what ``run`` (and ``run --mode analyze``) will plan, key by key."""
    def items(rows: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
        return [{"key": r["key"], "entity": r["entity"], what: r[what], "state": r["state"], "reason": r["reason"]}
                for r in rows if r["state"] not in ("done", "present", "picked", "held")]

    return {
        "generate": {"command": run_command(root, scope, only, "generate", flags),
                     "tasks": items(doc["scenes"], "scene")},
        "analyze": {"command": run_command(root, scope, only, "analyze", flags),
                    "tasks": items(doc["analyses"], "image")},
    }


def print_status(doc: dict[str, Any]) -> None:
    entity = None
    for r in doc["scenes"]:
        if r["entity"] != entity:
            entity = r["entity"]
            click.echo(entity)
        detail = r["file"] + (f" (run {r['run']})" if r["run"] else "") if r["state"] == "done" else r["reason"]
        if r["state"] in ("never generated", "another take"):
            detail = ""
        judged = f"[{r['review']}] " if r.get("review") else ""
        click.echo(f"  {r['scene']:<28} {r['state']:<16} {judged}{detail}".rstrip())
    if doc["analyses"]:
        click.echo("analyses")
        for r in doc["analyses"]:
            detail = r["file"] if r["state"] == "present" else ("" if r["reason"] == "new" else r["reason"])
            click.echo(f"  {r['entity'] + '/' + r['image'].split('/')[-1]:<44} {r['state']:<8} {detail}".rstrip())
    for w in doc["warnings"]:
        click.echo(f"warning: {w}", err=True)
    scenes, analyses = doc["totals"]["scenes"], doc["totals"]["analyses"]
    click.echo("totals: " + ", ".join(f"{v} {k}" for k, v in scenes.items())
               + "; analyses: " + ", ".join(f"{v} {k}" for k, v in analyses.items()))


@click.command("status")
@root_option(tree="content")
@click.option("--scope", type=click.Choice(["all", "characters", "locations", "chapters"]), default="all",
              show_default=True, help="Only this entity type.")
@click.option("--only", "only", multiple=True, metavar="SLUG", help="Only this entity (repeatable).")
@click.option("--skip-invalid", is_flag=True,
              help="Leave out broken entities (a warning each) instead of stopping, as `run --skip-invalid` does.")
@click.option("--strict", is_flag=True, help="Refuse keys the YAML files hold that chargen-es does not read.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--export", "export", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Write the to-do list (what `run` will plan) to FILE as JSON.")
def status(root: Path, scope: str, only: tuple[str, ...], skip_invalid: bool, strict: bool, as_json: bool,
           export: Path | None) -> None:
    """Per entity, each scene: done, missing, changed, outdated or never generated; analyses too."""
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a folder")
    doc = status_document(root, scope, only, skip_invalid, strict)
    if export is not None:
        flags = tuple(f for f, on in (("--skip-invalid", skip_invalid), ("--strict", strict)) if on)
        todo = export_document(doc, root, scope, only, flags)
        export.write_bytes(pretty_json(todo))
        n_gen, n_ana = len(todo["generate"]["tasks"]), len(todo["analyze"]["tasks"])
        click.echo(f"wrote {export}: {n_gen} scene(s) to generate, {n_ana} image(s) to analyse; "
                   f"`{todo['generate']['command']}` plans exactly these scenes", err=as_json)
    if as_json:
        click.echo(pretty_json(doc).decode(), nl=False)
        return
    print_status(doc)


COMMANDS: list[click.Command] = [status]
