"""Property tests of the journal line format and its recovery rules (docs/run-format.md, section 2)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargen_es import events as ev
from chargen_es.errors import JournalError
from chargen_es.journal import JOURNAL_NAME, Journal, scan_bytes, seal_line
from projections import fold, project, render
from tests.core.strategies import any_event, event_of, journal_bytes, line_ends, stamp
from tests.shared import examples

FAST = settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cls", ev.EVENT_TYPES, ids=ev.TYPE_NAMES)
@given(data=st.data())
@FAST
def test_every_event_type_round_trips_through_a_sealed_line(cls: type[ev.Event], data: st.DataObject) -> None:
    event = stamp([data.draw(event_of(cls))])[0]
    line = seal_line(ev.encode(event))
    assert line.endswith(b'"}\n') and line.count(b"\n") == 1
    scan = scan_bytes(line)
    assert scan.events == [event]
    assert scan.tail_bytes == 0
    assert ev.type_name(scan.events[0]) == ev.type_name(event)


@given(st.lists(any_event(), max_size=12), st.data())
@FAST
def test_any_prefix_of_a_valid_journal_replays(events: list[ev.Event], data: st.DataObject) -> None:
    stamped = stamp(events)
    raw = journal_bytes(stamped)
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    complete = sum(1 for end in line_ends(raw) if end <= cut)
    scan = scan_bytes(raw[:cut])
    assert scan.events == stamped[:complete]
    assert project(scan.events) == project(stamped[:complete])


@given(st.lists(any_event(), max_size=10), st.lists(any_event(), max_size=10))
@FAST
def test_folding_more_events_equals_projecting_them_all(a: list[ev.Event], b: list[ev.Event]) -> None:
    stamped = stamp(a + b)
    first, rest = stamped[: len(a)], stamped[len(a):]
    base = project(first)
    before = render(base)
    continued = project(first)
    folded = fold(base, rest)
    assert folded == project(stamped)
    assert render(folded) == render(project(stamped))
    assert render(base) == before, "fold must not change the projections passed in"
    assert base == continued


@given(
    st.lists(any_event(), min_size=1, max_size=8),
    st.data(),
    st.one_of(st.binary(min_size=1, max_size=64), st.integers(1, 64).map(lambda n: b"\0" * n)),
)
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_garbage_after_any_offset_recovers_the_longest_valid_prefix(
    events: list[ev.Event], data: st.DataObject, tail: bytes
) -> None:
    stamped = stamp(events)
    raw = journal_bytes(stamped)
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    ends = line_ends(raw)
    keep = sum(1 for end in ends if end <= cut)
    if tail[:1] == b"\n" and cut < len(raw) and raw[cut : cut + 1] == b"\n":
        keep += 1  # the garbage happened to supply the missing newline of a complete line
    valid_end = ends[keep - 1] if keep else 0
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        (run / JOURNAL_NAME).write_bytes(raw[:cut] + tail)
        with Journal.open(run) as journal:
            assert journal.events == stamped[:keep]
            assert journal.last_seq == keep
            appended = journal.append(ev.RunPaused(reason="interrupted"))
            assert appended.seq == keep + 1
        assert (run / JOURNAL_NAME).read_bytes()[:valid_end] == raw[:valid_end]
        with Journal.open(run) as again:
            assert again.events[:keep] == stamped[:keep]
            assert [e.seq for e in again.events] == list(range(1, keep + 2))


@given(st.lists(any_event(), min_size=3, max_size=8), st.data())
@settings(max_examples=examples(60), deadline=None)
def test_a_byte_flipped_in_a_middle_line_names_its_line(events: list[ev.Event], data: st.DataObject) -> None:
    stamped = stamp(events)
    raw = bytearray(journal_bytes(stamped))
    ends = line_ends(bytes(raw))
    line = data.draw(st.integers(min_value=1, max_value=len(stamped) - 1))  # 1-based, never the last
    start = ends[line - 2] if line > 1 else 0
    at = data.draw(st.integers(min_value=start, max_value=ends[line - 1] - 2))  # not its newline
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[at] and b != 0x0A))
    raw[at] = new
    with pytest.raises(JournalError, match=rf"^{JOURNAL_NAME}:{line}: "):
        scan_bytes(bytes(raw))
