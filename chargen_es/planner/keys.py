"""Task keys and safe output names.

A task key is ``{entity}/{slug}/{scene}@sha256:{16 hex}`` with the *singular* entity type
(``character/ada/map-room@sha256:…``, as the chargen spec writes keys; the folder stays
``characters/``); for analysis the scene
part is ``analyze:{image stem}``. The hash is over a canonical JSON document (sorted
keys, no whitespace, UTF-8) of everything that changes the result and nothing else:
prompt text, reference SHA-256s in order, model, generation config, and for analysis the
image SHA-256 and :data:`ANALYSIS_SCHEMA_VERSION`. Paths, run stamps and dict order do not
enter it, so the key is the same across runs and machines, and any change of intent
gives a new key.

Keys written before the singular form (``characters/ada/map-room@…``) carry the same hash:
:func:`legacy_key` gives that spelling so the skip check still finds old ``imagery.yaml``
entries and journals, and :func:`canonical_key` maps either spelling to the current one.
A batch file's entries (:mod:`.batchfile`) are keyed ``batch/{name}/{id}@sha256:…``;
``batch`` is already singular and has no legacy spelling.

A scene kept consistent with analyses (:mod:`.consistency`) adds one member,
``consistency: {v, fields, analyses: [SHA-256 of each analysis JSON, in source order]}``,
and its ``prompt`` member is the prompt *without* the consistency part: that part is a
pure function of the analyses' bytes, the fields and ``v``, so nothing is lost, and the
key a scene had under an older analysis can be recomputed from the analysis hashes
``imagery.yaml`` keeps (which is how the plan says ``analysis changed``). A scene with
no analysis to use has exactly the key it had before consistency existed.

A scene drawn in several takes (``variants: N``) has one task per take. Take 1 keeps
exactly the key a scene had before takes existed (nothing already made is planned again);
take ``k > 1`` adds ``take: k`` to the document, so every take has its own key with the
scene's visible prefix (``character/ada/map-room@sha256:…``): takes of a scene are
grouped by that prefix. Their outputs are named by :func:`take_stem`.

Output names come from scene ids, which are free text. :func:`safe_name` turns one into
a single path component that cannot climb out of the entity's ``images`` folder.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import msgspec

from chargen_es import analysis

KEY_VERSION = 1
ANALYSIS_SCHEMA_VERSION = analysis.SCHEMA_VERSION
_ENCODER = msgspec.json.Encoder(order="sorted")
_UNSAFE = re.compile(r"[^\w\-]+", re.UNICODE)
_DASHES = re.compile(r"-{2,}")
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)
MAX_NAME_BYTES = 100


# folder name -> the singular type used in task keys (design.md: ``character/<slug>/<scene>``)
SINGULAR: dict[str, str] = {"characters": "character", "locations": "location", "chapters": "chapter"}
PLURAL: dict[str, str] = {v: k for k, v in SINGULAR.items()}


def key_type(entity_type: str) -> str:
    """The entity type as a key writes it: ``characters`` -> ``character``."""
    return SINGULAR.get(entity_type, entity_type)


def legacy_key(key: str) -> str:
    """The plural spelling older releases wrote for the same task (same hash)."""
    head, sep, rest = key.partition("/")
    return f"{PLURAL[head]}{sep}{rest}" if head in PLURAL else key


def canonical_key(key: str) -> str:
    """Either spelling of a key, in the current singular form."""
    head, sep, rest = key.partition("/")
    return f"{SINGULAR[head]}{sep}{rest}" if head in SINGULAR else key


def canonical_json(doc: Any) -> bytes:
    """Sorted-key, whitespace-free UTF-8 JSON: the bytes that get hashed."""
    return _ENCODER.encode(doc)


def digest16(doc: Any) -> str:
    """First 16 hex digits of the SHA-256 of ``canonical_json(doc)``."""
    return hashlib.sha256(_ENCODER.encode(doc)).hexdigest()[:16]


def generate_key(
    entity_type: str, slug: str, scene: str, *, prompt: str, references: Sequence[str], model: str,
    generation_config: dict[str, Any], consistency: dict[str, Any] | None = None, take: int = 1,
    round: int = 0,
) -> str:
    """Key of a generation task; ``references`` are SHA-256 hex digests in order.

    ``consistency`` (see the module docstring) is left out of the document when None,
    and ``prompt`` is then the whole prompt; ``take`` is left out for take 1 and ``round``
    (a scene planned again after all its takes were rejected) for round 0.
    """
    doc: dict[str, Any] = {
        "v": KEY_VERSION,
        "kind": "generate",
        "prompt": prompt,
        "references": list(references),
        "model": model,
        "generation_config": generation_config,
    }
    if consistency is not None:
        doc["consistency"] = consistency
    if take != 1:
        doc["take"] = take
    if round:
        doc["round"] = round
    return f"{key_type(entity_type)}/{_nfc(slug)}/{_nfc(scene)}@sha256:{digest16(doc)}"


def scene_of(key: str) -> str:
    """The scene part of a key (``character/ada/map-room``), shared by all its takes."""
    return canonical_key(key).partition("@")[0]


def take_stem(safe: str, take: int, stamp: str) -> str:
    """An output's file stem: ``map-room-<stamp>`` for take 1 (as before takes existed),
    ``map-room-v2-<stamp>`` for take 2 and on."""
    return f"{safe}-{stamp}" if take == 1 else f"{safe}-v{take}-{stamp}"


def analyze_key(
    entity_type: str, slug: str, image_stem: str, *, prompt: str, image_sha256: str, model: str,
    generation_config: dict[str, Any],
) -> str:
    """Key of an analysis task for one existing image."""
    doc = {
        "v": KEY_VERSION,
        "kind": "analyze",
        "prompt": prompt,
        "image": image_sha256,
        "model": model,
        "generation_config": generation_config,
        "schema_version": ANALYSIS_SCHEMA_VERSION,
    }
    return f"{key_type(entity_type)}/{_nfc(slug)}/analyze:{_nfc(image_stem)}@sha256:{digest16(doc)}"


def _nfc(text: str) -> str:
    """One spelling per name: a tree copied through a file system that stores names
    decomposed (NFD) keeps its keys, so nothing is planned, or paid for, again."""
    return unicodedata.normalize("NFC", text)


@functools.lru_cache(maxsize=4096)
def safe_name(scene_id: str) -> str:
    """One safe path component from a scene id.

    NFKC-normalised; anything but letters, digits, ``_`` and ``-`` (dots and slashes
    included) becomes ``-``; runs of ``-`` collapse; at most :data:`MAX_NAME_BYTES` UTF-8
    bytes; never empty, never a Windows device name, never starting with ``-`` or ``.``.
    """
    text = unicodedata.normalize("NFKC", str(scene_id))
    text = _DASHES.sub("-", _UNSAFE.sub("-", text)).strip("-_")
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = text.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip("-_")
    if not text:
        text = "scene"
    if text.lower() in _RESERVED:
        text = f"{text}_"
    return text


def unique_safe_names(scene_ids: Sequence[str]) -> list[str]:
    """Safe names for an entity's scenes, distinct even when two ids sanitise alike.

    A clash (``a b`` and ``a/b``) is settled by suffixing a hash of the raw id, so the
    name depends only on the ids themselves, not on their order of discovery beyond the
    first holder of a plain name.
    """
    seen: set[str] = set()
    out: list[str] = []
    for sid in scene_ids:
        name = base = safe_name(sid)
        n = 0
        while name.casefold() in seen:  # a suffixed name may itself be some other id's plain name
            n += 1
            salt = str(sid) if n == 1 else f"{sid}#{n}"
            name = f"{base}-{hashlib.sha256(salt.encode('utf-8')).hexdigest()[:8]}"
        seen.add(name.casefold())
        out.append(name)
    return out
