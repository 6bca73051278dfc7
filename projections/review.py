"""The review: a workspace's verdicts on its images, folded from the review journal.

The review journal (``.chargen/review/journal.jsonl``) holds ``image.picked``,
``image.rejected`` and ``image.cleared``; this fold turns it into the verdict of each
image, an image being one output (task key, SHA-256 of its bytes). The latest event for
an image wins; ``image.cleared`` removes its verdict, so it waits again. A scene's
verdict (:func:`scene_verdict`) is read over the images of its takes: ``picked`` when any
is picked, ``rejected`` when every one is rejected, else ``waiting``.

Pure like every fold here: events in, no clock, disk or environment; ``render`` gives
``review.json``'s canonical bytes, stamped with the seq it reflects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from chargen_es import events as ev
from projections.render import pretty_json

REVIEW_FILE = "review.json"
ImageState = Literal["picked", "rejected"]
SceneState = Literal["waiting", "picked", "rejected"]
REVIEW_TYPES: tuple[type[ev.Event], ...] = (ev.ImagePicked, ev.ImageRejected, ev.ImageCleared)


class Verdict(msgspec.Struct, kw_only=True):
    """The standing verdict on one image."""

    key: str
    sha256: str
    state: ImageState
    path: str = ""
    note: str = ""
    seq: int = 0  # the event that gave it
    at: str = ""


class Review(msgspec.Struct, kw_only=True):
    """Every image's standing verdict, by ``(key, sha256)``."""

    seq: int = 0
    verdicts: dict[tuple[str, str], Verdict] = {}

    def of(self, key: str, sha256: str) -> Verdict | None:
        return self.verdicts.get((key, sha256))

    def copy(self) -> Review:
        return Review(seq=self.seq, verdicts=dict(self.verdicts))


def mutate(review: Review, event: ev.Event) -> None:
    """Fold one event into ``review`` in place; events of a run journal are not its business."""
    match event:
        case ev.ImagePicked(key=key, sha256=sha, path=path):
            review.verdicts[(key, sha)] = Verdict(key=key, sha256=sha, state="picked", path=path,
                                                  seq=event.seq, at=event.at)
        case ev.ImageRejected(key=key, sha256=sha, path=path, note=note):
            review.verdicts[(key, sha)] = Verdict(key=key, sha256=sha, state="rejected", path=path, note=note,
                                                  seq=event.seq, at=event.at)
        case ev.ImageCleared(key=key, sha256=sha):
            review.verdicts.pop((key, sha), None)
        case _:
            return
    review.seq = event.seq


def project(events: Iterable[ev.Event]) -> Review:
    """The review from nothing."""
    return fold(Review(), events)


def fold(review: Review, events: Iterable[ev.Event]) -> Review:
    """Continue a fold; the object passed in is left as it was."""
    out = review.copy()
    for event in events:
        mutate(out, event)
    return out


def scene_verdict(states: Sequence[ImageState | None]) -> SceneState:
    """A scene's verdict from its takes' (``None``: no verdict yet)."""
    if "picked" in states:
        return "picked"
    if states and all(s == "rejected" for s in states):
        return "rejected"
    return "waiting"


def render(review: Review) -> bytes:
    """``review.json``: the verdicts sorted by key and hash, stamped with ``seq``."""
    rows = [review.verdicts[k] for k in sorted(review.verdicts)]
    return pretty_json({"seq": review.seq, "verdicts": rows})
