"""planner.rounds as a pure function: records and verdicts in, the scene's round out."""

from __future__ import annotations

from chargen_es.imagery import Record
from chargen_es.planner import prompts, rounds


def keys_of(n: int, notes: tuple[str, ...]) -> list[str]:
    """Two takes per round; the key spells the round and the notes (as the real keys hash them)."""
    return [f"character/ada/map-room@sha256:{n}-{t}-{'|'.join(notes)}" for t in (1, 2)]


def made(*keys: str) -> dict[str, list[Record]]:
    return {k: [Record(k, f"images/{i}.png", f"{i:064x}")] for i, k in enumerate(keys)}


def verdicts(records: dict[str, list[Record]], states: dict[str, tuple[str, str]]) -> rounds.Verdicts:
    return {(k, recs[0].sha256): states[k] for k, recs in records.items() if k in states}


def test_rounds_accumulate_notes_until_one_is_not_all_rejected() -> None:
    r0 = keys_of(0, ())
    r1 = keys_of(1, ("too dark",))
    records = made(*r0, *r1)
    judged = verdicts(records, {r0[0]: ("rejected", "too dark"), r0[1]: ("rejected", "too dark"),
                                r1[0]: ("rejected", "wrong hat"), r1[1]: ("rejected", "")})
    n, notes = rounds.current_round(keys_of, lambda k: records.get(k, []), judged)
    assert (n, notes) == (2, ("too dark", "wrong hat"))
    assert prompts.review_clause(notes) == "Unlike the rejected takes: too dark; wrong hat."


def test_a_take_waiting_or_not_made_keeps_the_round() -> None:
    r0 = keys_of(0, ())
    records = made(*r0)
    waiting = verdicts(records, {r0[0]: ("rejected", "x")})
    assert rounds.current_round(keys_of, lambda k: records.get(k, []), waiting) == (0, ())
    half = made(r0[0])
    assert rounds.current_round(keys_of, lambda k: half.get(k, []), verdicts(half, {r0[0]: ("rejected", "x")})) \
        == (0, ())


def test_a_pick_settles_the_scene_unless_overridden() -> None:
    r0 = keys_of(0, ())
    records = made(*r0)
    judged = verdicts(records, {r0[0]: ("rejected", "x"), r0[1]: ("picked", "")})
    picked = rounds.picked_scenes(records, judged)
    assert picked == {"character/ada/map-room": "images/1.png"}
    assert rounds.steer(picked, keys_of, lambda k: records.get(k, []), judged, False) == ("images/1.png", 0, ())
    assert rounds.steer(picked, keys_of, lambda k: records.get(k, []), judged, True) == (None, 0, ())


def test_notes_are_one_clause_without_repeats() -> None:
    assert prompts.review_clause(["Too dark.", "too dark", "  wrong\nhat ", ""]) == \
        "Unlike the rejected takes: Too dark; wrong hat."
    assert prompts.review_clause([]) == ""
    text = prompts.with_part("Scene: x", prompts.review_clause(["a"]))
    assert prompts.review_of(text) == "a." and prompts.review_of("Scene: x") == ""
