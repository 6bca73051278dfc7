"""Closed vocabularies (``Literal`` aliases in ``chargen_es.events``) only grow.

msgspec refuses a value outside a field's ``Literal`` when it decodes, so dropping or
renaming a member would make every journal that holds it unreadable. ``WRITTEN`` lists
every member ever written (read from the writers, the committed journals and
``git log -p -S``); it must equal each alias's members, so a new member is added here the
day it is added to its alias, and from then on it can never be dropped unnoticed.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargen_es import events as ev
from chargen_es.errors import JournalError
from chargen_es.journal import read_events, scan_bytes, seal_line
from tests.core.strategies import event_of, journal_bytes, stamp

TESTS = Path(__file__).parent.parent
GOLDEN_PLANS = sorted((TESTS / "planner" / "golden").glob("*.json"))

# Every member ever written, with where it comes from when that is not obvious. Never
# remove a line: a journal on someone's disk may hold it.
WRITTEN: dict[str, set[str]] = {
    "Mode": {"generate", "analyze"},
    "Runner": {"batch", "live"},
    "Via": {"", "batch", "live"},  # "": line.applied / result.ignored before the field existed
    "EntityType": {"characters", "locations", "chapters", "batch"},
    "TaskReason": {"new", "missing", "changed", "forced", "inputs changed", "prompt changed",
                   "references changed", "image changed", "model changed", "config changed", "analysis changed",
                   "new take", "rejected"},
    "SkipReason": {"done", "held", "picked"},
    "UploadPurpose": {"reference", "analysis-input", "requests"},
    "ItemStage": {"result", "apply", "call", "missing"},  # "missing": the sample journal's stage
    "IgnoredReason": {"duplicate", "unknown", "unparseable", "already_applied"},
    "CallFailureKind": {"rate_limit", "transient", "permanent", "daily_quota", "billing"},
    "FallbackMode": {"live", "none"},
    "FallbackReason": {"deadline", "expired", "failed"},
    "PauseReason": {"interrupted", "detached", "daily_quota", "billing", "retry", "max_cost", "preview",
                    "stop_on_error"},
}


def members(alias: Any) -> set[str]:
    return set(typing.get_args(alias))


def literal_fields() -> list[tuple[type[Any], str, tuple[str, ...]]]:
    """Every (struct, field, members) of the catalogue whose type is a closed vocabulary."""
    out = []
    structs: list[type[Any]] = [*ev.EVENT_TYPES, ev.Task]
    for cls in structs:
        for f in mi.type_info(cls).fields:
            types = f.type.types if isinstance(f.type, mi.UnionType) else (f.type,)
            values = tuple(v for t in types if isinstance(t, mi.LiteralType) for v in t.values)
            if values:
                out.append((cls, f.name, values))
    return out


LITERAL_FIELDS = literal_fields()


def test_every_member_ever_written_is_still_a_member() -> None:
    assert set(ev.VOCABULARIES) == set(WRITTEN), "list a new alias (and all its members) in WRITTEN"
    for name, alias in ev.VOCABULARIES.items():
        dropped = WRITTEN[name] - members(alias)
        assert not dropped, f"{name}: {sorted(dropped)} were written once and must stay (events.py rule 4)"
        added = members(alias) - WRITTEN[name]
        assert not added, f"{name}: add {sorted(added)} to WRITTEN so it can never be dropped"


def test_every_vocabulary_types_some_field_and_every_literal_field_is_a_vocabulary() -> None:
    field_sets = {frozenset(values) for _, _, values in LITERAL_FIELDS}
    known = [frozenset(members(a)) for a in ev.VOCABULARIES.values()]
    for name, alias in ev.VOCABULARIES.items():
        assert any(members(alias) <= s for s in field_sets), f"{name} types no event field"
    for cls, field, values in LITERAL_FIELDS:
        assert any(set(values) - {""} <= k for k in known), \
            f"{cls.__name__}.{field}: a Literal that is no alias of events.VOCABULARIES"


@pytest.mark.parametrize("journal", sorted(TESTS.rglob("journal.jsonl")), ids=lambda p: str(p.relative_to(TESTS)))
def test_every_committed_journal_decodes(journal: Path) -> None:
    events = read_events(journal)
    assert events and events[-1].seq == len(events)


@pytest.mark.parametrize("golden", GOLDEN_PLANS, ids=lambda p: p.name)
def test_committed_golden_plans_decode_as_journal_tasks_and_skips(golden: Path) -> None:
    doc = msgspec.json.decode(golden.read_bytes())
    tasks = [msgspec.convert(t, ev.Task) for t in doc["tasks"]]
    skips = [msgspec.convert(s, ev.TaskSkipped) for s in doc["skipped"]]
    assert len(tasks) == len(doc["tasks"]) and len(skips) == len(doc["skipped"])


@pytest.mark.parametrize(("cls", "field", "values"), LITERAL_FIELDS,
                         ids=[f"{c.__name__}.{f}" for c, f, _ in LITERAL_FIELDS])
@given(data=st.data())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_member_round_trips_through_the_journal(cls: type[Any], field: str, values: tuple[str, ...],
                                                      data: st.DataObject) -> None:
    """Each member, in an otherwise arbitrary event, is sealed, scanned and decoded unchanged."""
    written = []
    for value in values:
        if cls is ev.Task:
            planned = data.draw(event_of(ev.TaskPlanned))
            task = msgspec.structs.replace(planned.task, **{field: value})  # type: ignore[attr-defined]
            written.append(msgspec.structs.replace(planned, task=task))
        else:
            written.append(msgspec.structs.replace(data.draw(event_of(cls)), **{field: value}))
    stamped = stamp(written)
    scanned = scan_bytes(journal_bytes(stamped)).events
    assert scanned == stamped
    got = [getattr(e.task if isinstance(e, ev.TaskPlanned) else e, field) for e in scanned]
    assert got == list(values)


def test_a_value_outside_its_vocabulary_refuses_the_journal_naming_the_line(tmp_path: Path) -> None:
    """A newer writer's member, read by this reader: the journal is refused, never misread."""
    good = stamp([ev.RunPaused(reason="detached"), ev.RunPaused(reason="retry")])
    newer = msgspec.json.encode({"type": "run.paused", "seq": 3, "at": "2025-12-19T12:00:02.000Z",
                                 "reason": "solar_flare", "message": ""})
    path = tmp_path / "journal.jsonl"
    path.write_bytes(journal_bytes(good) + seal_line(newer))
    with pytest.raises(JournalError) as caught:
        read_events(path)
    message = str(caught.value)
    assert "journal.jsonl:3:" in message and "solar_flare" in message and "newer" in message, message
