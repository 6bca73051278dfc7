"""Consistency sources: the analysed images that speak for an entity in its new pictures.

Why: an analysis (:mod:`chargen_es.analysis`) extracts a character's traits, palette and
style from a picture; carrying those into every new prompt of that character keeps its
look from drifting between pictures. The shape, written in an entity file or as the
workspace default in ``chargen.yaml`` (docs/consistency.md)::

    consistency:
      from: [images/ada-portrait.png]   # paths in the entity folder | references | picked | none
      fields: [traits, palette]         # of archetype, traits, palette, mood, style

``from`` defaults to ``references`` (the entity's own reference images that can be
analysed; ``picked``: the takes the user picked in the review, one per scene, so the look
they chose carries into the entity's other scenes), ``fields`` to :data:`DEFAULT_FIELDS`; an entity's keys override the
workspace's, key by key. ``consistency: none`` (or ``false``) turns it off.

For each source the analysis is ``<image>.analysis.json`` beside the image; its status is

- ``ok``: present, valid, and ``imagery.yaml`` records that it analysed these image bytes;
- ``stale``: present and valid, but recorded for other image bytes (the image changed
  since it was analysed); still used until it is redone;
- ``unrecorded``: present and valid, no record of which bytes it analysed (written by
  hand, or before records kept the image's SHA-256); used as is;
- ``missing``: no analysis file; nothing to use;
- ``invalid``: not valid against the analysis schema; a validation problem naming the
  file and line when generating, and redone by ``--analyze-first``.

What a scene's task key gets (:func:`EntityConsistency.key_part`) is the SHA-256 of each
analysis used, so a new or changed analysis re-plans exactly its entity's scenes and an
unchanged one changes nothing. Reads only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chargen_es import analysis
from chargen_es.errors import ContentError
from chargen_es.events import FileRef
from chargen_es.planner import prompts
from chargen_es.planner.files import ANALYSABLE_EXTS, FileIndex, PathProblem, mime_for
from chargen_es.planner.yamlio import LineDict, LineList

CONSISTENCY_VERSION = 1  # the clause format (prompts.consistency_clause) and the key part
DEFAULT_FIELDS: tuple[str, ...] = ("traits", "palette")
ANALYSIS_SUFFIX = ".analysis.json"
REFERENCES = "references"
PICKED = "picked"
NONE = "none"
USED = frozenset({"ok", "stale", "unrecorded"})
REDO = frozenset({"missing", "stale", "invalid"})  # what --analyze-first analyses first
_MAX_EARLIER = 64  # earlier analysis combinations tried when explaining a new key


@dataclass(frozen=True, slots=True)
class Spec:
    """``consistency`` as written; None means "not given here" (inherit)."""

    sources: str | tuple[tuple[str, int], ...] | None = None  # references | none | (path, line)...
    fields: tuple[str, ...] | None = None
    line: int = 0


# ---------------------------------------------------------------------------- checking


def check_spec(doc: LineDict, file: str, problems: list[ContentError], *, workspace: bool) -> Spec:
    """Parse ``doc["consistency"]`` (absent: an empty Spec), collecting problems with lines."""
    value = doc.get("consistency")
    if value is None:
        return Spec()
    line = doc.line_of("consistency")
    if value is False or (isinstance(value, str) and value.strip().lower() == NONE):
        return Spec(sources=NONE, fields=(), line=line)
    if not isinstance(value, LineDict):
        problems.append(ContentError(file, "consistency must be a mapping with from and fields, or none", line))
        return Spec()
    for key in value:
        if key not in ("from", "fields"):
            problems.append(ContentError(file, f"consistency: unknown key {key!r}; use from, fields",
                                         value.line_of(key)))
    return Spec(sources=_sources(value, file, problems, workspace), fields=_fields(value, file, problems), line=line)


def _sources(doc: LineDict, file: str, problems: list[ContentError],
             workspace: bool) -> str | tuple[tuple[str, int], ...] | None:
    if "from" not in doc:
        return None
    value = doc["from"]
    line = doc.line_of("from")
    if value is None or value is False or value == []:
        return NONE
    if isinstance(value, str) and value.strip().lower() in (REFERENCES, PICKED, NONE):
        return value.strip().lower()
    if workspace:
        problems.append(ContentError(file, "consistency.from here is references, picked or none; image paths belong "
                                     "in an entity file", line))
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        problems.append(ContentError(file, "consistency.from must be a list of image paths, references, picked or "
                                     "none", line))
        return None
    out = []
    for i, item in enumerate(items):
        at = items.line_of(i) if isinstance(items, LineList) else line
        if not isinstance(item, str) or not item.strip():
            problems.append(ContentError(file, "consistency.from: an entry must be a non-empty path", at))
        else:
            out.append((item, at))
    return tuple(out)


def _fields(doc: LineDict, file: str, problems: list[ContentError]) -> tuple[str, ...] | None:
    if "fields" not in doc:
        return None
    value = doc["fields"]
    line = doc.line_of("fields")
    items = [value] if isinstance(value, str) else ([] if value is None else value)
    if not isinstance(items, list):
        problems.append(ContentError(file, f"consistency.fields must be a list of {', '.join(analysis.FIELDS)}", line))
        return None
    out: list[str] = []
    for i, item in enumerate(items):
        at = items.line_of(i) if isinstance(items, LineList) else line
        if item not in analysis.FIELDS:
            problems.append(ContentError(file, f"consistency.fields: unknown field {item!r}; use "
                                         f"{', '.join(analysis.FIELDS)}", at))
        elif item not in out:
            out.append(item)
    return tuple(f for f in analysis.FIELDS if f in out)  # canonical order: reordering changes nothing


def resolve_paths(files: FileIndex, entity_rel: str, spec: Spec, file: str,
                  problems: list[ContentError]) -> tuple[FileRef, ...] | None:
    """The images an explicit ``from`` list names (None when ``from`` is not a list)."""
    if not isinstance(spec.sources, tuple):
        return None
    out: list[FileRef] = []
    inside = entity_rel.rstrip("/") + "/"
    for written, line in spec.sources:
        where = f"consistency.from {written!r}"
        try:
            rel = files.rel_reference(entity_rel, written)
        except PathProblem as exc:
            problems.append(ContentError(file, f"{where}: {exc}", line))
            continue
        if not rel.startswith(inside):
            problems.append(ContentError(file, f"{where} is outside the entity folder {entity_rel}", line))
            continue
        if os.path.splitext(rel)[1].lower() not in ANALYSABLE_EXTS:
            kinds = ", ".join(sorted(e.lstrip(".") for e in ANALYSABLE_EXTS))
            problems.append(ContentError(file, f"{where} is not an image that can be analysed ({kinds})", line))
            continue
        try:
            sha, size = files.digest(rel)
        except FileNotFoundError:
            problems.append(ContentError(file, f"{where} not found ({rel})", line))
            continue
        except (PathProblem, OSError) as exc:
            problems.append(ContentError(file, f"{where} cannot be read: {getattr(exc, 'strerror', None) or exc}",
                                         line))
            continue
        if all(r.path != rel for r in out):
            out.append(FileRef(path=rel, sha256=sha, size=size, mime=mime_for(rel)))
    return tuple(out)


def effective(workspace: Spec, entity: Spec, explicit: tuple[FileRef, ...] | None,
              references: tuple[FileRef, ...], picked: tuple[FileRef, ...] = (),
              ) -> tuple[tuple[FileRef, ...], tuple[str, ...]]:
    """``(source images, fields)`` for an entity: its own keys over the workspace's over defaults;
    ``picked`` are the entity's picked images (``from: picked``)."""
    fields = entity.fields if entity.fields is not None else workspace.fields
    if fields is None:
        fields = DEFAULT_FIELDS
    kind = entity.sources if entity.sources is not None else (workspace.sources or REFERENCES)
    if not fields or kind == NONE:
        return (), tuple(fields)
    if isinstance(kind, tuple):
        return explicit or (), tuple(fields)
    if kind == PICKED:
        references = picked
    refs = tuple(r for r in references if os.path.splitext(r.path)[1].lower() in ANALYSABLE_EXTS)
    return refs, tuple(fields)


