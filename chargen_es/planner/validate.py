"""Pre-flight checks on parsed content files, collecting every problem with its line.

Each ``check_*`` function takes a parsed document (``LineDict`` / ``LineList`` from
:mod:`.yamlio`) and returns what it could make of it plus a list of
:class:`~chargen_es.errors.ContentError`. Nothing raises on a content problem: the
planner wants them all at once, so a user fixes a tree in one pass instead of one error
per run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chargen_es import catalogue
from chargen_es.errors import ContentError
from chargen_es.planner.consistency import Spec, check_spec
from chargen_es.planner.durations import parse_duration
from chargen_es.planner.limits import ASPECT_RATIOS, normalise_size, size_problem
from chargen_es.planner.prompts import DEFAULT_ANALYSIS_PROMPT
from chargen_es.planner.unknown_keys import (
    ANALYSIS_KEYS,
    ENTITY_KEYS,
    IDEAS_KEYS,
    MODELS_KEYS,
    SCENE_KEYS,
    WORKSPACE_KEYS,
    unknown_keys,
)
from chargen_es.planner.yamlio import LineDict, LineList

_ASPECT_SET = frozenset(ASPECT_RATIOS)
DEFAULT_GENERATE_MODEL = catalogue.DEFAULT_GENERATE_MODEL
DEFAULT_ANALYZE_MODEL = catalogue.DEFAULT_ANALYZE_MODEL
DEFAULT_ASPECT_RATIO = "1:1"


@dataclass(slots=True)
class Workspace:
    """``chargen.yaml`` with defaults filled in."""

    style: str = ""
    generate_model: str = DEFAULT_GENERATE_MODEL
    analyze_model: str = DEFAULT_ANALYZE_MODEL
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    analysis_prompt: str = DEFAULT_ANALYSIS_PROMPT
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    generate_model_line: int = 0  # where chargen.yaml names the model (0: the default)
    analyze_model_line: int = 0
    deadline_s: float | None = None  # ``deadline:``: batch work left after it finishes live
    store: bool = False  # ``store: true``: let Google keep the requests in the project's logs
    image_size: str = ""  # ``image_size:`` normalised ("" : the model's default size)
    image_size_line: int = 0
    aspect_ratio_line: int = 0
    consistency: Spec = field(default_factory=Spec)  # the default for every entity
    variants: int = 0  # ``variants:``: takes per scene for every entity (0: not set, one take)
    keep_results: bool = False  # ``keep_results:``: keep raw results files after they are applied
    options: dict[str, Any] = field(default_factory=dict)  # ``options:`` (the guide's run options)
    safety: dict[str, str] = field(default_factory=dict)  # ``safety:`` category -> threshold, for every entity


@dataclass(slots=True)
class SceneSpec:
    """One scene idea as written, references still entity-relative."""

    id: str
    prompt: str
    title: str = ""
    aspect_ratio: str = ""
    negative_prompt: str = ""
    references: list[tuple[str, int]] = field(default_factory=list)  # (as written, line)
    image_size: str = ""  # normalised; "" when the scene does not say
    line: int = 0  # the scene's ``id`` line
    image_size_line: int = 0
    aspect_ratio_line: int = 0
    variants: int = 0  # takes of this scene (0: not set; the entity's or workspace's count)


@dataclass(slots=True)
class EntityDoc:
    """The entity file's fields."""

    name: str = ""
    description: str = ""
    style: str = ""
    references: list[tuple[str, int]] = field(default_factory=list)
    consistency: Spec = field(default_factory=Spec)
    variants: int = 0  # takes of each of its scenes (0: not set)
    safety: dict[str, str] = field(default_factory=dict)  # over chargen.yaml's, category by category
    image_size: str = ""
    image_size_line: int = 0


def _image_size(doc: LineDict, file: str, problems: list[ContentError]) -> tuple[str, int]:
    """``image_size`` normalised (``2k`` -> ``2K``) with its line, or a problem; ("", 0) when absent."""
    if "image_size" not in doc:
        return "", 0
    line = doc.line_of("image_size")
    size = normalise_size(doc["image_size"])
    if size is None:
        problems.append(ContentError(file, size_problem(doc["image_size"]), line))
        return "", line
    return size, line


