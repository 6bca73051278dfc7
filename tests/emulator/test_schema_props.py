"""Property tests: generated objects satisfy any schema of the supported subset; PNGs decode."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chargen_es.emulator import png, schema
from tests.shared import examples

_NAMES = st.text("abcdefghij_", min_size=1, max_size=6)


def _leaf(upper: bool) -> st.SearchStrategy[dict[str, Any]]:
    def t(name: str) -> str:
        return name.upper() if upper else name

    ints = st.tuples(st.integers(-50, 50), st.integers(0, 40)).map(
        lambda p: {"type": t("integer"), "minimum": p[0], "maximum": p[0] + p[1]})
    nums = st.tuples(st.floats(-1e3, 1e3), st.floats(0, 1e3)).map(
        lambda p: {"type": t("number"), "minimum": p[0], "maximum": p[0] + p[1]})
    strs = st.tuples(st.integers(0, 5), st.integers(5, 30)).map(
        lambda p: {"type": t("string"), "minLength": p[0], "maxLength": p[1]})
    enums = st.lists(st.text(max_size=4), min_size=1, max_size=4).map(lambda e: {"type": t("string"), "enum": e})
    return st.one_of(ints, nums, strs, enums, st.just({"type": t("boolean")}))


def _schemas(upper: bool) -> st.SearchStrategy[dict[str, Any]]:
    def extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        objects = st.dictionaries(_NAMES, children, max_size=4).flatmap(
            lambda props: st.lists(st.sampled_from(sorted(props)) if props else st.nothing(),
                                   unique=True, max_size=len(props)).map(
                lambda req: {"type": "OBJECT" if upper else "object", "properties": props, "required": req}))
        arrays = st.tuples(children, st.integers(0, 3), st.integers(0, 3)).map(
            lambda p: {"type": "ARRAY" if upper else "array", "items": p[0], "minItems": p[1],
                       "maxItems": p[1] + p[2]})
        return st.one_of(objects, arrays)

    return st.recursive(_leaf(upper), extend, max_leaves=12)


def _valid(value: Any, s: dict[str, Any]) -> bool:
    kind = str(s.get("type", "")).lower()
    if "enum" in s:
        return value in s["enum"]
    if kind == "object":
        return (isinstance(value, dict) and all(r in value for r in s.get("required", []))
                and all(_valid(value[k], sub) for k, sub in s.get("properties", {}).items() if k in value))
    if kind == "array":
        return (isinstance(value, list) and s.get("minItems", 0) <= len(value) <= s.get("maxItems", 10**9)
                and all(_valid(v, s["items"]) for v in value))
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and s["minimum"] <= value <= s["maximum"]
    if kind == "number":
        return isinstance(value, int | float) and s["minimum"] <= value <= s["maximum"]
    if kind == "string":
        return isinstance(value, str) and s.get("minLength", 0) <= len(value) <= s.get("maxLength", 10**9)
    if kind == "boolean":
        return isinstance(value, bool)
    return False


@settings(max_examples=examples(150), deadline=None)
@given(_schemas(upper=True), st.binary(min_size=8, max_size=8))
def test_openapi_subset_instances_are_valid(s: dict[str, Any], seed: bytes) -> None:
    value = schema.instance(s, seed)
    assert _valid(value, s)
    assert schema.instance(s, seed) == value  # deterministic


@settings(max_examples=examples(150), deadline=None)
@given(_schemas(upper=False), st.binary(min_size=8, max_size=8))
def test_json_schema_instances_are_valid(s: dict[str, Any], seed: bytes) -> None:
    assert _valid(schema.instance(s, seed), s)


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.binary(min_size=32, max_size=32), st.integers(0, 5000))
def test_png_decodes_for_any_size(w: int, h: int, seed: bytes, pad: int) -> None:
    data = png.render(seed, w, h, pad)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    ihdr_w, ihdr_h = struct.unpack(">II", data[16:24])
    assert (ihdr_w, ihdr_h) == (w, h)
    start = data.index(b"IDAT") + 4
    (length,) = struct.unpack(">I", data[start - 8:start - 4])
    assert len(zlib.decompress(data[start:start + length])) == h * (1 + 3 * w)
    bare = len(png.render(seed, w, h))
    assert len(data) == (pad if pad > bare + 12 else bare)
    assert data.endswith(b"IEND\xaeB`\x82")
