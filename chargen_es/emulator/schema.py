"""Deterministic instances of response schemas, so structured-output clients can parse them.

Two dialects arrive: ``responseSchema`` (Gemini's OpenAPI subset, upper-case ``type``,
``property_ordering`` possibly in snake_case) and ``responseJsonSchema`` (plain JSON
Schema, possibly with ``$defs``/``$ref`` from pydantic). One walker handles both: types
are compared case-insensitively and every keyword is read through :func:`wire.field`.
Values are derived from a seed and the JSON path, so the same request gives the same
object, and they always satisfy ``enum``, ``required``, bounds and item counts.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from chargen_es.emulator import describe
from chargen_es.emulator.wire import field

_MAX_DEPTH = 12


def instance(schema: Any, seed: bytes, colours: list[str] | None = None) -> Any:
    """An object satisfying *schema*; the seed makes it a pure function of the request.

    Text reads as words chosen by the field's name (:mod:`.describe`); a list named like
    a palette holds ``colours`` (the picture's own, when the request shows one).
    """
    root = schema if isinstance(schema, dict) else {}
    return _value(root, root, seed, "$", 0, tuple(colours or ()))


_NAME = re.compile(r"[A-Za-z_]+")


def _field_name(path: str) -> tuple[str, int]:
    """The property a value belongs to and its index in an array: ``$.traits[1]`` -> (traits, 1)."""
    tail = path.rsplit(".", 1)[-1]
    found = _NAME.match(tail)
    index = re.search(r"\[(\d+)\]$", tail)
    return (found.group(0) if found else "value"), (int(index.group(1)) if index else 0)


def _pick(seed: bytes, path: str, n: int) -> int:
    digest = hashlib.blake2b(seed + path.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % max(1, n)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    for _ in range(_MAX_DEPTH):
        if not isinstance(ref, str) or not ref.startswith("#/"):
            break
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node if isinstance(node, dict) else {}
        ref = schema.get("$ref")
    return schema


def _type(schema: dict[str, Any]) -> str:
    t = field(schema, "type")
    if isinstance(t, list):
        non_null = [x for x in t if str(x).lower() != "null"]
        t = non_null[0] if non_null else "null"
    if t is None:
        if field(schema, "properties") is not None:
            return "object"
        if field(schema, "items") is not None:
            return "array"
        return "string"
    return str(t).lower()


def _value(schema: dict[str, Any], root: dict[str, Any], seed: bytes, path: str, depth: int,
           colours: tuple[str, ...] = ()) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    enum = field(schema, "enum")
    if isinstance(enum, list) and enum:
        return enum[_pick(seed, path, len(enum))]
    for combo in ("anyOf", "oneOf", "allOf"):
        options = field(schema, combo)
        if isinstance(options, list) and options:
            typed = [o for o in options if isinstance(o, dict) and _type(_resolve(o, root)) != "null"]
            return _value(typed[0] if typed else options[0], root, seed, path, depth + 1, colours)
    kind = _type(schema)
    if depth > _MAX_DEPTH:
        kind = "null" if field(schema, "nullable") else kind
    if kind == "object":
        return _object(schema, root, seed, path, depth, colours)
    if kind == "array":
        return _array(schema, root, seed, path, depth, colours)
    if kind == "integer":
        return _integer(schema, seed, path)
    if kind == "number":
        return _number(schema, seed, path)
    if kind == "boolean":
        return _pick(seed, path, 2) == 1
    if kind == "null":
        return None
    return _string(schema, seed, path)


def _object(schema: dict[str, Any], root: dict[str, Any], seed: bytes, path: str, depth: int,
            colours: tuple[str, ...]) -> Any:
    props = field(schema, "properties") or {}
    if not isinstance(props, dict):
        props = {}
    order = field(schema, "propertyOrdering") or []
    names = [n for n in order if n in props] + [n for n in props if n not in order]
    required = field(schema, "required") or []
    if depth > _MAX_DEPTH:
        names = [n for n in names if n in required]
    out: dict[str, Any] = {}
    for name in names:
        sub = props[name] if isinstance(props[name], dict) else {}
        out[name] = _value(sub, root, seed, f"{path}.{name}", depth + 1, colours)
    for name in required:
        if name not in out:
            out[name] = f"{name}-{_pick(seed, path + name, 10**6)}"
    return out


def _array(schema: dict[str, Any], root: dict[str, Any], seed: bytes, path: str, depth: int,
           colours: tuple[str, ...]) -> Any:
    lo = int(field(schema, "minItems", 0) or 0)
    hi = field(schema, "maxItems")
    hi_n = int(hi) if hi is not None else lo + 2
    count = lo if depth > _MAX_DEPTH else lo + _pick(seed, path + "#n", max(1, hi_n - lo + 1))
    count = max(count, 1 if hi_n >= 1 and depth <= _MAX_DEPTH else 0)
    items = field(schema, "items")
    item_schema = items if isinstance(items, dict) else {}
    name, _ = _field_name(path)
    if name.lower() in describe.COLOUR_FIELDS and colours and _type(_resolve(item_schema, root)) == "string":
        return [colours[i % len(colours)] for i in range(max(lo, min(len(colours), hi_n)))]
    return [_value(item_schema, root, seed, f"{path}[{i}]", depth + 1, colours) for i in range(count)]


def _bounds(schema: dict[str, Any]) -> tuple[float | None, float | None]:
    lo = field(schema, "minimum")
    hi = field(schema, "maximum")
    ex_lo = field(schema, "exclusiveMinimum")
    ex_hi = field(schema, "exclusiveMaximum")
    if isinstance(ex_lo, int | float) and not isinstance(ex_lo, bool):
        lo = ex_lo + 1e-6 if lo is None else max(lo, ex_lo + 1e-6)
    if isinstance(ex_hi, int | float) and not isinstance(ex_hi, bool):
        hi = ex_hi - 1e-6 if hi is None else min(hi, ex_hi - 1e-6)
    return (float(lo) if lo is not None else None, float(hi) if hi is not None else None)


def _integer(schema: dict[str, Any], seed: bytes, path: str) -> int:
    lo, hi = _bounds(schema)
    low = int(-(-lo // 1)) if lo is not None else 0
    high = int(hi // 1) if hi is not None else low + 100
    if high < low:
        return low
    return low + _pick(seed, path, high - low + 1)


def _number(schema: dict[str, Any], seed: bytes, path: str) -> float:
    lo, hi = _bounds(schema)
    low = lo if lo is not None else 0.0
    high = hi if hi is not None else low + 1.0
    if high <= low:
        return low
    frac = _pick(seed, path, 1000) / 1000
    return min(max(round(low + (high - low) * frac, 3), low), high)


def _string(schema: dict[str, Any], seed: bytes, path: str) -> str:
    fmt = str(field(schema, "format") or "").lower()
    if fmt == "date-time":
        return "2025-06-01T10:00:00Z"
    if fmt == "date":
        return "2025-06-01"
    name, index = _field_name(path)
    text = describe.words(name, _pick(seed, path.rsplit("[", 1)[0], 16**6), index)
    lo = int(field(schema, "minLength", 0) or 0)
    hi = field(schema, "maxLength")
    if len(text) < lo:
        text = text + "x" * (lo - len(text))
    if hi is not None and len(text) > int(hi):
        text = text[: int(hi)]
    return text
