"""The committed sample review journal: an old review journal replays to the same bytes forever."""

from __future__ import annotations

from pathlib import Path

from chargen_es import events as ev
from chargen_es.journal import read_events
from projections import review

SAMPLE = Path(__file__).parent / "data" / "sample_review"


def test_the_sample_covers_every_review_event_type() -> None:
    seen = {type(e) for e in read_events(SAMPLE / "journal.jsonl")}
    assert seen == set(review.REVIEW_TYPES)


def test_the_sample_replays_to_the_committed_review_json() -> None:
    events = read_events(SAMPLE / "journal.jsonl")
    assert review.render(review.project(events)) == (SAMPLE / review.REVIEW_FILE).read_bytes()


def test_the_latest_event_wins_and_clear_forgets() -> None:
    r = review.project(read_events(SAMPLE / "journal.jsonl"))
    states = {k[0][-1]: (v.state, v.note) for k, v in r.verdicts.items()}
    assert states == {"1": ("rejected", "too dark"), "3": ("rejected", "on second thought, no"), "4": ("picked", "")}
    assert r.seq == 6


def test_a_fold_continues_where_it_stopped_and_ignores_run_events() -> None:
    events = read_events(SAMPLE / "journal.jsonl")
    first = review.project(events[:3])
    kept = review.render(first)
    assert review.fold(first, events[3:]) == review.project(events)
    assert review.render(first) == kept, "fold leaves its input as it was"
    other = ev.RunCompleted(ok=1, failed=0, skipped=0, seq=7)
    assert review.render(review.fold(review.project(events), [other])) == review.render(review.project(events))


def test_a_scene_is_picked_by_any_take_rejected_only_by_all() -> None:
    assert review.scene_verdict(["rejected", "picked", None]) == "picked"
    assert review.scene_verdict(["rejected", "rejected"]) == "rejected"
    assert review.scene_verdict(["rejected", None]) == "waiting"
    assert review.scene_verdict([]) == "waiting"
