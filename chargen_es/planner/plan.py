"""Building the plan: options in, validated deterministic task list out.

:func:`build_plan` reads the whole selected tree first (every problem is collected),
then turns each valid entity into tasks in a fixed order (characters, locations,
chapters; slugs sorted; scenes in file order; images by name, then the entity's
consistency sources not among them), drops the ones ``imagery.yaml`` proves done,
assigns chunks and prices the result. When generating it also reads each entity's
consistency analyses (:mod:`.consistency`): they enter the prompts and keys, and the
plan reports every source's state. It never writes and never calls the network, which
is what makes ``run --dry-run`` honest.
"""

from __future__ import annotations

import gc
import hashlib
import os
import posixpath
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec

from chargen_es import analysis, catalogue
from chargen_es.errors import ContentError, CostLimitExceeded, UnknownKey, UsageError, ValidationFailed
from chargen_es.events import EntityType, FileRef, Mode, Runner, SkipReason, Task, TaskReason
from chargen_es.imagery import Record, verdict
from chargen_es.planner import consistency, keys, limits, pricing, prompts, rounds
from chargen_es.planner.consistency import EntityConsistency
from chargen_es.planner.files import FileIndex, PathProblem, mime_for
from chargen_es.planner.pricing import Estimate
from chargen_es.planner.tree import (
    ENTITY_FILES,
    IDEAS_FILE,
    IMAGES_DIR,
    WORKSPACE_FILE,
    Entity,
    list_images,
    load_entity,
    load_workspace,
    refused_images,
    select,
)
from chargen_es.planner.validate import EntityDoc, SceneSpec, Workspace, safety_settings, variants_problem

SCOPES = ("all", "characters", "locations", "chapters")
MODES = ("generate", "analyze")

ANALYSIS_SCHEMA: dict[str, Any] = analysis.SCHEMA
ANALYSIS_CHANGED: TaskReason = "analysis changed"  # the reason a scene is planned again because of a new analysis
REJECTED: TaskReason = "rejected"  # a scene planned again after every take of its last round was rejected
NEW_TAKE: TaskReason = "new take"  # a take added to a scene whose other takes are made from the same inputs
# the reasons of a task with no record of its key (``_Builder._why_new``)
_NO_RECORD: frozenset[TaskReason] = frozenset({"new", "inputs changed", "prompt changed", "references changed", "model changed",
                        "config changed"})


