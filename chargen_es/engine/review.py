"""The review journal on disk: the user's verdicts on images, and imagery.yaml showing them.

Picking and rejecting are decisions nobody can recompute, so they are events in a journal
of the workspace, ``<root>/.chargen/review/journal.jsonl``, written by the one
:class:`~chargen_es.journal.Journal` (append-only, fsynced, CRC and seq per line, one
writer under ``run.lock`` in that folder; a writer waits a few seconds for another, since
each holds it for one decision). Everything else is derived:

- ``review.json`` beside the journal is the fold (:mod:`projections.review`), stamped with
  the seq it reflects, rebuilt whenever the stamp does not match (``replay --review``);
- each image's ``imagery.yaml`` entry shows ``review: picked | rejected`` and
  ``review_note`` (written by :func:`chargen_es.imagery.update`: keyed, comments kept).

Order of a decision: the event is appended (durable) first, then imagery.yaml, then
``review.json``. A crash after the append leaves imagery.yaml behind the journal; the next
opening of the log sees ``review.json``'s stamp behind the journal and brings every image
of the events after it up to date, then stamps it. Asking again for a verdict an image
already has appends nothing, so a decision repeated after a crash is recorded once.

An image is one output: its task key and the SHA-256 of its bytes, found through the
imagery.yaml that records it (:func:`locate`), by path (relative to the current folder or
the root) or by task key.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from chargen_es import events as ev
from chargen_es import fsio, imagery
from chargen_es.engine.crashpoints import crash_point
from chargen_es.errors import JournalError, UsageError
from chargen_es.journal import JOURNAL_NAME, Journal, read_events
from chargen_es.statedir import STATE_DIR, state_dir
from projections import review as rv

REVIEW_DIR = "review"
LOCK_WAIT_S = 10.0  # another writer holds the lock for one decision
Decision = Literal["pick", "reject", "clear"]
DECISIONS: tuple[Decision, ...] = ("pick", "reject", "clear")


def review_dir(root: Path) -> Path:
    return Path(root) / STATE_DIR / REVIEW_DIR


@dataclass(frozen=True, slots=True)
class Image:
    """One generated image as its imagery.yaml records it."""

    key: str
    sha256: str
    path: str  # root-relative, posix
    shown: str = ""  # the ``review`` its imagery.yaml entry shows now ("" for none)
    prompt: str = ""  # the prompt it was made from, where its imagery.yaml entry keeps it

    @property
    def scene(self) -> str:
        """The scene all takes of this image share (the key without its hash, singular type)."""
        return _canonical(self.key).partition("@")[0]


# ---------------------------------------------------------------------------- finding images


def imagery_files(root: Path) -> Iterator[Path]:
    """Every imagery.yaml of the tree (entities and batch manifests); hidden folders and
    ``.chargen`` are skipped, symlinked folders not followed, and a folder holding an
    imagery.yaml is not walked further (its images never hold another one), so the walk
    does not list every output folder."""
    for folder, dirs, files in os.walk(root):
        if imagery.IMAGERY_FILE in files:
            dirs[:] = []
            yield Path(folder) / imagery.IMAGERY_FILE
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))


Parsed = dict[Path, tuple[tuple[int, int], list[Image]]]


def images(root: Path, cache: Parsed | None = None) -> list[Image]:
    """Every generated image the tree's imagery.yaml files record (unreadable ones skipped:
    the planner names their problems). ``cache`` (a long-lived caller's, the dashboard's)
    keeps each file's images by its mtime and size, so only changed files are parsed again."""
    root = Path(root)
    out: list[Image] = []
    for path in imagery_files(root):
        try:
            st = path.stat()
        except OSError:
            continue
        stamp = (st.st_mtime_ns, st.st_size)
        if cache is not None and path in cache and cache[path][0] == stamp:
            out.extend(cache[path][1])
            continue
        found = _images_in(root, path)
        if cache is not None:
            cache[path] = (stamp, found)
        out.extend(found)
    return out


