"""Batch files: a list of ad-hoc items, planned like a content tree but without one.

A batch file (YAML or JSON, format in docs/batch-files.md) names a batch, sets defaults
(``model``, ``aspect_ratio``, ``style``, ``output`` folder) and lists either ``items`` to
generate (``id``, ``prompt``, optional ``type``, ``references``, ``aspect_ratio``,
``negative_prompt``, ``model``, ``output``) or ``images`` to analyse. An item's ``type`` is
``generate`` (the default), ``derive`` (exactly one reference and an instruction: a new image
from that one) or ``compose`` (2 or more references, within the model's limit from the
catalogue, and a prompt: one image from all of them); all three are ordinary generate tasks
whose references are sent before the prompt, told apart by the prompt's lead
(:func:`chargen_es.planner.prompts.item_lead`), so keys, journal and runners need nothing new. It becomes the same
:class:`~chargen_es.planner.Plan` a tree does, so the journal, exactly-once rules, resume,
inspect and replay need nothing new:

- the folder the file is in is the run's root (:func:`batch_root`; a file in
  ``<root>/.chargen/batches/``, kept there by the MCP server or the HTTP API, has ``<root>``): references, images and the output folder
  are relative to it and may not leave it (the tree's path rules, :mod:`.files`);
- tasks have entity type ``batch`` and the batch ``name`` as slug, so their keys are
  ``batch/<name>/<id>@sha256:...`` (:mod:`.keys`, same canonical hash);
- the skip check reads the manifest beside the outputs, ``<output>/imagery.yaml``, with
  :mod:`chargen_es.imagery`'s rules; the engine writes it there (``imagery.record_folder``);
- every problem in the file is collected with its ``file:line`` before anything runs.

Reads only, like the rest of the planner.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from chargen_es import catalogue
from chargen_es.errors import BatchFileInvalid, ContentError, UsageError
from chargen_es.events import FileRef, Task, TaskReason
from chargen_es.imagery import BATCH_TYPE, IMAGERY_FILE, Record, index_records, verdict
from chargen_es.planner import keys, limits, prompts, rounds, yamlio
from chargen_es.planner.files import ANALYSABLE_EXTS, MIME_BY_EXT, FileIndex, PathProblem, mime_for, read_text
from chargen_es.planner.limits import normalise_size, size_problem
from chargen_es.planner.plan import REJECTED, Plan, PlanOptions, Skip, _Builder, changed_input, with_safety
from chargen_es.planner.validate import (
    ASPECT_RATIOS,
    DEFAULT_ANALYZE_MODEL,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_GENERATE_MODEL,
    Workspace,
    aspect_ratio_ok,
    check_run_options,
    check_safety,
    variants_problem,
)
from chargen_es.planner.yamlio import LineDict, LineList

TOP_KEYS = ("name", "mode", "model", "aspect_ratio", "image_size", "style", "output", "prompt", "items", "images",
            "options", "safety")
ITEM_KEYS = ("id", "type", "prompt", "title", "references", "aspect_ratio", "image_size", "negative_prompt", "model",
             "output", "variants", "retries")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_IMAGE_EXTS = frozenset(MIME_BY_EXT) - {".gif"}
ITEM_TYPES = ("generate", "derive", "compose")


@dataclass(slots=True)
class BatchItem:
    """One generation item as written (references still as written, with their lines)."""

    id: str
    prompt: str
    line: int
    type: str = "generate"  # generate, derive (one reference + instruction), compose (2+ references)
    title: str = ""
    aspect_ratio: str = ""
    negative_prompt: str = ""
    model: str = ""
    output: str = ""  # file name stem chosen by the user, "" for ``<id>-<run stamp>``
    variants: int = 0  # takes of this item (0: not set; ``--variants`` or chargen.yaml's, else one)
    references: list[tuple[str, int]] = field(default_factory=list)
    retries: int | None = None  # new tries after a retryable failure at most (None: the defaults)
    image_size: str = ""  # normalised; "" : the batch's
    image_size_line: int = 0
    aspect_ratio_line: int = 0
    model_line: int = 0


@dataclass(slots=True)
class BatchFile:
    """A parsed, checked batch file."""

    path: Path
    name: str = ""
    mode: str = "generate"
    model: str = ""
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    aspect_ratio_line: int = 0
    image_size: str = ""  # normalised; "" : the model's default size
    image_size_line: int = 0
    style: str = ""
    output: str = ""  # root-relative posix folder
    prompt: str = ""  # analysis prompt
    items: list[BatchItem] = field(default_factory=list)
    images: list[tuple[str, int]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # the plan config's ``options``
    safety: dict[str, str] = field(default_factory=dict)  # ``safety:`` category -> threshold
    model_line: int = 0


KEPT_FOLDER = (".chargen", "batches")  # where chargen-es keeps the batch files programs send it


def batch_root(path: Path) -> Path:
    """The run's root for the batch file at ``path``: the folder it is in, except for a file
    chargen-es keeps for a program (the MCP server, the HTTP API) in ``<root>/.chargen/batches/``,
    whose root is that ``<root>``, so its references and output are the tree's."""
    folder = Path(os.path.realpath(path)).parent
    if (folder.parent.name, folder.name) == KEPT_FOLDER:
        return folder.parent.parent
    return folder