# ---------------------------------------------------------------------------- analyses


@dataclass(frozen=True, slots=True)
class SourceState:
    """One source image and what is known of its analysis."""

    image: FileRef
    analysis_path: str  # root-relative
    status: str  # ok | stale | unrecorded | missing | invalid
    detail: str = ""
    sha256: str = ""  # of the analysis JSON, when it is there
    values: dict[str, Any] | None = None
    problem: ContentError | None = None
    history: tuple[str, ...] = ()  # analysis SHA-256s imagery.yaml recorded for this image

    @property
    def used(self) -> bool:
        return self.status in USED


@dataclass(slots=True)
class EntityConsistency:
    """An entity's sources, their states, and what they give its prompts and keys."""

    entity: str
    fields: tuple[str, ...]
    sources: list[SourceState] = field(default_factory=list)

    def clause(self) -> str:
        """Part 4 of the entity's prompts ('' when no analysis can be used)."""
        values: dict[str, list[str]] = {}
        for src in self.sources:
            if not src.used or src.values is None:
                continue
            for name in self.fields:
                item = src.values.get(name)
                values.setdefault(name, []).extend(item if isinstance(item, list) else [str(item)])
        return prompts.consistency_clause(values)

    def key_part(self) -> dict[str, Any] | None:
        """The task key's ``consistency`` member (None when no analysis is used)."""
        return _part(self.fields, [s.sha256 for s in self.sources if s.used])

    def earlier_key_parts(self) -> Iterator[dict[str, Any] | None]:
        """Key parts this entity's scenes had under analyses imagery.yaml remembers.

        Each source may have had no analysis or any recorded one; the present
        combination is left out. Used only to say ``analysis changed`` for a new key.
        """
        current = self.key_part()
        options = [[None, *dict.fromkeys(s.history + ((s.sha256,) if s.used else ()))] for s in self.sources]
        seen: set[str] = set()
        for combo in itertools.islice(itertools.product(*options), _MAX_EARLIER):
            part = _part(self.fields, [h for h in combo if h])
            tag = json.dumps(part, sort_keys=True)
            if part != current and tag not in seen:
                seen.add(tag)
                yield part

    def report(self) -> dict[str, Any]:
        """The plan's per-entity entry (``--json`` and the preview)."""
        return {
            "entity": self.entity,
            "fields": list(self.fields),
            "sources": [{"image": s.image.path, "analysis": s.analysis_path, "status": s.status,
                         "detail": s.detail} for s in self.sources],
        }


