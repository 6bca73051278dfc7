"""Write the committed sample review journal (every review event type) and its review.json.

Run once (``python tests/core/make_sample_review.py``) and commit the output; the test
``test_sample_review.py`` proves this old journal still replays, byte for byte, to the
committed ``review.json``. Regenerate only on purpose, when the projection's format changes.
"""

from __future__ import annotations

from pathlib import Path

from chargen_es import events as ev
from chargen_es.journal import LOCK_NAME, Journal
from projections import review

HERE = Path(__file__).parent / "data" / "sample_review"
T0 = 1766145600.0  # 2025-12-19T12:00:00Z
KEY = "character/ada/map-room@sha256:{:016x}"
SHA = "{:064x}"


def sample_steps() -> list[tuple[float, ev.Event]]:
    return [
        (0.0, ev.ImageRejected(key=KEY.format(1), sha256=SHA.format(1), path="characters/ada/images/map-room-a.png",
                               note="too dark")),
        (1.0, ev.ImageRejected(key=KEY.format(2), sha256=SHA.format(2),
                               path="characters/ada/images/map-room-v2-a.png", note="wrong hat")),
        (2.0, ev.ImagePicked(key=KEY.format(3), sha256=SHA.format(3), path="characters/ada/images/map-room-v3-a.png")),
        (3.0, ev.ImageCleared(key=KEY.format(2), sha256=SHA.format(2), path="characters/ada/images/map-room-v2-a.png")),
        (4.0, ev.ImageRejected(key=KEY.format(3), sha256=SHA.format(3), path="characters/ada/images/map-room-v3-a.png",
                               note="on second thought, no")),
        (5.0, ev.ImagePicked(key=f"batch/cards/one@sha256:{4:016x}", sha256=SHA.format(4),
                             path="postcards/one-a.png")),
    ]


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    (HERE / "journal.jsonl").unlink(missing_ok=True)
    with Journal.open(HERE, create=True) as journal:
        for offset, event in sample_steps():
            journal.append_many((event,), now=T0 + offset)
        events = list(journal.events)
    (HERE / LOCK_NAME).unlink()
    (HERE / review.REVIEW_FILE).write_bytes(review.render(review.project(events)))
    print(f"wrote {len(events)} events to {HERE / 'journal.jsonl'} and {review.REVIEW_FILE}")


if __name__ == "__main__":
    main()