def is_batch_plan(config: dict[str, Any]) -> bool:
    """True for the config of a plan made from a batch file."""
    return bool(config.get("batch_file"))


def load(path: Path) -> BatchFile:
    """Read and check ``path``; raises BatchFileInvalid listing every problem."""
    batch, problems = read(path)
    if problems:
        raise BatchFileInvalid(str(path), problems)
    return batch


def read(path: Path) -> tuple[BatchFile, list[ContentError]]:
    """Read, parse and check ``path``: what could be made of it, and every problem."""
    shown = str(path)
    text, problem, line = read_text(path)
    if text is None:
        return BatchFile(path=path), [ContentError(shown, problem or "file not found", line)]
    doc, problems = _parse(text, shown, path.suffix.lower() == ".json")
    if problems:
        return BatchFile(path=path), problems
    return check(doc, shown, path)


def _parse(text: str, shown: str, is_json: bool) -> tuple[Any, list[ContentError]]:
    """The document with line-keeping containers; JSON syntax errors get JSON's own line."""
    if is_json:
        try:
            plain = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, [ContentError(shown, f"invalid JSON: {exc.msg}", exc.lineno)]
        try:  # JSON is YAML: the YAML loader gives the same data plus line numbers
            return yamlio.load(text), []
        except yaml.YAMLError:  # the rare JSON YAML refuses (tabs): same data, no lines
            return _unlocated(plain), []
    try:
        return yamlio.load(text), []
    except yaml.YAMLError as exc:
        return None, [ContentError(shown, yamlio.error_text(exc, text), yamlio.error_line(exc, text))]


def _unlocated(value: Any) -> Any:
    if isinstance(value, dict):
        out = LineDict()
        out.update({k: _unlocated(v) for k, v in value.items()})
        return out
    if isinstance(value, list):
        seq = LineList()
        seq.extend(_unlocated(v) for v in value)
        return seq
    return value


# ---------------------------------------------------------------------------- checks