def prompt_digest(prompt: str) -> str:
    """How the workspace history remembers a prompt (first 16 hex of its SHA-256)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def changed_input(history: Mapping[str, Mapping[str, Any]], key: str,
                  inputs: tuple[str, list[str], str, dict[str, Any]]) -> TaskReason | None:
    """The input (references, model, prompt, config) that changed since the scene's last
    result in the workspace history, or None when the history has no other key for it.

    References come first: the prompt is partly derived from them (a consistency clause
    is compiled from the analyses of an entity's images), so a repainted reference that
    also changed the clause is named by its cause, not by the prompt.
    """
    scene_id = key.partition("@")[0]
    prior = history.get(scene_id)
    if prior is None or prior.get("key") == key:
        return None
    prompt, refs, model, _config = inputs
    if list(prior.get("references") or ()) != refs:
        return "image changed" if "/analyze:" in scene_id else "references changed"
    if prior.get("model") != model:
        return "model changed"
    if prior.get("prompt_sha") != prompt_digest(prompt):
        return "prompt changed"
    return "config changed"


def with_safety(config: dict[str, Any], *layers: dict[str, str]) -> None:
    """Add the ``safetySettings`` of ``layers`` (chargen.yaml's, then the entity's or batch
    file's) to a task's request config, which the task key hashes, so a changed setting is
    a new key. Nothing when none is set: old keys stay as they were, and Google applies its
    standard filtering. The engine sends it at the request's top level
    (``engine.staging.request_line``), where the API wants it."""
    settings = safety_settings(*layers)
    if settings:
        config["safetySettings"] = settings


def utc_stamp(now: datetime | None = None) -> str:
    """The run stamp used in output names: ``20251219T120000Z``."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class PlanOptions:
    """Everything that decides a plan; the cli maps its options onto these fields."""

    root: Path
    mode: Mode | str = "generate"  # checked by _check_options: library callers pass any str
    scope: str = "all"
    only: tuple[str, ...] = ()
    model: str | None = None
    force: bool = False
    skip_invalid: bool = False
    chunk_size: int = 500
    run_stamp: str = field(default_factory=utc_stamp)
    max_cost: float | None = None
    runner: Runner = "batch"  # which price --max-cost is checked against: batch (50 %) or live
    # What each scene was last made from (``character/ada/map-room`` -> ``key``, ``prompt_sha``,
    # ``references``, ``model``, ``config``), from the workspace index: it turns a bare
    # ``new`` into ``prompt changed`` / ``references changed`` / ``model changed`` / ...
    history: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # analyze mode: only the consistency sources whose analyses are missing, stale or
    # invalid (the first run of ``run --mode generate --analyze-first``)
    consistency_only: bool = False
    # An unknown key that looks like no key we read is an error too, not a warning
    # (``--strict``; planner/unknown_keys.py)
    strict: bool = False
    # The day a model's fate is judged on (shut down or not); the cli passes today's date,
    # tests pass a fixed one. Nothing in the planner reads the clock for it.
    today: date = field(default_factory=date.today)
    # ``--variants N``: takes of every scene, over any ``variants:`` in the files (None: theirs)
    variants: int | None = None
    # ``--store`` / ``--no-store``: whether Google may keep the requests in the project's logs
    # (None: chargen.yaml's ``store:``, false when it says nothing)
    store: bool | None = None
    # ``--image-size`` (normalised by the cli): every image request's ``imageSize``, over
    # chargen.yaml's, an entity's and a scene's ``image_size:``
    image_size: str | None = None
    # Task keys another unfinished run of the workspace holds (key -> run id, from the
    # workspace index): planned as ``held`` skips, never as tasks (exactly once across runs)
    held: Mapping[str, str] = field(default_factory=dict)
    # The review's verdicts, ``(task key, image SHA-256) -> (picked | rejected, note)``, from
    # the review journal (planner.rounds): a picked scene is settled, a rejected round re-planned
    verdicts: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    refresh_picked: bool = False  # ``--refresh picked``: plan picked scenes whose inputs changed


HELD_DETAIL = "run {run} holds it"  # a ``held`` skip's detail (Plan.held_by reads the run back)


class Skip(msgspec.Struct, frozen=True, kw_only=True):
    """A task not planned, and why (``done``: imagery.yaml proves its output intact)."""

    key: str
    reason: SkipReason
    entity_type: EntityType
    slug: str
    scene: str
    detail: str = ""


@dataclass
class Plan:
    """The result of planning; ``to_builtins`` gives the JSON form (``--json``, plan.json)."""

    tasks: list[Task]
    skipped: list[Skip]
    warnings: list[str]
    chunks: int
    config: dict[str, Any]
    estimate: Estimate
    consistency: list[dict[str, Any]] = field(default_factory=list)  # per entity, generate mode

    def held_by(self) -> dict[str, int]:
        """Unfinished run -> how many of this plan's keys it holds (its ``held`` skips)."""
        runs = Counter(s.detail[len("run "):-len(" holds it")] for s in self.skipped if s.reason == "held")
        return dict(sorted(runs.items()))

    def to_builtins(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "tasks": msgspec.to_builtins(self.tasks),
            "skipped": msgspec.to_builtins(self.skipped),
            "warnings": list(self.warnings),
            "chunks": self.chunks,
            "estimate": msgspec.to_builtins(self.estimate),
            "consistency": self.consistency,
        }


def build_plan(opts: PlanOptions) -> Plan:
    """Plan ``opts.root``; raises ValidationFailed, CostLimitExceeded or UsageError.

    The cyclic garbage collector is paused while planning: a large tree allocates
    hundreds of thousands of small containers and none of them form cycles, so the
    collector would only rescan them again and again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(opts)
    finally:
        if enabled:
            gc.enable()


def _build(opts: PlanOptions) -> Plan:
    _check_options(opts)
    root = Path(opts.root)
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a folder")
    files = FileIndex(root)
    workspace, ws_problems = load_workspace(root)
    ws_problems, unread = _unread_keys(ws_problems, opts.strict)
    # A shut-down model is refused before anything else is read (one line, no API call).
    warnings: list[str] = [] if ws_problems else _model_warnings(opts, workspace)
    warnings.extend(unread)
    entities = _select(root, files, opts)
    for ent in entities:
        ent.problems, unread = _unread_keys(ent.problems, opts.strict)
        warnings.extend(unread)
    if opts.mode == "generate" and not ws_problems:
        model = chosen_model(opts, workspace)[0]
        _check_flag_size(model, opts)
        for ent in entities:
            ent.problems.extend(_limit_problems(ent, model, workspace, opts))
    states = _consistency(root, files, workspace, entities, opts)
    if opts.mode == "analyze":
        for ent in entities:
            ent.problems.extend(refused_images(root, ent.rel))
    broken = [p for e in entities for p in e.problems]
    if ws_problems or (broken and not opts.skip_invalid):
        raise ValidationFailed(ws_problems + broken)
    valid = []
    for ent in entities:
        if ent.problems:
            warnings.extend(f"{p} (skipped {ent.rel})" for p in ent.problems)
        else:
            valid.append(ent)
    if not any((root / t).is_dir() for t in ENTITY_FILES):
        warnings.append(f"{root}: no characters/, locations/ or chapters/ folder here; is --root right?")
    builder = _Builder(opts, workspace, files)
    for ent in valid:
        state = states.get(ent.rel)
        if opts.mode == "generate":
            if not ent.has_ideas:
                warnings.append(f"{ent.rel}: no {IDEAS_FILE}, so no scenes to generate")
            builder.generate(ent, state)
        else:
            builder.analyze(root, ent, state)
    return builder.finish(warnings)


def _unread_keys(problems: list[ContentError], strict: bool) -> tuple[list[ContentError], list[str]]:
    """Problems, and the warnings among them: an unknown key unlike any key we read,
    unless ``--strict`` (a near miss is a typo and stays a problem; unknown_keys.py)."""
    if strict or not any(isinstance(p, UnknownKey) for p in problems):
        return problems, []
    kept = [p for p in problems if not isinstance(p, UnknownKey) or p.suggestion]
    return kept, [str(p) for p in problems if isinstance(p, UnknownKey) and not p.suggestion]


def _consistency(root: Path, files: FileIndex, ws: Workspace, entities: list[Entity],
                 opts: PlanOptions) -> dict[str, EntityConsistency]:
    """Each entity's consistency sources, read when they matter (generating, or
    choosing what ``--analyze-first`` analyses); an invalid analysis is a problem of its
    entity when generating, since its prompts depend on it."""
    if opts.mode != "generate" and not opts.consistency_only:
        return {}
    out = {}
    for ent in entities:
        sources, fields = consistency.effective(ws.consistency, ent.doc.consistency, ent.consistency_from,
                                                ent.references, rounds.picked_refs(files, ent.rel, ent.records,
                                                                                   opts.verdicts))
        if not sources:
            continue
        state = consistency.gather(root, files, ent.rel, sources, fields, ent.analysis_entries)
        out[ent.rel] = state
        if opts.mode == "generate":
            ent.problems.extend(s.problem for s in state.sources if s.problem is not None)
    return out


def scene_size(opts: PlanOptions, ws: Workspace, doc: EntityDoc, spec: SceneSpec) -> tuple[str, tuple[str, int]]:
    """The scene's ``imageSize`` ("" for the model's default) and where it was chosen:
    ``--image-size``, else the scene's, the entity's, then chargen.yaml's ``image_size:``."""
    if opts.image_size:
        return opts.image_size, ("--image-size", 0)
    for size, where in ((spec.image_size, ("", spec.image_size_line)), (doc.image_size, ("entity", doc.image_size_line)),
                        (ws.image_size, (WORKSPACE_FILE, ws.image_size_line))):
        if size:
            return size, where
    return "", ("", 0)


