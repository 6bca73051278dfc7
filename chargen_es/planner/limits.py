"""Image sizes, aspect ratios and reference counts, checked against each model before money is spent.

Why: Gemini's image models differ. ``imageSize`` takes ``1K``, ``2K`` and ``4K`` (uppercase
K), ``512`` only on some models, and a lowercase ``1k`` is reported to fall back silently
to 512 px; a ratio such as ``1:8`` exists on the Flash image models only; Nano Banana Pro
takes up to 14 reference images. A request the model cannot honour is either refused by
Google after the references were uploaded or, worse, answered with something else. So a
size is normalised (``2k`` -> ``2K``) or refused, never sent as written, and a size, a
ratio or a number of references the plan's model does not take is a problem with its
``file:line``, found by ``--dry-run``.

The limits come from the catalogue (:mod:`chargen_es.catalogue`, each with its source).
A model the catalogue does not know, or whose limit it does not know, is not checked. A
retired model is checked against the model that answers it.
"""

from __future__ import annotations

from typing import Any

from chargen_es import catalogue
from chargen_es.errors import ContentError

# Every size Gemini documents (the SDK's ImageConfig.image_size: 1K, 2K, 4K; 512 on
# gemini-3.1-flash-image, Google Cloud's model page, read 2026-12-07).
IMAGE_SIZES = ("512", "1K", "2K", "4K")
_SIZES = {s.lower(): s for s in IMAGE_SIZES}

# Every aspect ratio any model takes; the catalogue says which model takes which.
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "1:4", "4:1", "1:8", "8:1")


def normalise_size(value: Any) -> str | None:
    """``2k`` -> ``2K``, ``512`` (a number too) -> ``512``; None for anything Gemini does not make."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    return _SIZES.get(value.strip().lower())


def size_problem(value: Any) -> str:
    return f"image_size {value!r} is not a size Gemini makes; use {', '.join(IMAGE_SIZES)}"


def _limits(model: str) -> catalogue.ModelInfo | None:
    info = catalogue.lookup(model)
    if info is not None and info.answered_by:
        return catalogue.lookup(info.answered_by) or info
    return info


def max_references(model: str) -> int:
    """How many reference images ``model`` takes (the catalogue's ``reference_limit``)."""
    return catalogue.reference_limit(model)


def check(model: str, *, size: str, size_at: tuple[str, int], ratio: str, ratio_at: tuple[str, int],
          references: int, references_at: tuple[str, int]) -> list[ContentError]:
    """What ``model`` cannot do of one image request, each problem at the place that asked for it."""
    info = _limits(model)
    if info is None or info.purpose != "image":
        return []
    problems = []
    sizes = [s for s in IMAGE_SIZES if s in info.image_sizes]
    if size and sizes and size not in sizes:
        problems.append(ContentError(size_at[0], f"image_size {size!r}: {model} makes only {', '.join(sizes)}",
                                     size_at[1]))
    if ratio in ASPECT_RATIOS and info.aspect_ratios and ratio not in info.aspect_ratios:  # others: refused already
        problems.append(ContentError(ratio_at[0], f"aspect ratio {ratio!r}: {model} takes "
                                                  f"{', '.join(info.aspect_ratios)}", ratio_at[1]))
    cap = catalogue.reference_limit(model)
    if references > cap:
        problems.append(ContentError(references_at[0], f"{references} reference images: {model} takes at most "
                                                       f"{cap}", references_at[1]))
    return problems


def image_config(ratio: str, size: str) -> dict[str, str]:
    """``generationConfig.imageConfig``; ``imageSize`` only when asked for, so keys made
    before sizes existed stay the same."""
    out = {"aspectRatio": ratio}
    if size:
        out["imageSize"] = size
    return out