def check(doc: Any, shown: str, path: Path) -> tuple[BatchFile, list[ContentError]]:
    """Validate a parsed batch file, collecting every problem with its line."""
    batch = BatchFile(path=path)
    problems: list[ContentError] = []

    def bad(message: str, line: int | None) -> None:
        problems.append(ContentError(shown, message, line or None))

    if not isinstance(doc, LineDict):
        bad("must be a mapping with name and items (or images)", 1)
        return batch, problems
    for key in doc:
        if key not in TOP_KEYS:
            bad(f"unknown field {key!r}; a batch file has {', '.join(TOP_KEYS)}", doc.line_of(key))
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        bad("missing required field 'name'", doc.line_of("name") if "name" in doc else doc.line)
    elif not _NAME.match(name.strip()):
        bad(f"name {name!r} must be letters, digits, '.', '_' or '-' (it names the output folder and the "
            "task keys)", doc.line_of("name"))
    else:
        batch.name = name.strip()
    batch.style = _text(doc, "style", bad)
    batch.model = _text(doc, "model", bad).strip()
    batch.model_line = doc.line_of("model") if "model" in doc else 0
    batch.prompt = _text(doc, "prompt", bad)
    if "aspect_ratio" in doc:
        batch.aspect_ratio_line = doc.line_of("aspect_ratio")
        if aspect_ratio_ok(doc["aspect_ratio"]):
            batch.aspect_ratio = doc["aspect_ratio"]
        else:
            bad(_aspect(doc["aspect_ratio"]), doc.line_of("aspect_ratio"))
    batch.image_size, batch.image_size_line = _size(doc, bad)
    batch.output = _folder(doc, batch.name or "batch", bad)
    if doc.get("options") is not None:
        batch.options = check_run_options(doc, bad)
    if doc.get("safety") is not None:
        batch.safety = check_safety(doc, bad)
    has_items, has_images = doc.get("items") is not None, doc.get("images") is not None
    mode = doc.get("mode")
    if mode is not None and mode not in ("generate", "analyze"):
        bad(f"mode {mode!r}: use generate (with items) or analyze (with images)", doc.line_of("mode"))
    if has_items and has_images:
        bad("a batch file has items (generate) or images (analyze), not both", doc.line_of("images"))
    elif not has_items and not has_images:
        bad("missing 'items' (prompts to generate) or 'images' (paths to analyse)", doc.line)
    elif has_items:
        batch.mode = "generate"
        if mode == "analyze":
            bad("mode analyze needs 'images', not 'items'", doc.line_of("mode"))
        batch.items = _items(doc, bad)
    else:
        batch.mode = "analyze"
        if mode == "generate":
            bad("mode generate needs 'items', not 'images'", doc.line_of("mode"))
        batch.images = _images(doc, bad)
    return batch, problems


def _text(doc: LineDict, key: str, bad: Any) -> str:
    value = doc.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    bad(f"{key} must be text", doc.line_of(key))
    return ""


def _size(doc: LineDict, bad: Any) -> tuple[str, int]:
    """``image_size`` normalised (``2k`` -> ``2K``) with its line; a size Gemini does not make is a problem."""
    if "image_size" not in doc:
        return "", 0
    size = normalise_size(doc["image_size"])
    if size is None:
        bad(size_problem(doc["image_size"]), doc.line_of("image_size"))
        return "", doc.line_of("image_size")
    return size, doc.line_of("image_size")


def _aspect(value: Any) -> str:
    return f"unknown aspect ratio {value!r}; use one of {', '.join(ASPECT_RATIOS)}"


def _folder(doc: LineDict, default: str, bad: Any) -> str:
    """The output folder, root-relative and normalised; it may not leave the root."""
    value = doc.get("output", default)
    line = doc.line_of("output")
    if not isinstance(value, str) or not value.strip():
        bad("output must be a folder path relative to the batch file", line)
        return default
    text = value.strip().replace("\\", "/")
    folder = posixpath.normpath(text)
    if text.startswith("/") or re.match(r"[A-Za-z]:/", text):
        bad(f"output {value!r} is an absolute path; use a folder relative to the batch file", line)
    elif folder == ".." or folder.startswith("../"):
        bad(f"output {value!r} leaves the batch file's folder", line)
    elif folder == "." or folder.split("/")[0] == ".chargen":
        bad(f"output {value!r}: use a folder of its own (not the batch file's folder or .chargen)", line)
    else:
        return folder
    return default