def _check_flag_size(model: str, opts: PlanOptions) -> None:
    """``--image-size`` the plan's model does not make is a usage error, not a content problem."""
    if opts.image_size:
        for problem in limits.check(model, size=opts.image_size, size_at=("--image-size", 0), ratio="",
                                    ratio_at=("", 0), references=0, references_at=("", 0)):
            raise UsageError(f"--image-size {opts.image_size}: {problem.message}")


def _limit_problems(ent: Entity, model: str, ws: Workspace, opts: PlanOptions) -> list[ContentError]:
    """Each scene's size, aspect ratio and number of references against ``model``, at their file:line."""
    ideas = f"{ent.rel}/{IDEAS_FILE}"
    out: dict[str, ContentError] = {}
    places = [(ent.file, line) for _, line in ent.doc.references]
    cap = limits.max_references(model)
    for scene in ent.scenes:
        spec = scene.spec
        size, (where, line) = scene_size(opts, ws, ent.doc, spec)
        size_at = (ideas if where == "" else ent.file if where == "entity" else where, line)
        ratio = spec.aspect_ratio or ws.aspect_ratio
        ratio_at = (ideas, spec.aspect_ratio_line) if spec.aspect_ratio else (WORKSPACE_FILE, ws.aspect_ratio_line)
        refs = places + [(ideas, line) for _, line in spec.references]
        refs_at = refs[min(cap or len(refs), len(refs) - 1)] if refs else (ideas, spec.line)
        for problem in limits.check(model, size="" if where == "--image-size" else size, size_at=size_at,
                                    ratio=ratio, ratio_at=ratio_at, references=len(scene.references),
                                    references_at=refs_at):
            out.setdefault(str(problem), problem)
    return list(out.values())