def _as_text(doc: LineDict, key: str, value: Any, file: str, problems: list[ContentError]) -> str:
    """Text as written; a number is taken as its text; anything else is a problem."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    problems.append(ContentError(file, f"{key} must be text", doc.line_of(key)))
    return ""


def _opt_text(doc: LineDict, key: str, file: str, problems: list[ContentError]) -> str:
    value = doc.get(key)
    if value is None:
        return ""
    return value if value.__class__ is str else _as_text(doc, key, value, file, problems)


def _required_text(doc: LineDict, key: str, what: str, file: str, problems: list[ContentError]) -> str:
    value = doc.get(key)
    if value.__class__ is str and value and not value.isspace():
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append(ContentError(file, f"{what} is missing required field '{key}'", doc.line_of(key)))
        return ""
    return _as_text(doc, key, value, file, problems)


def _references(doc: LineDict, file: str, problems: list[ContentError]) -> list[tuple[str, int]]:
    value = doc.get("references")
    if value is None:
        return []
    if isinstance(value, str):
        return [(value, doc.line_of("references"))]
    if not isinstance(value, list):
        problems.append(ContentError(file, "references must be a list of paths", doc.line_of("references")))
        return []
    out = []
    for i, item in enumerate(value):
        line = value.line_of(i) if isinstance(value, LineList) else doc.line_of("references")
        if not isinstance(item, str) or not item.strip():
            problems.append(ContentError(file, "a reference must be a non-empty path", line))
        else:
            out.append((item, line))
    return out


MAX_VARIANTS = 20  # takes of one scene; more is almost surely a typo, and each one is paid for


def variants_problem(value: Any) -> str | None:
    """Why a ``variants`` value cannot be used, or None (a whole number 1..MAX_VARIANTS)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VARIANTS:
        return f"variants must be a whole number from 1 to {MAX_VARIANTS} (takes of each scene), not {value!r}"
    return None


def _variants(doc: LineDict, file: str, problems: list[ContentError]) -> int:
    """``variants: N`` (takes per scene), 0 when absent."""
    value = doc.get("variants")
    if value is None:
        return 0
    problem = variants_problem(value)
    if problem is not None:
        problems.append(ContentError(file, problem, doc.line_of("variants")))
        return 0
    return int(value)


def aspect_ratio_ok(value: Any) -> bool:
    return isinstance(value, str) and value in _ASPECT_SET


def _aspect_problem(value: Any) -> str:
    return f"unknown aspect ratio {value!r}; use one of {', '.join(ASPECT_RATIOS)}"