def _images_in(root: Path, path: Path) -> list[Image]:
    data = imagery.read_plain(path)
    if data is None:
        return []
    folder = path.parent.relative_to(root).as_posix()
    out = []
    for key, rel, sha, shown, prompt in imagery.image_records(data):
        full = posixpath.normpath(posixpath.join(folder, rel)) if folder != "." else posixpath.normpath(rel)
        out.append(Image(key=key, sha256=sha, path=full, shown=shown, prompt=prompt))
    return out


def locate(root: Path, spec: str, cwd: Path | None = None) -> Image:
    """The image ``spec`` names: a task key, or a path relative to ``cwd`` or the root.

    The file must still hold the bytes its imagery.yaml records: a verdict is on those bytes.
    """
    root = Path(root).resolve()
    known = images(root)
    if "@sha256:" in spec:
        found = [i for i in known if i.key == spec or _canonical(i.key) == _canonical(spec)]
        what = f"task key {spec}"
    else:
        found = [i for i in known if i.path in _root_relative(root, spec, cwd or Path.cwd())]
        what = spec
    if not found:
        raise UsageError(f"{what}: no imagery.yaml under {root} records this image; give a path of an image "
                         "chargen-es made, or its task key")
    image = found[-1]
    if fsio.sha256_file(root / image.path) != image.sha256:
        raise UsageError(f"{image.path}: the file is gone or differs from the SHA-256 its imagery.yaml records; "
                         "a verdict is on the bytes that were made")
    return image


def _canonical(key: str) -> str:
    head, sep, rest = key.partition("/")
    return f"{head.rstrip('s')}{sep}{rest}" if head in ("characters", "locations", "chapters") else key


def _root_relative(root: Path, spec: str, cwd: Path) -> set[str]:
    """The root-relative spellings ``spec`` may mean (from the current folder, then the root)."""
    out = set()
    for base in (cwd, root):
        try:
            rel = Path(os.path.normpath(base / spec)).resolve().relative_to(root)
        except (ValueError, OSError):
            continue
        out.add(rel.as_posix())
    return out


# ---------------------------------------------------------------------------- reading


def load(root: Path) -> rv.Review:
    """The review as the journal stands (read-only, no lock): empty when nothing was judged."""
    path = review_dir(root) / JOURNAL_NAME
    if not path.exists():
        return rv.Review()
    return rv.project(read_events(path))


