"""The analysis contract: what an image analysis holds, how it is asked for, how it is checked.

An analysis is the JSON object the model returns for one existing image, stored beside
it as ``<image>.analysis.json`` (docs/run-format.md, section 1). Two sides depend on its shape: the
engine, which must refuse an answer that does not fit before writing anything, and the
planner, which reads analyses back to keep new pictures consistent
(:mod:`chargen_es.planner.consistency`). Both import this module, which imports nothing of
ours, so neither has to know the other.

Versioning. :data:`SCHEMA_VERSION` names the schema *and* the default prompt together;
it enters every analysis task key, so changing either re-plans every analysis, and a
plan's config records it. History:

- 1: the five fields, plain types, no validation when applied.
- 2: ``traits`` and ``palette`` need at least one item, text fields at least one
  character, descriptions on every field; an answer that does not fit is an
  ``item.failed`` (``bad_analysis``) and no file is written.

The schema uses only fields of the Gemini ``Schema`` object that the SDK declares
(``type``, ``description``, ``items``, ``minItems``, ``minLength``, ``properties``,
``required``, ``propertyOrdering``: google-genai ``types.Schema``, python-genai commit
66807187, read 2026-12-02). No ``maxItems``: a longer list is cut where it is used, so a
generous model answer is not a failure.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = 2
FIELDS: tuple[str, ...] = ("archetype", "traits", "palette", "mood", "style")
LIST_FIELDS = frozenset({"traits", "palette"})

DEFAULT_PROMPT = (
    "Analyse this story illustration. Return JSON with: archetype (the character or place "
    "archetype it shows), traits (short visual traits), palette (dominant colours as names "
    "or hex codes), mood (one phrase) and style (the art style)."
)

_TEXT = {"type": "STRING", "minLength": 1}
SCHEMA: dict[str, Any] = {
    "type": "OBJECT",
    "properties": {
        "archetype": {**_TEXT, "description": "The character or place archetype the image shows."},
        "traits": {"type": "ARRAY", "minItems": 1, "items": _TEXT,
                   "description": "Short visual traits that identify the subject, e.g. 'copper braids'."},
        "palette": {"type": "ARRAY", "minItems": 1, "items": _TEXT,
                    "description": "Dominant colours, as names or hex codes."},
        "mood": {**_TEXT, "description": "The mood, in one phrase."},
        "style": {**_TEXT, "description": "The art style."},
    },
    "required": list(FIELDS),
    "propertyOrdering": list(FIELDS),
}


def problems(value: Any) -> list[str]:
    """What makes ``value`` not an analysis under :data:`SCHEMA` (empty when it is one).

    Checks exactly what the schema says: an object, every field present, text fields
    non-empty text, list fields non-empty lists of non-empty text. Extra keys are allowed
    (the schema does not forbid them) and kept.
    """
    if not isinstance(value, dict):
        return [f"must be a JSON object, not {_kind(value)}"]
    out = []
    for name in FIELDS:
        if name not in value:
            out.append(f"missing field '{name}'")
            continue
        item = value[name]
        if name in LIST_FIELDS:
            if not isinstance(item, list):
                out.append(f"'{name}' must be a list of text, not {_kind(item)}")
            elif not item:
                out.append(f"'{name}' must have at least one item")
            elif not all(isinstance(v, str) and v.strip() for v in item):
                out.append(f"'{name}' must hold only non-empty text")
        elif not isinstance(item, str):
            out.append(f"'{name}' must be text, not {_kind(item)}")
        elif not item.strip():
            out.append(f"'{name}' must not be empty")
    return out


def parse(text: str) -> tuple[dict[str, Any] | None, str]:
    """``(analysis, "")`` for a valid answer, else ``(None, reason)``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        excerpt = " ".join(text.split())[:80]
        return None, f"the answer is not JSON ({exc.msg} at line {exc.lineno}): {excerpt!r}"
    found = problems(value)
    if found:
        return None, f"the answer does not fit the analysis schema v{SCHEMA_VERSION}: {'; '.join(found)}"
    return value, ""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(type(value), "a number")


__all__ = ["DEFAULT_PROMPT", "FIELDS", "LIST_FIELDS", "SCHEMA", "SCHEMA_VERSION", "parse", "problems"]
