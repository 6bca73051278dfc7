"""The model catalogue: which Gemini models chargen-es knows, what they are for, and their fate.

Why a catalogue: Google renames, deprecates and shuts down models every few months, and a
batch job on a shut-down model answers 404 only after every reference has been uploaded.
Knowing the status offline lets ``--dry-run`` warn about a deprecated model and refuse a
shut-down one, naming its replacement, before anything is sent. Every fact carries the
page it was read from and the date it was read; ``chargen.yaml`` can add models and
override prices (``prices``), so a new model needs no new release.

This module imports nothing of ours: the planner (prices, defaults), the engine (the
pre-flight check) and the cli (``models``, ``doctor``) all read it.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec

Purpose = Literal["image", "text"]
Status = Literal["ga", "preview", "deprecated", "shut_down"]


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One model as the catalogue knows it. Prices are USD per 1M tokens, live (batch: 50 %)."""

    id: str
    purpose: Purpose
    status: Status
    batch: bool = True
    shutdown: date | None = None
    replacement: str | None = None
    input_usd: float = 0.0
    output_usd: float = 0.0  # text output (and thinking tokens)
    image_output_usd: float = 0.0  # image output tokens (image models)
    image_output_tokens: int = 0  # tokens one generated image is billed as (default size)
    image_input_tokens: int = 258  # tokens one input image is counted as
    source: str = ""  # where the facts were read, with the date

    def usable_on(self, day: date) -> bool:
        """False once the model is shut down (by status or by its shutdown date)."""
        if self.status == "shut_down":
            return False
        return self.shutdown is None or day < self.shutdown


# Filled in and verified by the catalogue work of the real-API fidelity issue; the entries
# below are the starting point named in that issue and must be checked before release.
MODELS: dict[str, ModelInfo] = {}

DEFAULT_GENERATE_MODEL = "gemini-3-pro-image"
DEFAULT_ANALYZE_MODEL = "gemini-3.5-flash"
CHEAPEST_TEXT_MODEL = "gemini-3.5-flash"


def lookup(model_id: str) -> ModelInfo | None:
    """The catalogue entry for ``model_id`` (``models/`` prefix allowed), or None."""
    return MODELS.get(model_id.removeprefix("models/"))
