"""The model catalogue: which Gemini models chargen-es knows, what they are for, and their fate.

Why a catalogue: Google renames, deprecates, retires and reroutes models every few weeks,
and a batch job on a shut-down model answers 404 only after every reference has been
uploaded; a retired model may also keep answering, with another model behind it and at
another price. Knowing the status offline lets ``--dry-run`` warn about a deprecated or
rerouted model and refuse a shut-down one, naming its replacement, before anything is sent.

Why a data file: a catalogue written into the code rots in weeks. The facts live in
``catalogue.json`` beside this module, stamped with the day they were read (``read_on``)
and a source for each fact (``sources``: status, prices, tokens, limits) plus a ``note``
for what could not be confirmed. A user lays a newer file over it without upgrading
chargen-es: ``$CHARGEN_ES_CATALOGUE``, else ``$XDG_CONFIG_HOME/chargen-es/catalogue.json``
(``~/.config/chargen-es/catalogue.json`` when ``XDG_CONFIG_HOME`` is unset). That file
has the same shape; each of its models replaces the fields it names of the packaged
entry with the same id (or adds a model), its ``read_on`` becomes the catalogue's age when
newer, and its ``defaults`` replace ours. ``chargen.yaml``'s ``prices:`` is laid over the
result (:mod:`chargen_es.planner.pricing`). A user file that cannot be read is not
ignored silently: :data:`PROBLEM` names it and the planner refuses to plan with it.

Statuses: ``ga``, ``preview``, ``deprecated`` (announced, still served), ``retired_routed``
(Google answers its requests with ``answered_by`` since ``routed_since``, billed at that
model's price) and ``shut_down``. Judging a model is pure (:func:`fate`): the day is a
parameter, never read here.

This module imports nothing of ours: the planner (prices, defaults, limits), the engine
(the pre-flight check) and the cli (``models``, ``doctor``) all read it. Loading reads the
environment and at most two small files, once, at import.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import msgspec

Purpose = Literal["image", "text"]
Status = Literal["ga", "preview", "deprecated", "retired_routed", "shut_down"]

PACKAGED = Path(__file__).with_name("catalogue.json")
ENV_FILE = "CHARGEN_ES_CATALOGUE"

# Reference images per request for a model whose limit the catalogue does not give: Gemini
# 3's image models take up to 14 (the data file's sources), so 14 until one is known lower.
DEFAULT_REFERENCE_LIMIT = 14


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One model as the catalogue knows it. Prices are USD per 1M tokens, live (batch: 50 %)."""

    id: str
    purpose: Purpose
    status: Status
    batch: bool = True  # batchGenerateContent; the pre-flight confirms it per key with models.get
    released: date | None = None
    shutdown: date | None = None
    replacement: str | None = None
    answered_by: str | None = None  # retired_routed: the model Google answers with
    routed_since: date | None = None  # retired_routed: from this day on
    priced: bool = True  # False: no price could be confirmed; the estimate counts it as $0
    input_usd: float = 0.0
    output_usd: float = 0.0  # text output (and thinking tokens)
    image_output_usd: float = 0.0  # image output tokens (image models)
    image_sizes: dict[str, int] = {}  # imageSize -> tokens one generated image is billed as
    default_size: str = "1K"  # the size Google makes when no imageSize is sent
    image_input_tokens: int = 258  # tokens one input image is counted as
    thinking_tokens: int = 0  # estimated thinking tokens per request, billed at output_usd
    aspect_ratios: tuple[str, ...] = ()  # what it takes; empty: not known, not checked
    max_reference_images: int = DEFAULT_REFERENCE_LIMIT  # reference images one request may carry
    price_until: date | None = None  # the recorded price is announced to change after this day
    sources: dict[str, str] = {}  # fact -> where it was read, with the date
    note: str = ""  # what could not be confirmed

    @property
    def source(self) -> str:
        """Every source, one string (``fact: where``)."""
        return "; ".join(f"{fact}: {where}" for fact, where in self.sources.items())

    @property
    def image_output_tokens(self) -> int:
        """Tokens one image of the default size is billed as."""
        return self.image_sizes.get(self.default_size, 0)

    def usable_on(self, day: date) -> bool:
        """False once the model is shut down (by status or by its shutdown date)."""
        if self.status == "shut_down":
            return False
        return self.shutdown is None or day < self.shutdown

    def routed_on(self, day: date) -> str | None:
        """The model that answers this one's requests on ``day``, or None."""
        if self.status != "retired_routed" or self.answered_by is None:
            return None
        return self.answered_by if self.routed_since is None or day >= self.routed_since else None

    def image_tokens(self, size: str = "") -> int:
        """Tokens one generated image of ``size`` is billed as (the default size if not given)."""
        return self.image_sizes.get(size or self.default_size, self.image_output_tokens)