def chosen_model(opts: PlanOptions, ws: Workspace) -> tuple[str, str]:
    """The plan's model and where it was chosen: ``--model``, ``chargen.yaml:LINE`` or the default."""
    if opts.model:
        return opts.model, "--model"
    model, line = ((ws.generate_model, ws.generate_model_line) if opts.mode == "generate"
                   else (ws.analyze_model, ws.analyze_model_line))
    return model, (f"{WORKSPACE_FILE}:{line}" if line else "the default")


def _model_warnings(opts: PlanOptions, ws: Workspace) -> list[str]:
    """Judge the plan's model offline on ``opts.today``: refuse a shut-down one, warn otherwise.

    The refusal is one line naming the model, where it was chosen and its replacement, so
    nothing is uploaded for a job that would answer 404.
    """
    model, where = chosen_model(opts, ws)
    if catalogue.PROBLEM is not None:
        raise UsageError(f"the catalogue override {catalogue.PROBLEM}; fix or remove it")
    verdict = catalogue.fate(model, opts.today)

    def refuse(text: str) -> None:
        if where == "--model":
            raise UsageError(f"--model {model}: {text}")
        if where == "the default":
            raise UsageError(f"{text} (the built-in default; set models.{opts.mode} in {WORKSPACE_FILE})")
        line = ws.generate_model_line if opts.mode == "generate" else ws.analyze_model_line
        raise ContentError(WORKSPACE_FILE, f"models.{opts.mode}: {text}", line)

    if verdict.verdict == "shut_down":
        refuse(verdict.text)
    if opts.mode == "generate" and verdict.info is not None and verdict.info.purpose == "text":
        refuse(f"{model} is a text model and makes no pictures; generate with an image model such as "
               f"{catalogue.DEFAULT_GENERATE_MODEL} (`chargen-es models` lists them)")
    out = []
    if verdict.verdict in ("deprecated", "unknown"):
        out.append(f"{verdict.text} (chosen by {where})")
    elif verdict.verdict == "routed":
        # warned, not refused: Google still answers (the work gets done), and the estimate
        # prices the requests at the answering model's price (pricing.price_table)
        answering = catalogue.lookup(verdict.answered_by or "")
        price = (f" (${answering.input_usd:g} in / ${answering.output_usd:g} out"
                 + (f" / ${answering.image_output_usd:g} image" if answering.image_output_usd else "")
                 + " per 1M tokens live)") if answering is not None and answering.priced else ""
        out.append(f"{verdict.text}; the estimate uses that price{price} (chosen by {where})")
    info = verdict.info
    if info is not None and info.price_until is not None and opts.today > info.price_until:
        out.append(f"the catalogue's price for {model} held until {info.price_until.isoformat()}; the estimate "
                   f"may be off (set prices.{model} in {WORKSPACE_FILE})")
    return out