def _items(doc: LineDict, bad: Any) -> list[BatchItem]:
    items = doc["items"]
    if not isinstance(items, list) or not items:
        bad("items must be a non-empty list of {id, prompt}", doc.line_of("items"))
        return []
    out: list[BatchItem] = []
    first_id: dict[str, int] = {}
    first_output: dict[str, int] = {}
    for i, item in enumerate(items):
        line = items.line_of(i) if isinstance(items, LineList) else 0
        if not isinstance(item, LineDict):
            bad("an item must be a mapping with id and prompt", line)
            continue
        for key in item:
            if key not in ITEM_KEYS:
                bad(f"unknown item field {key!r}; an item has {', '.join(ITEM_KEYS)}", item.line_of(key))
        sid = item.get("id")
        if isinstance(sid, (int, float)) and not isinstance(sid, bool):
            sid = str(sid)
        if not isinstance(sid, str) or not sid.strip():
            bad("item is missing required field 'id'", item.line_of("id"))
            sid = ""
        sid = sid.strip()
        prompt = item.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            bad(f"item {sid!r} is missing required field 'prompt'" if sid else "item is missing required field "
                "'prompt'", item.line_of("prompt"))
            prompt = ""
        entry = BatchItem(id=sid, prompt=prompt, line=item.line_of("id"), title=_text(item, "title", bad),
                          negative_prompt=_text(item, "negative_prompt", bad), model=_text(item, "model", bad).strip(),
                          model_line=item.line_of("model") if "model" in item else 0)
        entry.image_size, entry.image_size_line = _size(item, bad)
        ratio = item.get("aspect_ratio")
        if ratio is not None:
            entry.aspect_ratio_line = item.line_of("aspect_ratio")
            if aspect_ratio_ok(ratio):
                entry.aspect_ratio = ratio
            else:
                bad(_aspect(ratio), item.line_of("aspect_ratio"))
        entry.references = _paths(item, "references", "reference", bad)
        entry.type = _item_type(item, sid, len(entry.references), bad)
        if item.get("variants") is not None:
            if (problem := variants_problem(item["variants"])) is not None:
                bad(problem, item.line_of("variants"))
            else:
                entry.variants = int(item["variants"])
        entry.output = _output_name(item, bad)
        if item.get("retries") is not None:
            if isinstance(item["retries"], int) and not isinstance(item["retries"], bool) and item["retries"] >= 0:
                entry.retries = item["retries"]
            else:
                bad("retries must be a whole number >= 0 (new tries after a retryable failure)",
                    item.line_of("retries"))
        if sid:
            if sid in first_id:
                bad(f"item id {sid!r} used twice (first at line {first_id[sid]})", item.line_of("id"))
                continue
            first_id[sid] = item.line_of("id")
        if entry.output:
            folded = entry.output.casefold()
            if folded in first_output:
                bad(f"output {entry.output!r} used twice (first at line {first_output[folded]})",
                    item.line_of("output"))
                continue
            first_output[folded] = item.line_of("output")
        out.append(entry)
    return out


def _item_type(item: LineDict, sid: str, references: int, bad: Any) -> str:
    """The item's type, and the reference count it asks for (the model's limit is checked
    when planning, where the model is known)."""
    value = item.get("type", "generate")
    line = item.line_of("type") if "type" in item else item.line_of("id")
    name = f"item {sid!r}" if sid else "item"
    if value not in ITEM_TYPES:
        bad(f"{name}: unknown type {value!r}; use {', '.join(ITEM_TYPES)}", line)
        return "generate"
    if value == "derive" and references != 1:
        bad(f"{name} is a derive: it needs exactly one reference (the image to derive from), not {references}",
            line)
    elif value == "compose" and references < 2:
        bad(f"{name} is a compose: it needs 2 or more references, not {references}", line)
    return str(value)


