"""The shipped price table and the plan's cost estimate.

Prices are USD per 1M tokens for the *live* (synchronous) API, as listed on
https://ai.google.dev/gemini-api/docs/pricing (paid tier, prompts up to 200k tokens,
read in late 2025). The Batch API bills 50 % of these. They change; a workspace can
override any model under ``prices`` in ``chargen.yaml``
(``prices: {model: {input: 2.0, output: 120.0}}``).

| model | input | output | notes |
|---|---|---|---|
| gemini-3-pro-image-preview | 2.00 | 120.00 | image output; a 1K/2K image is 1120 tokens (~$0.134) |
| gemini-2.5-flash-image | 0.30 | 30.00 | image output; a 1K image is 1290 tokens (~$0.039) |
| gemini-2.5-flash | 0.30 | 2.50 | text/JSON output |
| gemini-2.5-pro | 1.25 | 10.00 | text/JSON output |

Token counts are estimates made before anything is sent, and say so:

- text: about 4 characters per token (Google's rule of thumb), at least 1;
- an input image (reference or analysed image) is counted as 258 tokens (one tile; the
  2.5 models' figure for an image up to 384 px, larger images are tiled) and 560 for
  gemini-3-pro-image-preview (its default media resolution for images);
- generated images count as **output** tokens: 1120 per image for
  gemini-3-pro-image-preview, 1290 for gemini-2.5-flash-image (the 1K figure);
- an analysis answer (the five-field JSON) is counted as 300 output tokens.

A model missing from the table is priced at 0 and named in the plan's warnings; a
``--max-cost`` check cannot pass blindly on it (see :mod:`.plan`).
"""

from __future__ import annotations

from typing import Any

import msgspec

BATCH_DISCOUNT = 0.5

DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gemini-3-pro-image-preview": {"input": 2.00, "output": 120.00},
    "gemini-2.5-flash-image": {"input": 0.30, "output": 30.00},
    "gemini-2.5-flash": {"input": 0.30, "output": 2.50},
    "gemini-2.5-pro": {"input": 1.25, "output": 10.00},
}

IMAGE_OUTPUT_TOKENS: dict[str, int] = {"gemini-3-pro-image-preview": 1120, "gemini-2.5-flash-image": 1290}
DEFAULT_IMAGE_OUTPUT_TOKENS = 1290
IMAGE_INPUT_TOKENS: dict[str, int] = {"gemini-3-pro-image-preview": 560}
DEFAULT_IMAGE_INPUT_TOKENS = 258
ANALYSIS_OUTPUT_TOKENS = 300


class ModelCost(msgspec.Struct, kw_only=True):
    """Estimate for the tasks of one model."""

    tasks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
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


def task_tokens(kind: str, model: str, prompt: str, images_in: int) -> tuple[int, int]:
    """Estimated (input, output) tokens of one task."""
    per_image = IMAGE_INPUT_TOKENS.get(model, DEFAULT_IMAGE_INPUT_TOKENS)
    tokens_in = text_tokens(prompt) + per_image * images_in
    if kind == "generate":
        tokens_out = IMAGE_OUTPUT_TOKENS.get(model, DEFAULT_IMAGE_OUTPUT_TOKENS)
    else:
        tokens_out = ANALYSIS_OUTPUT_TOKENS
    return tokens_in, tokens_out


def merge_prices(overrides: dict[str, Any] | None) -> dict[str, dict[str, float]]:
    """The shipped table with a workspace's ``prices`` laid over it (validated earlier)."""
    table = {m: dict(p) for m, p in DEFAULT_PRICES.items()}
    for model, entry in (overrides or {}).items():
        table.setdefault(str(model), {"input": 0.0, "output": 0.0}).update(
            {k: float(v) for k, v in entry.items() if k in ("input", "output")}
        )
    return table


def estimate(usage: dict[str, list[int]], prices: dict[str, dict[str, float]]) -> Estimate:
    """Cost from per-model ``[tasks, input_tokens, output_tokens]`` totals."""
    out = Estimate()
    for model in sorted(usage):
        tasks, tin, tout = usage[model]
        price = prices.get(model)
        live = 0.0 if price is None else (tin * price["input"] + tout * price["output"]) / 1_000_000
        cost = ModelCost(
            tasks=tasks, input_tokens=tin, output_tokens=tout, live_usd=round(live, 6),
            batch_usd=round(live * BATCH_DISCOUNT, 6), priced=price is not None,
        )
        out.by_model[model] = cost
        out.input_tokens += tin
        out.output_tokens += tout
        out.live_usd += live
        if price is None:
            out.unpriced.append(model)
    out.batch_usd = round(out.live_usd * BATCH_DISCOUNT, 6)
    out.live_usd = round(out.live_usd, 6)
    out.saving_usd = round(out.live_usd - out.batch_usd, 6)
    return out
