"""Hypothesis strategies for every event type, derived from the catalogue itself.

Built from ``msgspec.inspect`` so a new event or field is covered the day it is added,
without editing this file.
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from chargen_es import events as ev
from chargen_es.journal import seal_line

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
INTS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=6,
)


def for_type(t: mi.Type) -> st.SearchStrategy[Any]:
    """A strategy for one msgspec type description."""
    if isinstance(t, mi.StrType):
        return TEXT
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.IntType):
        return INTS
    if isinstance(t, mi.FloatType):
        return FLOATS
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.AnyType):
        return JSON_VALUES
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.UnionType):
        return st.one_of([for_type(x) for x in t.types])
    if isinstance(t, mi.DictType):
        return st.dictionaries(for_type(t.key_type), for_type(t.value_type), max_size=3)
    if isinstance(t, mi.VarTupleType):
        return st.lists(for_type(t.item_type), max_size=3).map(tuple)
    if isinstance(t, mi.StructType):
        return for_struct(t)
    raise TypeError(f"no strategy for {t!r}; teach tests/core/strategies.py")


def for_struct(t: mi.StructType) -> st.SearchStrategy[Any]:
    fields = {f.name: for_type(f.type) for f in t.fields if f.name not in ("seq", "at")}
    return st.fixed_dictionaries(fields).map(lambda kw: t.cls(**kw))


_BY_CLASS = {cls: for_struct(mi.type_info(cls)) for cls in ev.EVENT_TYPES}  # type: ignore[arg-type]


def event_of(cls: type[ev.Event]) -> st.SearchStrategy[ev.Event]:
    return _BY_CLASS[cls]


def any_event() -> st.SearchStrategy[ev.Event]:
    return st.sampled_from(ev.EVENT_TYPES).flatmap(event_of)


def stamp(events: list[ev.Event], first_seq: int = 1) -> list[ev.Event]:
    """Give events the seq and at the journal would (contiguous from ``first_seq``)."""
    return [msgspec.structs.replace(e, seq=first_seq + i, at=f"2025-12-19T12:00:{i % 60:02d}.000Z")
            for i, e in enumerate(events)]


def journal_bytes(events: list[ev.Event]) -> bytes:
    """The journal file a Journal would have written for these stamped events."""
    return b"".join(seal_line(ev.encode(e)) for e in events)


def line_ends(data: bytes) -> list[int]:
    """Offsets just past each newline."""
    ends, pos = [], 0
    while (nl := data.find(b"\n", pos)) >= 0:
        pos = nl + 1
        ends.append(pos)
    return ends