def _output_name(item: LineDict, bad: Any) -> str:
    """The item's file name stem: one path component; an image extension is dropped
    (the real extension comes from the image the model returns)."""
    value = item.get("output")
    if value is None:
        return ""
    line = item.line_of("output")
    if not isinstance(value, str) or not value.strip():
        bad("output must be a file name", line)
        return ""
    stem, ext = os.path.splitext(value.strip())
    if ext and ext.lower() not in _IMAGE_EXTS:
        stem = value.strip()  # a dot inside the name, not an extension
    if "/" in value or "\\" in value or stem in ("", ".", "..") or keys.safe_name(stem) != stem:
        bad(f"output {value!r} must be a plain file name (letters, digits, '-', '_'; the folder is the "
            "batch's output)", line)
        return ""
    return stem


def _paths(doc: LineDict, key: str, what: str, bad: Any) -> list[tuple[str, int]]:
    value = doc.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [(value, doc.line_of(key))]
    if not isinstance(value, list):
        bad(f"{key} must be a list of paths", doc.line_of(key))
        return []
    out = []
    for i, entry in enumerate(value):
        line = value.line_of(i) if isinstance(value, LineList) else doc.line_of(key)
        if not isinstance(entry, str) or not entry.strip():
            bad(f"{'an' if what[:1] in 'aeiou' else 'a'} {what} must be a non-empty path", line)
        else:
            out.append((entry, line))
    return out


def _images(doc: LineDict, bad: Any) -> list[tuple[str, int]]:
    images = _paths(doc, "images", "image", bad)
    if not images and isinstance(doc.get("images"), list):
        bad("images must list at least one image path", doc.line_of("images"))
    return images


# ---------------------------------------------------------------------------- planning


def build_batch_plan(path: Path, opts: PlanOptions) -> Plan:
    """Plan the batch file at ``path``; ``opts.root`` must be the folder it is in.

    ``opts.model`` overrides the file's default model (not an item's own); ``opts.force``,
    ``chunk_size``, ``run_stamp``, ``max_cost`` and ``runner`` mean what they mean for a
    tree; ``scope``, ``only`` and ``skip_invalid`` do not apply.
    """
    root = Path(opts.root)
    if batch_root(path) != Path(os.path.realpath(root)):
        raise UsageError(f"--batch-file {path}: its folder is the run's root, so --root must be that folder")
    batch, problems = read(path)  # file paths are checked below too, so all problems come at once
    if problems and not (batch.items or batch.images):
        raise BatchFileInvalid(str(path), problems)
    batch.name = batch.name or "batch"  # a bad name is already a problem; go on finding the others
    opts = replace(opts, mode=batch.mode)
    shown = path.name
    files = FileIndex(root)
    default = batch.model or (DEFAULT_GENERATE_MODEL if batch.mode == "generate" else DEFAULT_ANALYZE_MODEL)
    ws = Workspace(style=batch.style, generate_model=default, analyze_model=default,
                   aspect_ratio=batch.aspect_ratio,
                   analysis_prompt=batch.prompt or prompts.DEFAULT_ANALYSIS_PROMPT, options=batch.options)
    # The tree's builder does the pricing, the --max-cost check and the config, so a batch
    # file's plan is priced and described exactly like a tree's.
    builder = _Builder(replace(opts, model=opts.model or default), ws, files)
    warnings = _judge_models(batch, opts, problems)
    records = _manifest(root, batch.output)
    collect = _Collect(builder, files, batch, records, str(path), problems)
    if batch.mode == "generate":
        collect.generate(opts.model)
    else:
        collect.analyze()
    if problems:
        raise BatchFileInvalid(str(path), problems)
    plan = builder.finish(warnings)
    plan.config.update({"scope": "batch-file", "batch_file": shown, "batch_name": batch.name,
                        "output": batch.output, "style": batch.style, "aspect_ratio": batch.aspect_ratio})
    if collect.retries:
        plan.config["item_retries"] = collect.retries
    return plan


