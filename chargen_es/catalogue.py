"""The model catalogue: which Gemini models chargen-es knows, what they are for, and their fate.

Why a catalogue: Google renames, deprecates and shuts down models every few months, and a
batch job on a shut-down model answers 404 only after every reference has been uploaded.
Knowing the status offline lets ``--dry-run`` warn about a deprecated model and refuse a
shut-down one, naming its replacement, before anything is sent. Every entry carries the
pages its facts were read from and the date they were read (``source``), and says in
``note`` what could not be confirmed; ``chargen.yaml`` can add models and override prices
(``prices``, see :mod:`chargen_es.planner.pricing`), so a new model needs no new release.

How the facts were gathered (2026-12-02): Google's deprecations page
(https://ai.google.dev/gemini-api/docs/deprecations) for release and shutdown dates and
replacements, its changelog (https://ai.google.dev/gemini-api/docs/changelog) for launches
and shutdowns, and its pricing page (https://ai.google.dev/gemini-api/docs/pricing). The
pricing page itself was not reachable through the search index on that day; its figures
come from transcriptions that quote it (named per entry), so they are marked as such.
A model whose price could not be found is ``priced=False``: the planner then warns and
counts it at $0, exactly as for a model the catalogue does not know.

Judging a model is pure (:func:`fate`): the day is a parameter, never read here. A model is
unusable once its status is ``shut_down`` or its shutdown date has come.

This module imports nothing of ours: the planner (prices, defaults), the engine (the
pre-flight check) and the cli (``models``, ``doctor``) all read it.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec

Purpose = Literal["image", "text"]
Status = Literal["ga", "preview", "deprecated", "shut_down"]

# The Batch API bills half the live price for every token kind (pricing page, "Batch API
# (50% cost reduction)"; quoted by api-evangelist/deepmind plans/deepmind-plans-pricing.yml,
# read 2026-12-02).
BATCH_DISCOUNT = 0.5

DEFAULT_REFERENCE_LIMIT = 14  # reference images per request for a model not listed (see ModelInfo)

READ_ON = date(2026, 12, 2)  # the day every entry below was checked

_DEPRECATIONS = "https://ai.google.dev/gemini-api/docs/deprecations"
_CHANGELOG = "https://ai.google.dev/gemini-api/docs/changelog"
_PRICING = "https://ai.google.dev/gemini-api/docs/pricing"
_PRICING_QUOTE = "pricing quoted by github.com/api-evangelist/deepmind plans/deepmind-plans-pricing.yml (page read 2026-10-07)"
_PRO_IMAGE_TOKENS = ("https://discuss.ai.google.dev/t/121299 (Google staff: a 1K image is 1120 tokens, 4K 2000, "
                     "plus 700-900 thinking tokens at the text rate)")
_READ = "read 2026-12-02"


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One model as the catalogue knows it. Prices are USD per 1M tokens, live (batch: 50 %)."""

    id: str
    purpose: Purpose
    status: Status
    batch: bool = True  # batchGenerateContent; the pre-flight confirms it per key with models.get
    released: date | None = None
    shutdown: date | None = None
    replacement: str | None = None
    priced: bool = True  # False: no price could be confirmed; the estimate counts it as $0
    input_usd: float = 0.0
    output_usd: float = 0.0  # text output (and thinking tokens)
    image_output_usd: float = 0.0  # image output tokens (image models)
    image_output_tokens: int = 0  # tokens one generated image is billed as at the default size (1K)
    image_sizes: tuple[tuple[str, int], ...] = ()  # tokens per generated image at each imageSize
    image_input_tokens: int = 258  # tokens one input image is counted as
    thinking_tokens: int = 0  # estimated thinking tokens per request, billed at output_usd
    # Reference images one request may carry. Gemini 3's image models take up to 14 (read
    # 2026-12-07: help.apiyi.com/en?p=17609, docs.myrouter.ai gemini-3.1-flash-image-edit,
    # skills.sh scenario-labs "referenceImages (up to 14)"); Google's own page was not in the
    # search index that day, so 14 is the default for every model until one is known lower.
    max_reference_images: int = DEFAULT_REFERENCE_LIMIT
    price_until: date | None = None  # the recorded price is announced to change after this day
    source: str = ""  # where the facts were read, with the date
    note: str = ""  # what could not be confirmed

    def usable_on(self, day: date) -> bool:
        """False once the model is shut down (by status or by its shutdown date)."""
        if self.status == "shut_down":
            return False
        return self.shutdown is None or day < self.shutdown

    def image_tokens(self, size: str = "1K") -> int:
        """Tokens one generated image of ``size`` is billed as (the default size if unknown)."""
        return dict(self.image_sizes).get(size, self.image_output_tokens)