def verdict_map(root: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """The review as the planner takes it (``PlanOptions.verdicts``): ``(key, sha256) -> (state, note)``."""
    return {k: (v.state, v.note) for k, v in load(root).verdicts.items()}


# ---------------------------------------------------------------------------- writing


class ReviewLog:
    """The open review journal (its lock held) and the review folded from it."""

    def __init__(self, root: Path, journal: Journal) -> None:
        self.root = Path(root)
        self.journal = journal
        self.review = rv.project(journal.events)

    @classmethod
    def open(cls, root: Path, *, resync: bool = False) -> ReviewLog:
        """Lock and recover the journal, then bring imagery.yaml and ``review.json`` up to it
        (``resync``: every image ever judged, not only those after ``review.json``'s stamp)."""
        state_dir(root)
        log = cls(root, Journal.open(review_dir(root), create=True, wait=LOCK_WAIT_S))
        try:
            log.catch_up(0 if resync else log.stamped_seq())
        except BaseException:
            log.close()
            raise
        return log

    def close(self) -> None:
        self.journal.close()

    def __enter__(self) -> ReviewLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stamped_seq(self) -> int:
        """The seq ``review.json`` reflects (0 when it is missing or unreadable)."""
        try:
            return int(_read_json_seq(review_dir(self.root) / rv.REVIEW_FILE))
        except (OSError, ValueError, msgspec.DecodeError):
            return 0

    def catch_up(self, after: int) -> None:
        """Show the verdicts of the images judged after seq ``after`` in their imagery.yaml,
        then stamp ``review.json`` (nothing is written when all of it already holds)."""
        if after < self.journal.last_seq:
            self._show(e for e in self.journal.events if e.seq > after)
        self._write_projection()

    def decide(self, image: Image, decision: Decision, note: str = "") -> bool:
        """Record a verdict on ``image`` and show it; False when it already stood (nothing appended)."""
        event = _event(image, decision, note)
        if self._stands(event):
            self._show((event,))
            self._write_projection()
            return False
        crash_point("before", "review.append")
        (stamped,) = self.journal.append_many((event,))
        rv.mutate(self.review, stamped)
        crash_point("after", "review.append")
        self._show((stamped,))
        crash_point("after", "review.imagery")
        self._write_projection()
        return True

    def _stands(self, event: ev.Event) -> bool:
        assert isinstance(event, rv.REVIEW_TYPES)
        current = self.review.of(event.key, event.sha256)  # type: ignore[attr-defined]
        match event:
            case ev.ImagePicked():
                return current is not None and current.state == "picked"
            case ev.ImageRejected(note=note):
                return current is not None and current.state == "rejected" and current.note == note
            case _:
                return current is None

    def _show(self, events: Iterable[ev.Event]) -> None:
        """Each touched image's standing verdict in its imagery.yaml, one update per file."""
        by_file: dict[str, list[imagery.Mutation]] = {}
        seen: set[tuple[str, str]] = set()
        for e in events:
            if not isinstance(e, rv.REVIEW_TYPES):
                continue
            key, sha, path = e.key, e.sha256, e.path  # type: ignore[attr-defined]
            if (key, sha) in seen:
                continue
            seen.add((key, sha))
            verdict = self.review.of(key, sha)
            mutation = imagery.review_mutation(key, sha, verdict.state if verdict else None,
                                               verdict.note if verdict else "")
            by_file.setdefault(imagery.folder_of_image(key, path), []).append(mutation)
        for folder, mutations in by_file.items():
            target = self.root / folder / imagery.IMAGERY_FILE
            if target.exists():  # an entity removed since: nothing left to show it in
                fsio.sweep_temp_files(target.parent)  # a killed writer's temp file, before writing again
                imagery.update(target, mutations, _write, root=self.root)

    def _write_projection(self) -> None:
        folder = review_dir(self.root)
        fsio.sweep_temp_files(folder)
        fsio.write_files(folder, {rv.REVIEW_FILE: rv.render(self.review)},
                         before_rename=lambda: crash_point("during", "review.json"))


def record(root: Path, image: Image, decision: Decision, note: str = "") -> bool:
    """One verdict through the review journal, opened and closed around it: what ``pick``,
    ``reject``, ``clear``, the ``review`` walk and the dashboard's ``POST /api/review`` all
    do. False when that verdict already stood (nothing appended)."""
    with ReviewLog.open(root) as log:
        return log.decide(image, decision, note)


def _write(path: Path, data: bytes, mode: int | None) -> None:
    fsio.replace_atomic(path, data, mode=mode, before_rename=lambda: crash_point("during", "imagery.write"))


def _event(image: Image, decision: Decision, note: str) -> ev.Event:
    if decision == "pick":
        return ev.ImagePicked(key=image.key, sha256=image.sha256, path=image.path)
    if decision == "reject":
        return ev.ImageRejected(key=image.key, sha256=image.sha256, path=image.path, note=note.strip())
    if decision == "clear":
        return ev.ImageCleared(key=image.key, sha256=image.sha256, path=image.path)
    raise UsageError(f"decision {decision!r}: use one of {', '.join(DECISIONS)}")


def _read_json_seq(path: Path) -> int:
    doc = msgspec.json.decode(path.read_bytes())
    if not isinstance(doc, dict) or not isinstance(doc.get("seq"), int):
        raise ValueError("no seq")
    return int(doc["seq"])


# ---------------------------------------------------------------------------- checking


def check(root: Path) -> list[str]:
    """What does not match the review journal: ``review.json`` and each imagery.yaml's
    ``review`` (read-only; ``replay --review`` fixes both)."""
    path = review_dir(root) / JOURNAL_NAME
    try:
        review = load(root)
    except JournalError as exc:
        return [str(exc)]
    problems = []
    stored = review_dir(root) / rv.REVIEW_FILE
    if path.exists() and (not stored.exists() or stored.read_bytes() != rv.render(review)):
        problems.append(f"{stored}: does not match the review journal")
    for image in images(root):
        verdict = review.of(image.key, image.sha256)
        want = verdict.state if verdict else ""
        if image.shown != want:
            problems.append(f"{image.path}: imagery.yaml shows review {image.shown or 'none'}, the review "
                            f"journal says {want or 'none'}")
    return problems