def _judge_models(batch: BatchFile, opts: PlanOptions, problems: list[ContentError]) -> list[str]:
    """Every model the file names, judged as a tree's model is, on ``opts.today``.

    A shut-down model is a problem with its line (so ``--dry-run`` refuses it too, before a
    run exists); a deprecated or unknown one is a warning with its line. ``--model``
    replaces the file's default, so a shut-down one is a usage error.
    """
    shown = batch.path.name
    warnings: list[str] = []
    if opts.model:
        verdict = catalogue.fate(opts.model, opts.today)
        if verdict.verdict == "shut_down":
            raise UsageError(f"--model {opts.model}: {verdict.text}")
        if verdict.verdict != "ok":
            warnings.append(f"{verdict.text} (chosen by --model)")
    named = [] if opts.model else [(batch.model, batch.model_line)]
    named += [(item.model, item.model_line) for item in batch.items]
    seen: set[tuple[str, int]] = set()
    for model, line in named:
        if not model or (model, line) in seen:
            continue
        seen.add((model, line))
        verdict = catalogue.fate(model, opts.today)
        if verdict.verdict == "shut_down":
            problems.append(ContentError(shown, verdict.text, line))
        elif verdict.verdict != "ok":
            warnings.append(f"{shown}:{line}: {verdict.text}")
    return warnings


def _manifest(root: Path, folder: str) -> dict[str, list[Record]]:
    """The records of ``<output>/imagery.yaml``; an unreadable manifest proves nothing done."""
    manifest = f"{folder}/{IMAGERY_FILE}"
    text, problem, line = read_text(root / manifest)
    if text is None:
        if problem is not None:
            raise ContentError(manifest, problem, line)
        return {}
    try:
        doc = yamlio.load(text)
    except yaml.YAMLError as exc:
        raise ContentError(manifest, yamlio.error_text(exc, text), yamlio.error_line(exc, text)) from exc
    if doc is not None and not isinstance(doc, dict):
        raise ContentError(manifest, "must be a mapping at the top level", 1)
    return index_records(doc)