def _src(*urls: str) -> str:
    return "; ".join(urls) + f"; {_READ}"


_ENTRIES = [
    # -- image generation ----------------------------------------------------------------
    ModelInfo(
        id="gemini-3-pro-image", purpose="image", status="ga", released=date(2026, 5, 28),
        input_usd=2.00, output_usd=12.00, image_output_usd=120.00, image_output_tokens=1120,
        image_sizes=(("1K", 1120), ("2K", 1120), ("4K", 2000)), image_input_tokens=560, thinking_tokens=800,
        source=_src(_DEPRECATIONS + " (GA May 28, 2026; no shutdown date announced)",
                    _PRICING + " ($120.00 per 1M image output tokens: " + _PRICING_QUOTE + ")", _PRO_IMAGE_TOKENS),
        note="input $2.00 and text output $12.00 are the preview's published prices (aifreeapi.com, "
             "checked 2026-03-23); the GA rows for them could not be read. An input image is ~560 tokens "
             "($0.0011 per input image at $2.00/1M).",
    ),
    ModelInfo(
        id="gemini-3-pro-image-preview", purpose="image", status="shut_down", released=date(2025, 11, 20),
        shutdown=date(2026, 6, 25), replacement="gemini-3-pro-image",
        input_usd=2.00, output_usd=12.00, image_output_usd=120.00, image_output_tokens=1120,
        image_sizes=(("1K", 1120), ("2K", 1120), ("4K", 2000)), image_input_tokens=560, thinking_tokens=800,
        source=_src(_DEPRECATIONS + " (shutdown June 25, 2026, replacement gemini-3-pro-image)", _PRO_IMAGE_TOKENS),
    ),
    ModelInfo(
        id="gemini-3.1-flash-image", purpose="image", status="ga", released=date(2026, 5, 28),
        input_usd=0.50, output_usd=3.00, image_output_usd=60.00, image_output_tokens=1120,
        image_sizes=(("512", 747), ("1K", 1120), ("2K", 1680), ("4K", 2520)), image_input_tokens=560,
        source=_src(_DEPRECATIONS + " (GA May 28, 2026; no shutdown date announced)",
                    "aifreeapi.com/en/posts/gemini-flash-image-generation-pricing ($60 per 1M image tokens; "
                    "$0.045/$0.067/$0.101/$0.151 per 512/1K/2K/4K image)"),
        note="prices are the preview's, from a third party quoting Google's pricing page; GA prices and the "
             "input-image token count (taken as Pro Image's 560) could not be confirmed.",
    ),
    ModelInfo(
        id="gemini-3.1-flash-image-preview", purpose="image", status="shut_down", released=date(2026, 2, 26),
        shutdown=date(2026, 6, 25), replacement="gemini-3.1-flash-image",
        input_usd=0.50, output_usd=3.00, image_output_usd=60.00, image_output_tokens=1120,
        image_sizes=(("512", 747), ("1K", 1120), ("2K", 1680), ("4K", 2520)), image_input_tokens=560,
        source=_src(_DEPRECATIONS + " (shutdown June 25, 2026, replacement gemini-3.1-flash-image)"),
    ),
    ModelInfo(
        id="gemini-3.1-flash-lite-image", purpose="image", status="ga", released=date(2026, 6, 30), priced=False,
        source=_src(_CHANGELOG + " (June 30, 2026: gemini-3.1-flash-lite-image GA)"),
        note="no price could be found; add prices.gemini-3.1-flash-lite-image to chargen.yaml to estimate it.",
    ),
    ModelInfo(
        id="gemini-2.5-flash-image", purpose="image", status="shut_down", released=date(2025, 10, 2),
        shutdown=date(2026, 10, 2), replacement="gemini-3.1-flash-image",
        input_usd=0.30, output_usd=2.50, image_output_usd=30.00, image_output_tokens=1290,
        image_sizes=(("1K", 1290),),
        source=_src(_DEPRECATIONS + " (shutdown October 2, 2026; no replacement named)"),
        note="replacement chosen by us: the GA Flash image model.",
    ),
    ModelInfo(
        id="gemini-2.5-flash-image-preview", purpose="image", status="shut_down", replacement="gemini-3.1-flash-image",
        priced=False,
        source=_src(_CHANGELOG + " (January 15, 2026: gemini-2.5-flash-image-preview has been shut down)"),
        note="shutdown day not given; its successor gemini-2.5-flash-image is shut down too.",
    ),
    ModelInfo(
        id="gemini-2.0-flash-preview-image-generation", purpose="image", status="shut_down",
        replacement="gemini-3.1-flash-image", priced=False,
        source=_src(_CHANGELOG + " (January 22, 2026: the gemini-2.0-flash models are shut down)"),
        note="this id's own shutdown date could not be confirmed; the 2.0 Flash family it belongs to is shut down.",
    ),
    # -- analysis (text and JSON output) ---------------------------------------------------
    ModelInfo(
        id="gemini-3.5-flash", purpose="text", status="ga", released=date(2026, 5, 19),
        input_usd=1.50, output_usd=9.00, image_input_tokens=1120,
        source=_src(_DEPRECATIONS + " (released May 19, 2026; no shutdown date announced)",
                    _PRICING + " ($1.50 input, $9.00 output: " + _PRICING_QUOTE + ")"),
        note="an input image is counted at Gemini 3's default media resolution for images (high, 1120 tokens; "
             "https://ai.google.dev/gemini-api/docs/media-resolution); thinking tokens are not estimated.",
    ),
    ModelInfo(
        id="gemini-3.5-flash-lite", purpose="text", status="ga", released=date(2026, 7, 21),
        input_usd=0.30, output_usd=2.50, image_input_tokens=1120,
        source=_src(_DEPRECATIONS + " (released July 21, 2026; no shutdown date announced)",
                    _PRICING + " ($0.30 input, $2.50 output: " + _PRICING_QUOTE + ")"),
    ),
    ModelInfo(
        id="gemini-3.6-flash", purpose="text", status="ga", released=date(2026, 7, 21), priced=False,
        image_input_tokens=1120, source=_src(_DEPRECATIONS, _CHANGELOG + " (July 21, 2026: GA)"),
        note="no price could be found.",
    ),
    ModelInfo(
        id="gemini-3.7-flash", purpose="text", status="ga", released=date(2026, 8, 13), priced=False,
        image_input_tokens=1120, source=_src(_DEPRECATIONS + " (released August 13, 2026)"),
        note="no price could be found.",
    ),
    ModelInfo(
        id="gemini-3.8-flash", purpose="text", status="ga", released=date(2026, 9, 2),
        input_usd=0.75, output_usd=3.75, image_input_tokens=1120, price_until=date(2026, 12, 31),
        source=_src(_DEPRECATIONS + " (released September 2, 2026; no shutdown date announced)",
                    _PRICING + " ($0.75 input, $3.75 output through December 31, 2026: " + _PRICING_QUOTE + ")"),
        note="from January 1, 2027 the price doubles to $1.50 input, $7.50 output.",
    ),
    ModelInfo(
        id="gemini-3.1-flash-lite", purpose="text", status="ga", released=date(2026, 5, 7),
        shutdown=date(2027, 5, 7), input_usd=0.25, output_usd=1.50, image_input_tokens=1120,
        source=_src(_DEPRECATIONS + " (released May 7, 2026; shutdown May 7, 2027)",
                    "ai-primer.com (GA at $0.25 input, $1.50 output)"),
        note="price from third parties quoting the launch; the pricing page row could not be read.",
    ),
    ModelInfo(
        id="gemini-3.1-pro-preview", purpose="text", status="preview", released=date(2026, 2, 19),
        input_usd=2.00, output_usd=12.00, image_input_tokens=1120,
        source=_src(_DEPRECATIONS + " (no shutdown date announced)",
                    _PRICING + " ($2.00 input, $12.00 output up to 200k tokens: " + _PRICING_QUOTE + ")"),
    ),
    ModelInfo(
        id="gemini-2.5-flash", purpose="text", status="deprecated", released=date(2025, 6, 17),
        shutdown=date(2026, 12, 1), replacement="gemini-3.5-flash-lite", input_usd=0.30, output_usd=2.50,
        source=_src(_DEPRECATIONS + " (deprecated; earlier versions of the page said June 17, 2026)",
                    "dev.to/aideprecations (quotes the deprecations page read 2026-11-10: shutdown December 1, "
                    "2026, replacement gemini-3.5-flash-lite)"),
        note="the shutdown day differs between sources (June 17, October 20, December 1, 2026); the latest "
             "Google-quoted one, December 1, 2026, is used.",
    ),
    ModelInfo(
        id="gemini-2.5-pro", purpose="text", status="deprecated", released=date(2025, 6, 17),
        shutdown=date(2026, 12, 1), replacement="gemini-3.8-flash", input_usd=1.25, output_usd=10.00,
        source=_src(_DEPRECATIONS, "dev.to/aideprecations (quotes the deprecations page read 2026-11-10: "
                    "shutdown December 1, 2026, replacement gemini-3.8-flash)",
                    _PRICING + " ($1.25 input up to 200k tokens: " + _PRICING_QUOTE + ")"),
        note="the $10.00 output price is the 2025 figure; the current row could not be read.",
    ),
]