def _check_options(opts: PlanOptions) -> None:
    if opts.mode not in MODES:
        raise UsageError(f"--mode {opts.mode}: use generate or analyze")
    if opts.scope not in SCOPES:
        raise UsageError(f"--scope {opts.scope}: use one of {', '.join(SCOPES)}")
    if opts.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    if not opts.run_stamp or "/" in opts.run_stamp or opts.run_stamp.startswith("."):
        raise UsageError(f"run stamp {opts.run_stamp!r} cannot be part of a file name")
    if opts.max_cost is not None and opts.max_cost < 0:
        raise UsageError("--max-cost must be >= 0")
    if opts.variants is not None and (problem := variants_problem(opts.variants)):
        raise UsageError(f"--variants: {problem}")


def _select(root: Path, files: FileIndex, opts: PlanOptions) -> list[Entity]:
    """Load the entities in scope and matching ``--only`` (globs on ``slug`` or ``type/slug``)."""
    types = [t for t in ENTITY_FILES if opts.scope in ("all", t)]  # scope checked by _check_options
    return [load_entity(root, files, entity_type, slug)
            for entity_type, slug in select(root, types, opts.only, files, opts.scope)]


class _Builder:
    """Accumulates tasks, skips and token usage while walking the valid entities."""

    def __init__(self, opts: PlanOptions, ws: Workspace, files: FileIndex) -> None:
        self.opts = opts
        self.ws = ws
        self.files = files
        self.tasks: list[Task] = []
        self.skipped: list[Skip] = []
        self.consistency: list[dict[str, Any]] = []
        self.usage: dict[str, list[int]] = {}
        self.warnings_extra: list[str] = []
        self._scene_ids: dict[str, set[str]] = {}
        self._records_by_scene: dict[str, dict[str, list[Record]]] = {}
        self.model = chosen_model(opts, ws)[0]
        self.prices = pricing.price_table(ws.prices)
        self.counts = pricing.counting(self.model, self.prices)
        self.analysis_prompt = prompts.compile_analysis_prompt(ws.analysis_prompt)
        self.analysis_config = {"responseMimeType": "application/json", "responseSchema": ANALYSIS_SCHEMA}

    # -- the skip check ----------------------------------------------------------------

    def _reason(self, ent: Entity, key: str, scene: str,
                inputs: tuple[str, list[str], str, dict[str, Any]]) -> TaskReason | None:
        """``new`` (or what changed)/``missing``/``changed``/``forced``, or None after recording
        a skip. A record under the older plural spelling of the key counts as the same task."""
        records = ent.records.get(key) or ent.records.get(keys.legacy_key(key))
        if not records:
            return self.unless_held(self._why_new(ent, key, inputs), key, ent.entity_type, ent.slug, scene)
        status, detail = verdict(records, lambda p: self._sha_of(ent, p))
        if status != "done":
            return self.unless_held(status, key, ent.entity_type, ent.slug, scene)
        if self.opts.force:
            return self.unless_held("forced", key, ent.entity_type, ent.slug, scene)
        self.skipped.append(Skip(key=key, reason="done", entity_type=ent.entity_type, slug=ent.slug,
                                 scene=scene, detail=detail))
        return None

    def unless_held(self, reason: TaskReason, key: str, entity_type: EntityType, slug: str,
                    scene: str) -> TaskReason | None:
        """``reason``, or None after recording a ``held`` skip when another unfinished run of
        the workspace holds ``key`` (``PlanOptions.held``): it will deliver it, and a
        second run sending it too would pay twice and write a second image."""
        holder = self.opts.held.get(key)
        if holder is None:
            return reason
        self.skipped.append(Skip(key=key, reason="held", entity_type=entity_type, slug=slug, scene=scene,
                                 detail=HELD_DETAIL.format(run=holder)))
        return None

    @staticmethod
    def _has_record(ent: Entity, key: str) -> bool:
        """A record under the key, in either spelling of its entity type."""
        return key in ent.records or keys.legacy_key(key) in ent.records

    def _why_new(self, ent: Entity, key: str, inputs: tuple[str, list[str], str, dict[str, Any]]) -> TaskReason:
        """Why a task with no record is planned: the input that changed since the scene's last
        result (workspace history first, then any record of the same scene), or ``new``."""
        scene_id = key.partition("@")[0]
        changed = changed_input(self.opts.history, key, inputs)
        if changed is not None:
            return changed
        seen = self._scene_ids.get(ent.rel)
        if seen is None:
            seen = self._scene_ids[ent.rel] = {keys.canonical_key(k).partition("@")[0] for k in ent.records}
        return "inputs changed" if scene_id in seen else "new"

    def _lost_output(self, ent: Entity, key: str) -> TaskReason | None:
        """``missing`` / ``changed`` when no earlier picture of the scene is intact.

        Those are stronger news than what changed in the scene's inputs: the user lost a
        picture (or someone edited it), whatever else moved since it was made.
        """
        by_scene = self._records_by_scene.get(ent.rel)
        if by_scene is None:  # once per entity: a tree whose style changed re-plans every scene
            by_scene = self._records_by_scene[ent.rel] = {}
            for k, recs in ent.records.items():
                by_scene.setdefault(keys.scene_of(k), []).extend(recs)
        records = by_scene.get(keys.scene_of(key))
        if not records:
            return None
        status, _ = verdict(records, lambda p: self._sha_of(ent, p))
        return None if status == "done" else status

    def _sha_of(self, ent: Entity, path: str) -> str | None:
        """The recorded file's hash; a path that leaves the entity's folder proves nothing."""
        try:
            rel = self.files.rel_reference(ent.rel, path)
            if not rel.startswith(ent.rel.rstrip("/") + "/"):
                return None
            return self.files.digest(rel)[0]
        except (PathProblem, OSError):
            return None

    def _count(self, kind: str, prompt: str, images_in: int, size: str = "") -> None:
        tin, tout, timg = pricing.task_tokens(kind, self.counts, prompt, images_in, size)
        acc = self.usage.setdefault(self.model, [0, 0, 0, 0])
        acc[0] += 1
        acc[1] += tin
        acc[2] += tout
        acc[3] += timg

    # -- generation ----------------------------------------------------------------------

    def generate(self, ent: Entity, state: EntityConsistency | None = None) -> None:
        doc = ent.doc
        out_dir = f"{ent.rel}/{IMAGES_DIR}"
        names = keys.unique_safe_names([s.spec.id for s in ent.scenes])
        stamp = self.opts.run_stamp
        base = prompts.entity_prefix(self.ws.style, doc.style, doc.name, doc.description)
        part = state.key_part() if state is not None else None
        prefix = prompts.with_part(base, state.clause()) if part is not None and state else base
        if state is not None:
            self.consistency.append(state.report())
        picked = rounds.picked_scenes(ent.records, self.opts.verdicts)
        for scene, safe in zip(ent.scenes, names, strict=True):
            spec = scene.spec
            first = prompts.compile_scene(prefix, spec.prompt, spec.negative_prompt)
            # the key hashes the prompt without its consistency part plus the analyses' hashes (keys.py)
            first_bare = first if part is None else prompts.compile_scene(base, spec.prompt, spec.negative_prompt)
            size = scene_size(self.opts, self.ws, doc, spec)[0]
            config = {"responseModalities": ["IMAGE"],
                      "imageConfig": limits.image_config(spec.aspect_ratio or self.ws.aspect_ratio, size)}
            with_safety(config, self.ws.safety, doc.safety)
            refs = [r.sha256 for r in scene.references]
            takes = self.takes(spec.variants, doc.variants)

            def take_keys_of(n: int, notes: tuple[str, ...], bare: str = first_bare, sid: str = spec.id,
                             config: dict[str, Any] = config, refs: list[str] = refs, takes: int = takes) -> list[str]:
                """The keys of round ``n``'s takes (rounds.py: the rejected rounds' notes join the prompt)."""
                return [keys.generate_key(ent.entity_type, ent.slug, sid, references=refs, model=self.model,
                                          prompt=prompts.with_part(bare, prompts.review_clause(notes)),
                                          generation_config=config, consistency=part, take=t, round=n)
                        for t in range(1, takes + 1)]

            settled, n, notes = rounds.steer(picked, take_keys_of, lambda k: self._records(ent, k),
                                             self.opts.verdicts, self.opts.force or self.opts.refresh_picked)
            clause = prompts.review_clause(notes)
            prompt, bare = prompts.with_part(first, clause), prompts.with_part(first_bare, clause)
            take_keys = take_keys_of(n, notes)
            for take, key in enumerate(take_keys, start=1):
                reason = self._reason(ent, key, spec.id, (prompt, refs, self.model, config))
                if reason is None:
                    continue
                if settled is not None:  # picked: shown as settled, with what would have planned it
                    self.skipped.append(Skip(key=key, reason="picked", entity_type=ent.entity_type, slug=ent.slug,
                                             scene=spec.id, detail=f"{settled} picked; {reason}"))
                    continue
                if reason in _NO_RECORD:
                    reason = REJECTED if n else self._why_no_record(ent, spec.id, reason, take, take_keys, state,
                                                                    (bare, refs, config))
                if reason not in ("new", "missing", "changed", "forced", REJECTED, NEW_TAKE):
                    reason = self._lost_output(ent, key) or reason  # a lost picture is the stronger news
                self.tasks.append(Task(
                    key=key, kind="generate", entity_type=ent.entity_type, slug=ent.slug, scene=spec.id,
                    prompt=prompt, model=self.model, output_dir=out_dir,
                    output_stem=keys.take_stem(safe, take, stamp), title=spec.title, references=scene.references,
                    generation_config=config, reason=reason, chunk=len(self.tasks) // self.opts.chunk_size,
                    entity_file=ent.file,
                ))
                self._count("generate", prompt, len(scene.references), size)

    @staticmethod
    def _records(ent: Entity, key: str) -> list[Record]:
        return ent.records.get(key) or ent.records.get(keys.legacy_key(key)) or []

    def takes(self, *declared: int) -> int:
        """How many takes of a scene: ``--variants``, else the first ``variants:`` set among
        ``declared`` (scene, entity / batch item), else chargen.yaml's, else one."""
        if self.opts.variants is not None:
            return self.opts.variants
        return next((n for n in (*declared, self.ws.variants) if n), 1)

    def _why_no_record(self, ent: Entity, scene: str, reason: TaskReason, take: int, take_keys: list[str],
                       state: EntityConsistency | None, inputs: tuple[str, list[str], dict[str, Any]]) -> TaskReason:
        """A better name than ``new`` / ``config changed`` for a task without a record: only the
        analysis changed (a record of the key the take had under an older analysis), or the
        take was added beside takes made from the same inputs."""
        bare, refs, config = inputs
        if state is not None and any(
            self._has_record(ent, keys.generate_key(
                ent.entity_type, ent.slug, scene, prompt=bare, references=refs, model=self.model,
                generation_config=config, consistency=earlier, take=take))
            for earlier in state.earlier_key_parts()
        ):
            return ANALYSIS_CHANGED
        return self.new_take(reason, take, take_keys, lambda k: self._has_record(ent, k))

    def new_take(self, reason: TaskReason, take: int, take_keys: list[str], recorded: Any) -> TaskReason:
        """``new take`` for take 2 and on when another take of the same inputs was made
        (recorded, or the scene's last result in the workspace history)."""
        if take == 1:
            return reason
        prior = self.opts.history.get(keys.scene_of(take_keys[0]), {}).get("key")
        if prior in take_keys or any(recorded(k) for k in take_keys if k != take_keys[take - 1]):
            return NEW_TAKE
        return reason

    # -- analysis --------------------------------------------------------------------------

    def analyze(self, root: Path, ent: Entity, state: EntityConsistency | None = None) -> None:
        """The entity's images (``images/``), then its consistency sources not among them.

        With ``consistency_only``, only the sources whose analyses must be redone.
        """
        for rel, sha, size in self._analysable(root, ent, state):
            name = os.path.basename(rel)
            stem = os.path.splitext(name)[0]
            config = dict(self.analysis_config)
            with_safety(config, self.ws.safety, ent.doc.safety)
            key = keys.analyze_key(ent.entity_type, ent.slug, stem, prompt=self.analysis_prompt,
                                   image_sha256=sha, model=self.model, generation_config=config)
            scene = f"analyze:{stem}"
            reason = self._reason(ent, key, scene, (self.analysis_prompt, [sha], self.model, config))
            if reason is None:
                continue
            if reason in ("new", "inputs changed") and self._has_older_analysis(ent, rel):
                reason = "changed"
            self.tasks.append(Task(
                key=key, kind="analyze", entity_type=ent.entity_type, slug=ent.slug, scene=scene,
                prompt=self.analysis_prompt, model=self.model, output_dir=posixpath.dirname(rel),
                output_stem=name, input_image=FileRef(path=rel, sha256=sha, size=size, mime=mime_for(rel)),
                generation_config=config, reason=reason, chunk=len(self.tasks) // self.opts.chunk_size,
                entity_file=ent.file,
            ))
            self._count("analyze", self.analysis_prompt, 1)

    def _analysable(self, root: Path, ent: Entity,
                    state: EntityConsistency | None) -> list[tuple[str, str, int]]:
        if self.opts.consistency_only:
            return [(s.image.path, s.image.sha256, s.image.size) for s in (state.sources if state else [])
                    if s.status in consistency.REDO]
        out = []
        for rel in list_images(root, self.files, ent.rel):
            try:
                sha, size = self.files.digest(rel)
            except PathProblem as exc:
                self.warnings_extra.append(f"{rel}: {exc}; not analysed")
                continue
            except OSError as exc:
                self.warnings_extra.append(f"{rel}: cannot be read ({exc.strerror or exc}); not analysed")
                continue
            out.append((rel, sha, size))
        listed = {rel for rel, _, _ in out}
        sources, _ = consistency.effective(self.ws.consistency, ent.doc.consistency, ent.consistency_from,
                                           ent.references, rounds.picked_refs(self.files, ent.rel, ent.records,
                                                                              self.opts.verdicts))
        out += [(r.path, r.sha256, r.size) for r in sources if r.path not in listed]
        return out

    def _has_older_analysis(self, ent: Entity, rel: str) -> bool:
        """An analysis of this image under another key: the image or the request changed."""
        image = rel[len(ent.rel) + 1 :]
        return any(r.path == f"{image}.analysis.json" for recs in ent.records.values() for r in recs)

    # -- the end ---------------------------------------------------------------------------

    def finish(self, warnings: list[str]) -> Plan:
        tasks = self.tasks
        size = self.opts.chunk_size
        chunks = (len(tasks) + size - 1) // size
        prices = self.prices
        est = pricing.estimate(self.usage, prices)
        warnings = warnings + self.warnings_extra
        for model in est.unpriced:
            warnings.append(f"no price for model {model}; the estimate counts it as $0 "
                            f"(add prices.{model} to chargen.yaml)")
        self._check_cost(est)
        return Plan(tasks=tasks, skipped=self.skipped, warnings=warnings, chunks=chunks,
                    config=self._config(prices), estimate=est, consistency=self.consistency)

    def _check_cost(self, est: Estimate) -> None:
        limit = self.opts.max_cost
        if limit is None:
            return
        if est.unpriced:
            raise CostLimitExceeded(
                f"cannot check --max-cost: no price for {', '.join(est.unpriced)}; "
                "add it under prices in chargen.yaml"
            )
        cost = est.live_usd if self.opts.runner == "live" else est.batch_usd
        if cost > limit:
            raise CostLimitExceeded(
                f"the plan is estimated at ${cost:.4f} ({self.opts.runner}), above --max-cost ${limit:.4f}; "
                "narrow it with --scope/--only or raise the limit"
            )

    def _config(self, prices: dict[str, pricing.ModelPrice]) -> dict[str, Any]:
        o, ws = self.opts, self.ws
        return {
            "mode": o.mode, "scope": o.scope, "only": list(o.only), "model": self.model,
            "models": {"generate": ws.generate_model, "analyze": ws.analyze_model},
            "style": ws.style, "aspect_ratio": ws.aspect_ratio, "analysis_prompt": self.analysis_prompt,
            "chunk_size": o.chunk_size, "force": o.force, "skip_invalid": o.skip_invalid,
            "run_stamp": o.run_stamp, "max_cost": o.max_cost,
            "key_version": keys.KEY_VERSION, "analysis_schema_version": keys.ANALYSIS_SCHEMA_VERSION,
            "consistency_version": consistency.CONSISTENCY_VERSION, "consistency_only": o.consistency_only,
            "prices": {m: msgspec.to_builtins(prices[m]) for m in sorted(prices) if m == self.model},
            "batch_discount": pricing.BATCH_DISCOUNT,
            "store": ws.store if o.store is None else o.store,
            **({"deadline_s": ws.deadline_s} if ws.deadline_s is not None else {}),
            **({"variants": o.variants} if o.variants is not None else {}),
            **({"keep_results": True} if ws.keep_results else {}),
            **({"options": dict(ws.options)} if ws.options else {}),
        }


__all__ = ["Plan", "PlanOptions", "Skip", "build_plan", "utc_stamp"]
