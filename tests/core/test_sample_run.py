"""The committed sample run: an old journal must replay to the same bytes forever."""

from __future__ import annotations

import json
from pathlib import Path

from chargen_es import events as ev
from chargen_es.journal import read_events
from projections import FILENAMES, project, render
from projections.review import REVIEW_TYPES

SAMPLE = Path(__file__).parent / "data" / "sample_run"


def test_sample_journal_covers_every_event_type() -> None:
    seen = {ev.type_name(e) for e in read_events(SAMPLE / "journal.jsonl")}
    review = {ev.type_name(t) for t in REVIEW_TYPES}  # the review journal's: tests/review's sample
    missing = set(ev.TYPE_NAMES) - seen - review
    assert not missing, f"add these event types to tests/core/make_sample_run.py and regenerate: {sorted(missing)}"


def test_sample_journal_replays_to_the_committed_projections() -> None:
    rendered = render(project(read_events(SAMPLE / "journal.jsonl")))
    assert sorted(rendered) == sorted(FILENAMES)
    for name, data in rendered.items():
        assert data == (SAMPLE / "expected" / name).read_bytes(), f"{name} no longer matches the committed bytes"


def test_sample_projections_are_stamped_with_the_last_seq() -> None:
    events = read_events(SAMPLE / "journal.jsonl")
    model = project(events)
    assert model.seq == events[-1].seq == len(events)
    for name, data in render(model).items():
        assert json.loads(data)["seq"] == model.seq, name