MODELS: dict[str, ModelInfo] = {m.id: m for m in _ENTRIES}

# The defaults are current GA models with no shutdown date announced (deprecations page, read
# 2026-12-02). Analysis keeps gemini-3.5-flash, the GA Flash the issue names; gemini-3.8-flash
# is newer and cheaper until 2027 and can be chosen in chargen.yaml.
DEFAULT_GENERATE_MODEL = "gemini-3-pro-image"
DEFAULT_ANALYZE_MODEL = "gemini-3.5-flash"
# The cheapest priced text model usable today (input $0.25, output $1.50 per 1M tokens);
# ``cheapest_text_model(READ_ON)`` must agree (a test checks it).
CHEAPEST_TEXT_MODEL = "gemini-3.1-flash-lite"


def lookup(model_id: str) -> ModelInfo | None:
    """The catalogue entry for ``model_id`` (``models/`` prefix allowed), or None."""
    return MODELS.get(model_id.removeprefix("models/"))


def cheapest_text_model(day: date) -> str:
    """The priced text model usable on ``day`` with the lowest cost of a small request.

    Weighed as 1000 input and 300 output tokens, about one analysis answer.
    """
    usable = [m for m in MODELS.values() if m.purpose == "text" and m.priced and m.usable_on(day)]
    return min(usable, key=lambda m: (m.input_usd * 1000 + m.output_usd * 300, m.id)).id


