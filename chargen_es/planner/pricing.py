"""The price table and the plan's cost estimate; the prices themselves live in the catalogue.

There is one price table: :data:`chargen_es.catalogue.MODELS` (USD per 1M tokens for the
*live* API, each entry with its source and the day it was read). The Batch API bills
:data:`BATCH_DISCOUNT` (50 %) of it. A workspace lays its own prices over it, or prices a
model the catalogue does not know, under ``prices`` in ``chargen.yaml``::

    prices:
      gemini-3.5-flash: {input: 1.50, output: 9.00}
      my-new-image-model:            # not in the catalogue: priced from here alone
        input: 0.50                  # USD per 1M input tokens
        output: 3.00                 # USD per 1M text output (and thinking) tokens
        image_output: 60.00          # USD per 1M image output tokens (default: output)
        image_tokens: 1120           # tokens one generated image is billed as
        image_input_tokens: 560      # tokens one input image counts as
        thinking_tokens: 0           # estimated thinking tokens per request

Every key is optional; a key not given keeps the catalogue's value (or, for a model the
catalogue does not know, the defaults below). ``image_output`` defaults to ``output`` for
such a model, which is what a single ``output`` price meant before image and text output
were priced apart. The model itself is chosen under ``models`` (``generate``, ``analyze``)
or with ``--model``.

Token counts are estimates made before anything is sent, and say so:

- text: about 4 characters per token (Google's rule of thumb), at least 1;
- an input image (reference or analysed image) counts as the model's
  ``image_input_tokens`` (258 for the 2.5 models, one tile; 560 for the Gemini 3 image
  models; 1120 for Gemini 3 text models at their default media resolution);
- a generated image counts as the model's image output tokens at the default size (1K),
  plus its ``thinking_tokens`` at the text output price (Gemini 3 Pro Image thinks about
  800 tokens per image);
- an analysis answer (the five-field JSON) is counted as 300 text output tokens.

A model with no price (unknown, or ``priced: false`` in the catalogue) is priced at 0 and
named in the plan's warnings; a ``--max-cost`` check cannot pass blindly on it (see
:mod:`.plan`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from chargen_es import catalogue

BATCH_DISCOUNT = catalogue.BATCH_DISCOUNT

DEFAULT_IMAGE_OUTPUT_TOKENS = 1290
DEFAULT_IMAGE_INPUT_TOKENS = 258
ANALYSIS_OUTPUT_TOKENS = 300
PRICE_KEYS = ("input", "output", "image_output")
TOKEN_KEYS = ("image_tokens", "image_input_tokens", "thinking_tokens")


class ModelPrice(msgspec.Struct, kw_only=True):
    """What one model costs and how its requests are counted (live prices, USD per 1M tokens)."""

    input: float = 0.0
    output: float = 0.0
    image_output: float = 0.0
    image_tokens: int = DEFAULT_IMAGE_OUTPUT_TOKENS
    image_input_tokens: int = DEFAULT_IMAGE_INPUT_TOKENS
    thinking_tokens: int = 0
    source: str = "catalogue"  # catalogue, chargen.yaml, or catalogue+chargen.yaml
    image_sizes: dict[str, int] = {}  # imageSize -> tokens per generated image (the catalogue's)


class ModelCost(msgspec.Struct, kw_only=True):
    """Estimate for the tasks of one model."""

    tasks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0  # text and image output together
    image_output_tokens: int = 0
    batch_usd: float = 0.0
    live_usd: float = 0.0
    priced: bool = True


class Estimate(msgspec.Struct, kw_only=True):
    """What the plan should cost in batch, what it would cost live, and the difference."""

    batch_usd: float = 0.0
    live_usd: float = 0.0
    saving_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    by_model: dict[str, ModelCost] = {}
    unpriced: list[str] = []


def text_tokens(text: str) -> int:
    """About 4 characters per token."""
    return max(1, (len(text) + 3) // 4)


def counting(model: str, prices: dict[str, ModelPrice]) -> ModelPrice:
    """How ``model``'s requests are counted: its price entry, else the catalogue's token figures."""
    price = prices.get(model)
    if price is not None:
        return price
    info = catalogue.lookup(model)
    if info is None:
        return ModelPrice(source="none")
    return _from_catalogue(info)


def task_tokens(kind: str, counts: ModelPrice, prompt: str, images_in: int, size: str = "") -> tuple[int, int, int]:
    """Estimated (input, text output, image output) tokens of one task; ``size`` is its
    ``imageSize`` ("" for the default size, ``image_tokens``)."""
    tokens_in = text_tokens(prompt) + counts.image_input_tokens * images_in
    if kind == "generate":
        return tokens_in, counts.thinking_tokens, counts.image_sizes.get(size, counts.image_tokens) if size else \
            counts.image_tokens
    return tokens_in, ANALYSIS_OUTPUT_TOKENS + counts.thinking_tokens, 0


def _from_catalogue(info: catalogue.ModelInfo) -> ModelPrice:
    return ModelPrice(
        input=info.input_usd, output=info.output_usd, image_output=info.image_output_usd,
        image_tokens=info.image_output_tokens or DEFAULT_IMAGE_OUTPUT_TOKENS,
        image_input_tokens=info.image_input_tokens, thinking_tokens=info.thinking_tokens,
        image_sizes={k: v for k, v in info.image_sizes.items() if v},
    )


def price_table(overrides: dict[str, dict[str, Any]] | None) -> dict[str, ModelPrice]:
    """The catalogue's priced models with a workspace's ``prices`` laid over (validated earlier).

    A retired model whose requests Google answers with another one (``retired_routed``) is
    billed at the answering model's price, so it gets that model's entry (after the
    workspace's prices for it), unless the workspace prices the retired id itself.
    """
    table = {m.id: _from_catalogue(m) for m in catalogue.MODELS.values() if m.priced}
    for model, entry in (overrides or {}).items():
        name = str(model)
        info = catalogue.lookup(name)
        base = table.get(name)
        if base is None:
            base = _from_catalogue(info) if info is not None else ModelPrice()
            if "image_output" not in entry and "output" in entry and (info is None or not info.priced):
                entry = {**entry, "image_output": entry["output"]}
            base.source = "chargen.yaml"
        else:
            base.source = "catalogue+chargen.yaml"
        for key in PRICE_KEYS:
            if key in entry:
                setattr(base, key, float(entry[key]))
        for key in TOKEN_KEYS:
            if key in entry:
                setattr(base, key, int(entry[key]))
        table[name] = base
    for info in catalogue.MODELS.values():
        answered = info.answered_by if info.status == "retired_routed" else None
        if answered is None or info.id in (overrides or {}):
            continue
        target = table.get(answered)
        if target is None:
            table.pop(info.id, None)
        else:
            table[info.id] = msgspec.structs.replace(target, source=f"{target.source} (answered by {answered})")
    return table


def estimate(usage: dict[str, list[int]], prices: dict[str, ModelPrice]) -> Estimate:
    """Cost from per-model ``[tasks, input, text output, image output]`` token totals."""
    out = Estimate()
    for model in sorted(usage):
        tasks, tin, tout, timg = usage[model]
        price = prices.get(model)
        live = 0.0 if price is None else (
            tin * price.input + tout * price.output + timg * price.image_output) / 1_000_000
        cost = ModelCost(
            tasks=tasks, input_tokens=tin, output_tokens=tout + timg, image_output_tokens=timg,
            live_usd=round(live, 6), batch_usd=round(live * BATCH_DISCOUNT, 6), priced=price is not None,
        )
        out.by_model[model] = cost
        out.input_tokens += tin
        out.output_tokens += tout + timg
        out.live_usd += live
        if price is None:
            out.unpriced.append(model)
    out.batch_usd = round(out.live_usd * BATCH_DISCOUNT, 6)
    out.live_usd = round(out.live_usd, 6)
    out.saving_usd = round(out.live_usd - out.batch_usd, 6)
    return out