class Defaults(msgspec.Struct, frozen=True, kw_only=True):
    generate: str
    analyze: str
    why: str = ""


class CatalogueFile(msgspec.Struct, frozen=True, kw_only=True):
    """``catalogue.json`` (and a user's override file, after merging)."""

    read_on: date
    models: list[ModelInfo]
    defaults: Defaults
    batch_discount: float = 0.5
    batch_discount_source: str = ""
    about: str = ""


def override_path(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """Where a user's newer catalogue lives (it need not exist)."""
    env = os.environ if env is None else env
    if env.get(ENV_FILE):
        return Path(env[ENV_FILE])
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "chargen-es" / "catalogue.json"


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Lay ``over`` on ``base``: models by id and field by field, the newer ``read_on``, its defaults."""
    models = {m["id"]: dict(m) for m in base.get("models", [])}
    order = list(models)
    for m in over.get("models", []):
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            raise ValueError("every model needs an 'id'")
        if m["id"] in models:
            models[m["id"]].update(m)
        else:
            models[m["id"]] = dict(m)
            order.append(m["id"])
    out = {**base, "models": [models[i] for i in order]}
    if str(over.get("read_on", "")) > str(base.get("read_on", "")):
        out["read_on"] = over["read_on"]
    if isinstance(over.get("defaults"), dict):
        out["defaults"] = {**base.get("defaults", {}), **over["defaults"]}
    for key in ("batch_discount", "batch_discount_source"):
        if key in over:
            out[key] = over[key]
    return out


def load(packaged: Path = PACKAGED, override: Path | None = None) -> tuple[CatalogueFile, str | None, str | None]:
    """The catalogue with a user's file laid over it: (catalogue, the file used, its problem)."""
    raw = json.loads(packaged.read_text(encoding="utf-8"))
    if override is None or not override.is_file():
        return msgspec.convert(raw, CatalogueFile), None, None
    try:
        merged = merge(raw, json.loads(override.read_text(encoding="utf-8")))
        return msgspec.convert(merged, CatalogueFile), str(override), None
    except (OSError, ValueError, msgspec.ValidationError) as exc:
        return msgspec.convert(raw, CatalogueFile), str(override), f"{override}: not a catalogue ({exc})"


CATALOGUE, OVERRIDE, PROBLEM = load(override=override_path())
READ_ON: date = CATALOGUE.read_on  # the day the catalogue's facts were read
# The Batch API bills half the live price for every token kind.
BATCH_DISCOUNT = CATALOGUE.batch_discount
MODELS: dict[str, ModelInfo] = {m.id: m for m in CATALOGUE.models}

# The defaults are current GA models with no shutdown date; ``defaults.why`` in the data
# file says why each was chosen.
DEFAULT_GENERATE_MODEL = CATALOGUE.defaults.generate
DEFAULT_ANALYZE_MODEL = CATALOGUE.defaults.analyze
DEFAULTS_WHY = CATALOGUE.defaults.why
# The cheapest priced text model usable today (input $0.25, output $1.50 per 1M tokens);
# ``cheapest_text_model(READ_ON)`` must agree (a test checks it).
CHEAPEST_TEXT_MODEL = "gemini-3.1-flash-lite"


def lookup(model_id: str) -> ModelInfo | None:
    """The catalogue entry for ``model_id`` (``models/`` prefix allowed), or None."""
    return MODELS.get(model_id.removeprefix("models/"))


def age_days(today: date) -> int:
    """How many days ago the catalogue's facts were read."""
    return (today - READ_ON).days


def cheapest_text_model(day: date) -> str:
    """The priced text model usable (and answering as itself) on ``day`` with the lowest cost of a small request.

    Weighed as 1000 input and 300 output tokens, about one analysis answer.
    """
    usable = [m for m in MODELS.values()
              if m.purpose == "text" and m.priced and m.usable_on(day) and m.routed_on(day) is None]
    return min(usable, key=lambda m: (m.input_usd * 1000 + m.output_usd * 300, m.id)).id


Verdict = Literal["ok", "deprecated", "routed", "shut_down", "unknown"]


class Fate(msgspec.Struct, frozen=True):
    """What the planner should say about a model on a given day, as one line."""

    verdict: Verdict
    text: str
    info: ModelInfo | None = None
    answered_by: str | None = None  # routed: the model whose answers (and price) the requests get


def reference_limit(model: str) -> int:
    """How many reference images one request to ``model`` may carry (14 for a model not listed);
    a retired model Google answers with another one takes what that one takes."""
    info = lookup(model)
    if info is not None and info.answered_by:
        info = lookup(info.answered_by) or info
    return info.max_reference_images if info is not None else DEFAULT_REFERENCE_LIMIT


def fate(model_id: str, day: date) -> Fate:
    """Judge ``model_id`` on ``day`` without any API call (pure: the day is a parameter).

    ``shut_down``: its status says so or its shutdown date has come (refuse it);
    ``routed``: retired, and Google answers its requests with another model (warn, naming
    it: the work still gets done, at the other model's price);
    ``deprecated``: deprecated, or a shutdown or routing date is announced and still ahead (warn);
    ``unknown``: not in the catalogue, perhaps newer than it (warn); ``ok`` otherwise.
    """
    info = lookup(model_id)
    if info is None:
        return Fate("unknown", f"model {model_id} is not in the catalogue (it may be newer than this release)")
    use = f"; use {info.replacement}" if info.replacement else ""
    if not info.usable_on(day):
        when = f" on {info.shutdown.isoformat()}" if info.shutdown else ""
        return Fate("shut_down", f"model {model_id} was shut down{when}{use}", info)
    answered = info.routed_on(day)
    if answered is not None:
        since = f" on {info.routed_since.isoformat()}" if info.routed_since else ""
        return Fate("routed", f"model {model_id} was retired{since}: Google answers its requests with {answered}, "
                    f"at {answered}'s price{use}", info, answered)
    if info.status == "retired_routed" and info.routed_since is not None:
        return Fate("deprecated", f"model {model_id} is retired on {info.routed_since.isoformat()}; from then on "
                    f"Google answers its requests with {info.answered_by}{use}", info)
    if info.shutdown is not None:
        return Fate("deprecated", f"model {model_id} shuts down on {info.shutdown.isoformat()}"
                    + (f"; its replacement is {info.replacement}" if info.replacement else ""), info)
    if info.status == "deprecated":
        return Fate("deprecated", f"model {model_id} is deprecated (no shutdown date known){use}", info)
    return Fate("ok", f"model {model_id} is {info.status}", info)


Drift = Literal["not_visible", "unknown", "listed_after_shutdown", "no_batch", "extra_fields"]


class Disagreement(msgspec.Struct, frozen=True):
    """One way the catalogue and a key's live ``models.list`` disagree."""

    model: str
    kind: Drift
    text: str


def compare(listed: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]], day: date) -> list[Disagreement]:
    """Every disagreement between the catalogue and ``listed`` (model id -> (supported methods,
    fields the Model resource carries beyond the proto's)), as read on ``day``. Pure.

    - ``not_visible``: a catalogue model not shut down that the key cannot see;
    - ``unknown``: a listed model that serves generateContent and the catalogue does not know;
    - ``listed_after_shutdown``: listed although the catalogue says it is shut down;
    - ``no_batch``: the catalogue says batch, the listing lacks ``batchGenerateContent``;
    - ``extra_fields``: the resource carries fields the catalogue does not read (Google's
      lifecycle metadata, if it ever arrives there: today it rides on each response).
    """
    out: list[Disagreement] = []
    read = f"catalogue read {READ_ON.isoformat()}"
    for info in sorted(MODELS.values(), key=lambda m: m.id):
        seen = listed.get(info.id)
        if seen is None:
            if info.usable_on(day):
                routed = f"; Google answers it with {info.answered_by}" if info.answered_by else ""
                out.append(Disagreement(info.id, "not_visible", f"{info.id}: in the catalogue "
                                        f"({info.status.replace('_', ' ')}{routed}) but not visible to this key"))
            continue
        methods, _ = seen
        if not info.usable_on(day):
            out.append(Disagreement(info.id, "listed_after_shutdown", f"{info.id}: listed by this key although the "
                                    f"catalogue says it was shut down ({read})"))
        elif info.batch and "generateContent" in methods and "batchGenerateContent" not in methods:
            out.append(Disagreement(info.id, "no_batch", f"{info.id}: the catalogue says it takes batch jobs, "
                                    "the listing has no batchGenerateContent"))
    for model_id in sorted(listed):
        methods, extra = listed[model_id]
        if model_id not in MODELS and "generateContent" in methods:
            out.append(Disagreement(model_id, "unknown", f"{model_id}: listed by this key, not in the catalogue ({read})"))
        if extra:
            fields = ", ".join(f"{k}={v}" for k, v in extra)
            out.append(Disagreement(model_id, "extra_fields", f"{model_id}: the Model resource carries fields the "
                                    f"catalogue does not read: {fields}"))
    return out