Verdict = Literal["ok", "deprecated", "shut_down", "unknown"]


class Fate(msgspec.Struct, frozen=True):
    """What the planner should say about a model on a given day, as one line."""

    verdict: Verdict
    text: str
    info: ModelInfo | None = None


def reference_limit(model: str) -> int:
    """How many reference images one request to ``model`` may carry (14 for a model not listed)."""
    info = lookup(model)
    return info.max_reference_images if info is not None else DEFAULT_REFERENCE_LIMIT


def fate(model_id: str, day: date) -> Fate:
    """Judge ``model_id`` on ``day`` without any API call (pure: the day is a parameter).

    ``shut_down``: its status says so or its shutdown date has come (refuse it);
    ``deprecated``: deprecated, or a shutdown date is announced and still ahead (warn);
    ``unknown``: not in the catalogue, perhaps newer than it (warn); ``ok`` otherwise.
    """
    info = lookup(model_id)
    if info is None:
        return Fate("unknown", f"model {model_id} is not in the catalogue (it may be newer than this release)")
    use = f"; use {info.replacement}" if info.replacement else ""
    if not info.usable_on(day):
        when = f" on {info.shutdown.isoformat()}" if info.shutdown else ""
        return Fate("shut_down", f"model {model_id} was shut down{when}{use}", info)
    if info.shutdown is not None:
        return Fate("deprecated", f"model {model_id} shuts down on {info.shutdown.isoformat()}"
                    + (f"; its replacement is {info.replacement}" if info.replacement else ""), info)
    if info.status == "deprecated":
        return Fate("deprecated", f"model {model_id} is deprecated (no shutdown date known){use}", info)
    return Fate("ok", f"model {model_id} is {info.status}", info)