def _part(fields: tuple[str, ...], hashes: list[str]) -> dict[str, Any] | None:
    if not hashes:
        return None
    return {"v": CONSISTENCY_VERSION, "fields": list(fields), "analyses": hashes}


def gather(root: Path, files: FileIndex, entity_rel: str, sources: tuple[FileRef, ...], fields: tuple[str, ...],
           entries: list[dict[str, Any]]) -> EntityConsistency:
    """Read each source's analysis and judge it against the entity's ``analyses`` records."""
    out = EntityConsistency(entity_rel, fields)
    for image in sources:
        out.sources.append(_state(root, files, entity_rel, image, entries))
    return out


def _state(root: Path, files: FileIndex, entity_rel: str, image: FileRef,
           entries: list[dict[str, Any]]) -> SourceState:
    rel = image.path + ANALYSIS_SUFFIX
    shown = posixpath.relpath(image.path, entity_rel)
    records = [e for e in entries if e.get("image") == shown]
    history = tuple(dict.fromkeys(e["sha256"] for e in records if isinstance(e.get("sha256"), str) and e["sha256"]))
    try:
        files.check_inside(rel, rel)
        with open(os.path.join(files.real_dir(posixpath.dirname(rel)), posixpath.basename(rel)), "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return SourceState(image, rel, "missing", f"no {posixpath.basename(rel)} yet", history=history)
    except (PathProblem, OSError) as exc:
        unreadable = ContentError(rel, f"cannot be read: {getattr(exc, 'strerror', None) or exc}")
        return SourceState(image, rel, "invalid", unreadable.message, problem=unreadable, history=history)
    sha = hashlib.sha256(data).hexdigest()
    values, problem = _parse(rel, data)
    if problem is not None:
        return SourceState(image, rel, "invalid", problem.message, sha256=sha, problem=problem, history=history)
    exact = [e for e in records if e.get("sha256") == sha] or records
    recorded = exact[-1].get("image_sha256") if exact else None
    if not isinstance(recorded, str) or not recorded:
        status, detail = "unrecorded", f"imagery.yaml does not say which bytes of {shown} it describes"
    elif recorded != image.sha256:
        status, detail = "stale", "the image changed since it was analysed"
    else:
        status, detail = "ok", ""
    return SourceState(image, rel, status, detail, sha256=sha, values=values, history=history)


def _parse(rel: str, data: bytes) -> tuple[dict[str, Any] | None, ContentError | None]:
    fix = "; redo it with `chargen-es run --mode generate --analyze-first` or fix the file"
    try:
        text = data.decode("utf-8")
        value = json.loads(text)
    except UnicodeDecodeError:
        return None, ContentError(rel, f"not valid UTF-8{fix}")
    except json.JSONDecodeError as exc:
        return None, ContentError(rel, f"not valid JSON ({exc.msg}){fix}", exc.lineno)
    found = analysis.problems(value)
    if found:
        return None, ContentError(rel, f"not a valid analysis: {'; '.join(found)}{fix}", _line_of(text, found[0]))
    return value, None


def _line_of(text: str, problem: str) -> int:
    """The line of the field a problem names (``'traits' must ...``), else 1."""
    for name in analysis.FIELDS:
        if f"'{name}'" in problem:
            at = text.find(f'"{name}"')
            return text.count("\n", 0, at) + 1 if at >= 0 else 1
    return 1


def analysis_entries(imagery_doc: Any) -> list[dict[str, Any]]:
    """The ``analyses`` entries of a parsed imagery.yaml (tolerant, like the skip check)."""
    if not isinstance(imagery_doc, dict):
        return []
    value = imagery_doc.get("analyses")
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []
