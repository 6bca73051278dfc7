"""The next round: what the review's verdicts mean for planning a scene.

The review journal (``chargen_es.engine.review``) is read by the cli and handed to the
planner as plain data, ``PlanOptions.verdicts``: ``(task key, image SHA-256) -> (state,
note)``. With it, a scene is planned as the user steered it:

- **picked**: an image of any take (any round, any key of the scene) is picked. The scene
  is settled: none of its takes is planned again, even when its inputs changed (the plan
  shows a ``picked`` skip naming what changed), unless ``--force`` or ``--refresh picked``.
- **rejected**: every take of the scene's current round is made and rejected. The scene is
  planned again as round ``n + 1``: the notes of every rejected round so far become one
  clause of its prompt (:func:`chargen_es.planner.prompts.review_clause`) and the round is
  part of the key (``keys.generate_key(round=...)``), so the new takes are new tasks, and
  a round that is rejected in turn leads to the next.

Pure: records and verdicts in, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from chargen_es.events import FileRef
from chargen_es.imagery import Record
from chargen_es.planner import keys
from chargen_es.planner.files import FileIndex, PathProblem, mime_for

Verdicts = Mapping[tuple[str, str], tuple[str, str]]
MAX_ROUNDS = 100  # a scene rejected this often is left to the user


def take_verdict(records: Sequence[Record], verdicts: Verdicts) -> tuple[str, str] | None:
    """The verdict on a take's recorded image (``(state, note)``), or None (not made, or not judged)."""
    for rec in records:
        found = verdicts.get((rec.task_key, rec.sha256))
        if found is not None:
            return found
    return None


def picked_scenes(records: Mapping[str, Sequence[Record]], verdicts: Verdicts) -> dict[str, str]:
    """Scene id (``character/ada/map-room``) -> the entity-relative path of a picked image."""
    out: dict[str, str] = {}
    if not verdicts:
        return out
    for key, recs in records.items():
        for rec in recs:
            if verdicts.get((rec.task_key, rec.sha256), ("", ""))[0] == "picked":
                out.setdefault(keys.scene_of(key), rec.path)
    return out


def picked_refs(files: FileIndex, entity_rel: str, records: Mapping[str, Sequence[Record]],
                verdicts: Verdicts) -> tuple[FileRef, ...]:
    """The entity's picked images (one per scene, in scene order of their keys) as files
    (``consistency: {from: picked}``); a picked file that is gone is left out."""
    out: list[FileRef] = []
    for scene in sorted(picked := picked_scenes(records, verdicts)):
        try:
            rel = files.rel_reference(entity_rel, picked[scene])
            sha, size = files.digest(rel)
        except (PathProblem, OSError):
            continue
        out.append(FileRef(path=rel, sha256=sha, size=size, mime=mime_for(rel)))
    return tuple(out)


def current_round(take_keys: Callable[[int, tuple[str, ...]], list[str]],
                  records_of: Callable[[str], Sequence[Record]], verdicts: Verdicts) -> tuple[int, tuple[str, ...]]:
    """The scene's round to plan and the notes of the rounds before it.

    ``take_keys(round, notes)`` gives the keys of a round's takes; a round whose takes are
    all made and all rejected moves the scene to the next one, adding its notes (each once,
    in take order).
    """
    notes: list[str] = []
    for n in range(MAX_ROUNDS):
        found = [take_verdict(records_of(k), verdicts) for k in take_keys(n, tuple(notes))]
        if not found or any(v is None or v[0] != "rejected" for v in found):
            return n, tuple(notes)
        notes.extend(v[1] for v in found if v is not None and v[1] and v[1] not in notes)
    return MAX_ROUNDS, tuple(notes)


def steer(picked: Mapping[str, str], take_keys: Callable[[int, tuple[str, ...]], list[str]],
          records_of: Callable[[str], Sequence[Record]], verdicts: Verdicts,
          override: bool) -> tuple[str | None, int, tuple[str, ...]]:
    """What the review says about one scene: ``(picked image or None, round, notes)``.

    ``picked`` is :func:`picked_scenes` of its entity (or batch); ``override`` is
    ``--force`` / ``--refresh picked``, under which a pick settles nothing.
    """
    settled = None if override or not picked else picked.get(keys.scene_of(take_keys(0, ())[0]))
    if settled is not None or not verdicts:
        return settled, 0, ()
    n, notes = current_round(take_keys, records_of, verdicts)
    return None, n, notes
