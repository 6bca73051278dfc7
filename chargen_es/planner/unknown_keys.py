"""Keys chargen-es does not read, in the YAML files a user writes, named with a suggestion.

A typo such as ``aspect_ration:`` or ``negativ_prompt:`` would otherwise plan normally
and the pictures would come out wrong without a word. Every mapping a user writes
(``chargen.yaml`` and its ``models`` / ``analysis`` parts, an entity file, each scene of
``image_ideas.yaml``) is checked against the keys it may hold.

The rule, and why: a key close to one we read (``difflib``, the suggestion "did you mean
``aspect_ratio``?") is almost surely a typo whose value is being dropped, so it is an
error, like any other validation problem (``--skip-invalid`` can still drop its entity).
A key like nothing we read (``notes:``, ``tags:``) is more likely the user's own note or
another tool's field in the same file: it changes nothing that is sent, so it is a
warning (shown in the plan summary before confirming, in ``--dry-run`` and ``status``),
and an error under ``--strict``, for scripts and CI that want a tree with nothing unread.
The planner makes that last call (:func:`chargen_es.planner.plan.build_plan`), since only
it knows ``--strict``.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from chargen_es.errors import UnknownKey
from chargen_es.planner.yamlio import LineDict

WORKSPACE_KEYS = ("style", "models", "aspect_ratio", "image_size", "analysis", "prices", "deadline", "consistency",
                  "variants", "safety", "options", "store", "keep_results")
# keys refused with a reason of their own (an API key in the tree), so never "unknown"
REFUSED_ELSEWHERE = ("api_key", "apiKey", "GEMINI_API_KEY", "GOOGLE_API_KEY")
MODELS_KEYS = ("generate", "analyze")
ANALYSIS_KEYS = ("prompt",)
ENTITY_KEYS = ("name", "description", "style", "references", "consistency", "image_size", "variants", "safety")
IDEAS_KEYS = ("scenes",)
SCENE_KEYS = ("id", "prompt", "title", "aspect_ratio", "negative_prompt", "references", "image_size", "variants")


def unknown_keys(doc: LineDict, allowed: Collection[str], file: str, where: str = "") -> list[UnknownKey]:
    """One :class:`UnknownKey` per key of ``doc`` not in ``allowed``, at its line.

    ``where`` names the mapping in the message (``models``, ``scene "map-room"``).
    """
    out = []
    for key in doc:
        if key in allowed or key in REFUSED_ELSEWHERE:
            continue
        text = str(key)
        close = difflib.get_close_matches(text, list(allowed), n=1, cutoff=0.6)
        suggestion = close[0] if close else None
        place = f" in {where}" if where else ""
        if suggestion:
            message = f"unknown key `{text}`{place}; did you mean `{suggestion}`?"
        else:
            message = f"unknown key `{text}`{place} is ignored; chargen-es reads {', '.join(allowed)}"
        out.append(UnknownKey(file, message, doc.line_of(key), suggestion=suggestion))
    return out