def check_workspace(doc: Any, file: str) -> tuple[Workspace, list[ContentError]]:
    """Validate ``chargen.yaml``; every field is optional."""
    ws = Workspace()
    problems: list[ContentError] = []
    if doc is None:
        return ws, problems
    if not isinstance(doc, LineDict):
        return ws, [ContentError(file, "must be a mapping at the top level", 1)]
    problems.extend(unknown_keys(doc, WORKSPACE_KEYS, file))
    ws.style = _opt_text(doc, "style", file, problems)
    models = doc.get("models")
    if isinstance(models, LineDict):
        problems.extend(unknown_keys(models, MODELS_KEYS, file, "models"))
        for key in ("generate", "analyze"):
            value = models.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(ContentError(file, f"models.{key} must be a model name", models.line_of(key)))
            elif key == "generate":
                ws.generate_model = value.strip()
                ws.generate_model_line = models.line_of(key)
            else:
                ws.analyze_model = value.strip()
                ws.analyze_model_line = models.line_of(key)
    elif models is not None:
        problems.append(ContentError(file, "models must be a mapping (generate, analyze)", doc.line_of("models")))
    if "aspect_ratio" in doc:
        ws.aspect_ratio_line = doc.line_of("aspect_ratio")
        if aspect_ratio_ok(doc["aspect_ratio"]):
            ws.aspect_ratio = doc["aspect_ratio"]
        else:
            problems.append(ContentError(file, _aspect_problem(doc["aspect_ratio"]), doc.line_of("aspect_ratio")))
    ws.image_size, ws.image_size_line = _image_size(doc, file, problems)
    analysis = doc.get("analysis")
    if isinstance(analysis, LineDict):
        problems.extend(unknown_keys(analysis, ANALYSIS_KEYS, file, "analysis"))
        prompt = _opt_text(analysis, "prompt", file, problems)
        if prompt.strip():
            ws.analysis_prompt = prompt
    elif analysis is not None:
        problems.append(ContentError(file, "analysis must be a mapping (prompt)", doc.line_of("analysis")))
    ws.prices = _prices(doc, file, problems)
    if doc.get("deadline") is not None:
        try:
            ws.deadline_s = parse_duration(doc["deadline"])
        except ValueError as exc:
            problems.append(ContentError(file, f"deadline: {exc}", doc.line_of("deadline")))
    if doc.get("keep_results") is not None:
        if isinstance(doc["keep_results"], bool):
            ws.keep_results = doc["keep_results"]
        else:
            problems.append(ContentError(file, "keep_results must be true or false", doc.line_of("keep_results")))
    if doc.get("safety") is not None:
        ws.safety = check_safety(doc, lambda message, line: problems.append(ContentError(file, message, line)))
    for name in ("api_key", "apiKey", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        if name in doc:  # the tree is what gets committed: a key here would go with it
            problems.append(ContentError(file, f"{name}: an API key does not belong in the content tree (it would "
                                         "be committed with it); set GEMINI_API_KEY or put it in "
                                         "~/.config/chargen-es/credentials (chmod 600)", doc.line_of(name)))
    if doc.get("options") is not None:
        ws.options = check_run_options(doc, lambda message, line: problems.append(ContentError(file, message, line)))
    if "store" in doc:
        if isinstance(doc["store"], bool):
            ws.store = doc["store"]
        else:
            problems.append(ContentError(file, f"store must be true or false, not {doc['store']!r}",
                                         doc.line_of("store")))
    ws.consistency = check_spec(doc, file, problems, workspace=True)
    ws.variants = _variants(doc, file, problems)
    return ws, problems


# The batch generation guide's run options (``options:`` in a batch file or chargen.yaml), as
# written there, and the names the plan's config gives them.
RUN_OPTIONS = {"delay": "delay_ms", "maxConcurrent": "max_concurrent", "stopOnError": "stop_on_error"}


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


# Safety settings the Gemini API takes (google-genai 3.x, ``types.HarmCategory`` and
# ``types.HarmBlockThreshold``): every member but the UNSPECIFIED ones, the image categories
# the SDK documents as "not supported in Gemini API" (Vertex AI only) and the civic
# integrity category it documents as deprecated ("no longer supported").
# tests/planner/test_safety.py checks these against the installed SDK's enums.
SAFETY_CATEGORIES = ("HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
                     "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_JAILBREAK")
SAFETY_THRESHOLDS = ("BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF")


def check_safety(doc: LineDict, bad: Callable[[str, int], None]) -> dict[str, str]:
    """``safety: {HARM_CATEGORY_*: threshold}`` as written (chargen.yaml, an entity file, a
    batch file); an unknown category or threshold is a problem naming the accepted ones."""
    safety = doc.get("safety")
    if not isinstance(safety, LineDict):
        bad("safety must be a mapping of HARM_CATEGORY_* to a threshold", doc.line_of("safety"))
        return {}
    out: dict[str, str] = {}
    for category, threshold in safety.items():
        line = safety.line_of(category)
        if threshold is False:  # YAML 1.1 reads an unquoted OFF as false: the user wrote OFF
            threshold = "OFF"
        if category not in SAFETY_CATEGORIES:
            bad(f"safety: unknown category {category!r}; use one of {', '.join(SAFETY_CATEGORIES)}", line)
        elif threshold not in SAFETY_THRESHOLDS:
            bad(f"safety.{category}: unknown threshold {threshold!r}; use one of {', '.join(SAFETY_THRESHOLDS)}",
                line)
        else:
            out[category] = threshold
    return out


def safety_settings(*layers: dict[str, str]) -> list[dict[str, str]]:
    """The request's ``safetySettings``: later layers win per category, in one canonical order
    (so the task key does not depend on how the files list them); [] sends nothing, which
    is Google's standard filtering."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return [{"category": c, "threshold": merged[c]} for c in SAFETY_CATEGORIES if c in merged]


def check_run_options(doc: LineDict, bad: Callable[[str, int], None]) -> dict[str, Any]:
    """``options: {delay, maxConcurrent, stopOnError}`` → the plan config's ``options``.

    ``delay``: the least milliseconds between two live calls' starts; ``maxConcurrent``:
    live workers; ``stopOnError``: stop the run (resumably) at the first permanent failure.
    """
    options = doc.get("options")
    if not isinstance(options, LineDict):
        bad("options must be a mapping of delay, maxConcurrent, stopOnError", doc.line_of("options"))
        return {}
    out: dict[str, Any] = {}
    for name, value in options.items():
        line = options.line_of(name)
        if name not in RUN_OPTIONS:
            bad(f"unknown option {name!r}; options are {', '.join(RUN_OPTIONS)}", line)
        elif name == "delay" and not _whole(value, 0):
            bad("options.delay must be a whole number of milliseconds >= 0", line)
        elif name == "maxConcurrent" and not _whole(value, 1):
            bad("options.maxConcurrent must be a whole number >= 1 (live workers)", line)
        elif name == "stopOnError" and not isinstance(value, bool):
            bad("options.stopOnError must be true or false", line)
        else:
            out[RUN_OPTIONS[name]] = value
    return out


_PRICE_FIELDS = ("input", "output", "image_output")
_TOKEN_FIELDS = ("image_tokens", "image_input_tokens", "thinking_tokens")


def _prices(doc: LineDict, file: str, problems: list[ContentError]) -> dict[str, dict[str, float]]:
    """``prices: {model: {input, output, image_output, image_tokens, ...}}``: see planner.pricing."""
    prices = doc.get("prices")
    if prices is None:
        return {}
    if not isinstance(prices, LineDict):
        problems.append(ContentError(file, "prices must map model names to {input, output}", doc.line_of("prices")))
        return {}
    out: dict[str, dict[str, float]] = {}
    allowed = ", ".join(_PRICE_FIELDS + _TOKEN_FIELDS)
    for model, entry in prices.items():
        line = prices.line_of(model)
        if not isinstance(entry, LineDict):
            problems.append(ContentError(file, f"prices.{model} must be a mapping of input/output USD per 1M tokens", line))
            continue
        parsed: dict[str, float] = {}
        for side, value in entry.items():
            if side not in _PRICE_FIELDS and side not in _TOKEN_FIELDS:
                problems.append(ContentError(file, f"prices.{model}.{side} is not a price field; use {allowed}",
                                             entry.line_of(side)))
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                problems.append(ContentError(file, f"prices.{model}.{side} must be a number >= 0", entry.line_of(side)))
            elif side in _TOKEN_FIELDS and not float(value).is_integer():
                problems.append(ContentError(file, f"prices.{model}.{side} must be a whole number of tokens",
                                             entry.line_of(side)))
            else:
                parsed[str(side)] = float(value)
        out[str(model)] = parsed
    return out


# A scene id names an output file and is part of the task key, so anything a file system
# or a key reader would take as structure is refused up front, never silently sanitised.
_UNSAFE_ID = re.compile(r"[/\\\x00-\x1f\x7f-\x9f]|\.\.")


def scene_id_problem(sid: str) -> str | None:
    """Why a scene id cannot be used, or None: ``/``, ``\\``, ``..`` or a control character."""
    m = _UNSAFE_ID.search(sid)
    if m is None:
        return None
    found = m.group()
    what = {"/": "'/'", "\\": "'\\'", "..": "'..'"}.get(found, f"a control character (U+{ord(found[0]):04X})")
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in sid)
    return f'scene id "{shown}" contains {what}; scene ids name files: use letters, digits, spaces, - or _'


_PLAIN_KEYS = frozenset({"id", "prompt", "title", "aspect_ratio", "negative_prompt"})  # the rest needs parsing


def _plain_scene(item: LineDict) -> SceneSpec | None:
    """The common case in one pass: only text fields, all valid (no references).

    Returns None whenever anything needs a closer look, and the full checks run.
    """
    sid = item.get("id")
    prompt = item.get("prompt")
    if sid.__class__ is not str or prompt.__class__ is not str or not item.keys() <= _PLAIN_KEYS:
        return None
    if not sid.strip() or not prompt.strip() or _UNSAFE_ID.search(sid):
        return None
    title = item.get("title", "")
    negative = item.get("negative_prompt", "")
    ratio = item.get("aspect_ratio", "")
    if title.__class__ is not str or negative.__class__ is not str or (ratio and ratio not in _ASPECT_SET):
        return None
    return SceneSpec(id=sid.strip(), prompt=prompt, title=title, aspect_ratio=ratio, negative_prompt=negative,
                     line=item.line_of("id"), aspect_ratio_line=item.line_of("aspect_ratio") if ratio else 0)


def check_entity(doc: Any, file: str, kind: str) -> tuple[EntityDoc, list[ContentError]]:
    """Validate an entity file (``character.yaml`` and friends): name and description."""
    problems: list[ContentError] = []
    ent = EntityDoc()
    if not isinstance(doc, LineDict):
        return ent, [ContentError(file, "must be a mapping with name and description", 1)]
    problems.extend(unknown_keys(doc, ENTITY_KEYS, file))
    ent.name = _required_text(doc, "name", kind, file, problems)
    ent.description = _required_text(doc, "description", kind, file, problems)
    ent.style = _opt_text(doc, "style", file, problems)
    ent.references = _references(doc, file, problems)
    ent.consistency = check_spec(doc, file, problems, workspace=False)
    ent.image_size, ent.image_size_line = _image_size(doc, file, problems)
    ent.variants = _variants(doc, file, problems)
    if doc.get("safety") is not None:
        ent.safety = check_safety(doc, lambda message, line: problems.append(ContentError(file, message, line)))
    return ent, problems


def check_scenes(doc: Any, file: str) -> tuple[list[SceneSpec], list[ContentError]]:
    """Validate ``image_ideas.yaml``: ``scenes: [...]`` (a bare list is accepted too)."""
    problems: list[ContentError] = []
    if isinstance(doc, LineDict):
        problems.extend(unknown_keys(doc, IDEAS_KEYS, file))
        if "scenes" not in doc:
            return [], [*problems, ContentError(file, "missing required field 'scenes'", doc.line)]
        items = doc["scenes"]
        if items is None:
            return [], problems
        if not isinstance(items, list):
            return [], [*problems, ContentError(file, "scenes must be a list", doc.line_of("scenes"))]
    elif isinstance(doc, list):
        items = doc
    else:
        return [], [ContentError(file, "must be a mapping with a scenes list", 1)]
    scenes: list[SceneSpec] = []
    first_seen: dict[str, LineDict] = {}
    for i, item in enumerate(items):
        if not isinstance(item, LineDict):
            line = items.line_of(i) if isinstance(items, LineList) else 1
            problems.append(ContentError(file, "a scene must be a mapping with id and prompt", line))
            continue
        scene = _scene(item, file, problems)
        if scene is None:
            continue
        if scene.id in first_seen:
            first = first_seen[scene.id].line_of("id")
            problems.append(ContentError(
                file, f'scene id "{scene.id}" used twice (first at line {first})', item.line_of("id")
            ))
            continue
        first_seen[scene.id] = item
        scenes.append(scene)
    return scenes, problems


def _scene(item: LineDict, file: str, problems: list[ContentError]) -> SceneSpec | None:
    fast = _plain_scene(item)
    if fast is not None:
        return fast
    before = len(problems)
    sid = _required_text(item, "id", "scene", file, problems)
    problems.extend(unknown_keys(item, SCENE_KEYS, file, f'scene "{sid}"' if sid else "a scene"))
    prompt = _required_text(item, "prompt", "scene" + (f' "{sid}"' if sid else ""), file, problems)
    title = _opt_text(item, "title", file, problems)
    negative = _opt_text(item, "negative_prompt", file, problems)
    ratio = item.get("aspect_ratio")
    if ratio is not None and not aspect_ratio_ok(ratio):
        problems.append(ContentError(file, _aspect_problem(ratio), item.line_of("aspect_ratio")))
    refs = _references(item, file, problems)
    size, size_line = _image_size(item, file, problems)
    variants = _variants(item, file, problems)
    if sid and (problem := scene_id_problem(sid.strip())):
        problems.append(ContentError(file, problem, item.line_of("id")))
        return None
    if len(problems) != before and not sid:
        return None
    return SceneSpec(
        id=sid.strip(), prompt=prompt, title=title, aspect_ratio=ratio or "",
        negative_prompt=negative, references=refs, variants=variants, image_size=size, line=item.line_of("id"),
        image_size_line=size_line, aspect_ratio_line=item.line_of("aspect_ratio") if ratio is not None else 0,
    )