class _Collect:
    """Turns checked items into tasks and skips, resolving paths against the root."""

    def __init__(self, builder: _Builder, files: FileIndex, batch: BatchFile, records: dict[str, list[Record]],
                 shown: str, problems: list[ContentError]) -> None:
        self.b = builder
        self.files = files
        self.batch = batch
        self.records = records
        self.shown = shown
        self.entity_file = os.path.basename(shown)
        self.problems = problems
        self.retries: dict[str, int] = {}  # task key -> the item's ``retries``

    def _ref(self, written: str, line: int, what: str, exts: frozenset[str] | None = None) -> FileRef | None:
        try:
            rel = self.files.rel_reference("", written)
            mime = mime_for(rel)
            if not mime or (exts is not None and os.path.splitext(rel)[1].lower() not in exts):
                kinds = ", ".join(sorted(e.lstrip(".") for e in (exts or frozenset(MIME_BY_EXT))))
                raise PathProblem(f"{what} {written!r} is not an image ({kinds})")
            sha, size = self.files.digest(rel)
        except PathProblem as exc:
            message = str(exc).replace("reference ", f"{what} ", 1)
            self.problems.append(ContentError(self.shown, message.replace("the entity folder", "the batch file"),
                                              line))
            return None
        except FileNotFoundError:
            self.problems.append(ContentError(self.shown, f"{what} {written!r} not found", line))
            return None
        except OSError as exc:
            self.problems.append(ContentError(self.shown, f"{what} {written!r} cannot be read: "
                                              f"{exc.strerror or exc}", line))
            return None
        if size == 0:
            self.problems.append(ContentError(self.shown, f"{what} {written!r} is an empty file", line))
            return None
        return FileRef(path=rel, sha256=sha, size=size, mime=mime)

    def _reason(self, key: str, scene: str, inputs: tuple[str, list[str], str, dict[str, Any]]) -> TaskReason | None:
        """Same verdicts as the tree's skip check, read from the batch's manifest; a task
        with no record names the input that changed since the workspace history's result."""
        records = self.records.get(key)
        name = self.batch.name
        if not records:
            return self.b.unless_held(changed_input(self.b.opts.history, key, inputs) or "new", key, BATCH_TYPE,
                                      name, scene)
        folder = self.batch.output
        status, detail = verdict(records, lambda p: self._sha_of(folder, p))
        if status != "done":
            return self.b.unless_held(status, key, BATCH_TYPE, name, scene)
        if self.b.opts.force:
            return self.b.unless_held("forced", key, BATCH_TYPE, name, scene)
        self.b.skipped.append(Skip(key=key, reason="done", entity_type=BATCH_TYPE, slug=self.batch.name,
                                   scene=scene, detail=detail))
        return None

    def _sha_of(self, folder: str, path: str) -> str | None:
        try:
            rel = self.files.rel_reference(folder, path)
            if not rel.startswith(folder + "/"):
                return None
            return self.files.digest(rel)[0]
        except (PathProblem, OSError):
            return None

    def generate(self, override: str | None) -> None:
        batch, b = self.batch, self.b
        prefix = prompts.entity_prefix(batch.style, "", "", "")
        names = keys.unique_safe_names([item.id for item in batch.items])
        picked = rounds.picked_scenes(self.records, b.opts.verdicts)
        for item, safe in zip(batch.items, names, strict=True):
            refs = [r for r in (self._ref(w, line, "reference") for w, line in item.references) if r is not None]
            if len(refs) != len(item.references):
                continue
            refs = list({r.path: r for r in refs}.values())
            model = item.model or override or b.model
            if not self._references_fit(item, len(refs), model):
                continue
            lead = prompts.item_lead(item.type, len(refs))
            first = prompts.compile_scene(prefix, item.prompt, item.negative_prompt, lead)
            size = b.opts.image_size or item.image_size or batch.image_size
            ratio = item.aspect_ratio or batch.aspect_ratio
            # the reference count is _references_fit's (with derive's and compose's own counts)
            found = limits.check(
                model, size=size, size_at=(self.shown, item.image_size_line or batch.image_size_line), ratio=ratio,
                ratio_at=(self.shown, item.aspect_ratio_line or batch.aspect_ratio_line),
                references=0, references_at=(self.shown, item.line))
            if found:
                self.problems.extend(found)
                continue
            config = {"responseModalities": ["IMAGE"], "imageConfig": limits.image_config(ratio, size)}
            with_safety(config, batch.safety)
            shas = [r.sha256 for r in refs]
            takes = b.takes(item.variants)

            def take_keys_of(n: int, notes: tuple[str, ...], sid: str = item.id, first: str = first,
                             model: str = model, config: dict[str, Any] = config, shas: list[str] = shas,
                             takes: int = takes) -> list[str]:
                return [keys.generate_key(BATCH_TYPE, batch.name, sid, references=shas, model=model,
                                          prompt=prompts.with_part(first, prompts.review_clause(notes)),
                                          generation_config=config, take=t, round=n)
                        for t in range(1, takes + 1)]

            settled, n, notes = rounds.steer(picked, take_keys_of, lambda k: self.records.get(k, []),
                                             b.opts.verdicts, b.opts.force or b.opts.refresh_picked)
            prompt = prompts.with_part(first, prompts.review_clause(notes))
            take_keys = take_keys_of(n, notes)
            for take, key in enumerate(take_keys, start=1):
                reason = self._reason(key, item.id, (prompt, shas, model, config))
                if reason is None:
                    continue
                if settled is not None:  # picked (planner.rounds)
                    b.skipped.append(Skip(key=key, reason="picked", entity_type=BATCH_TYPE, slug=batch.name,
                                          scene=item.id, detail=f"{settled} picked; {reason}"))
                    continue
                reason = REJECTED if n and key not in self.records else b.new_take(reason, take, take_keys,
                                                                                   lambda k: k in self.records)
                b.tasks.append(Task(
                    key=key, kind="generate", entity_type=BATCH_TYPE, slug=batch.name, scene=item.id,
                    prompt=prompt, model=model, output_dir=batch.output, output_stem=self._stem(item, safe, take, n),
                    title=item.title, references=tuple(refs), generation_config=config, reason=reason,
                    chunk=len(b.tasks) // b.opts.chunk_size, entity_file=self.entity_file,
                ))
                if item.retries is not None:
                    self.retries[key] = item.retries
                self._count(model, "generate", prompt, len(refs), size)

    def _stem(self, item: BatchItem, safe: str, take: int, n: int) -> str:
        """A user's own output name gets ``-r{round}`` (a round after rejected takes, which must
        not overwrite them) and ``-v{take}`` after it; otherwise as the tree names takes."""
        if not item.output:
            return keys.take_stem(safe, take, self.b.opts.run_stamp)
        return item.output + (f"-r{n}" if n else "") + (f"-v{take}" if take > 1 else "")

    def _references_fit(self, item: BatchItem, count: int, model: str) -> bool:
        """A compose (or any item) within the model's reference limit; a derive or compose whose
        references name the same file twice no longer has its count."""
        limit = catalogue.reference_limit(model)
        if count > limit:
            self.problems.append(ContentError(self.shown, f"item {item.id!r} has {count} references; {model} takes "
                                              f"at most {limit} per request", item.line))
            return False
        wanted = {"derive": 1, "compose": 2}.get(item.type, 0)
        if count < wanted <= len(item.references):  # fewer written is already a problem of check()
            self.problems.append(ContentError(self.shown, f"item {item.id!r} is a {item.type}: its references name "
                                              f"{count} different file(s), it needs {wanted if wanted == 1 else '2 or more'}",
                                              item.line))
            return False
        return True

    def analyze(self) -> None:
        batch, b = self.batch, self.b
        seen: dict[str, int] = {}
        for written, line in self.batch.images:
            ref = self._ref(written, line, "image", ANALYSABLE_EXTS)
            if ref is None:
                continue
            name = posixpath.basename(ref.path)
            if name.casefold() in seen:
                self.problems.append(ContentError(self.shown, f"image {written!r}: another image is also named "
                                                  f"{name!r} (line {seen[name.casefold()]}); their analyses would "
                                                  "share a file name", line))
                continue
            seen[name.casefold()] = line
            stem = os.path.splitext(name)[0]
            config = dict(b.analysis_config)
            with_safety(config, batch.safety)
            key = keys.analyze_key(BATCH_TYPE, batch.name, stem, prompt=b.analysis_prompt, image_sha256=ref.sha256,
                                   model=b.model, generation_config=config)
            scene = f"analyze:{stem}"
            reason = self._reason(key, scene, (b.analysis_prompt, [ref.sha256], b.model, config))
            if reason is None:
                continue
            b.tasks.append(Task(
                key=key, kind="analyze", entity_type=BATCH_TYPE, slug=batch.name, scene=scene,
                prompt=b.analysis_prompt, model=b.model, output_dir=batch.output, output_stem=name,
                input_image=ref, generation_config=config, reason=reason, chunk=len(b.tasks) // b.opts.chunk_size,
                entity_file=self.entity_file,
            ))
            self._count(b.model, "analyze", b.analysis_prompt, 1)

    def _count(self, model: str, kind: str, prompt: str, images_in: int, size: str = "") -> None:
        default = self.b.model
        self.b.model = model  # the builder counts usage under its current model
        try:
            self.b._count(kind, prompt, images_in, size)
        finally:
            self.b.model = default


__all__ = ["BatchFile", "BatchItem", "build_batch_plan", "check", "is_batch_plan", "load"]
