"""Scanning the content tree: which entities exist and what their files say.

The layout is fixed (docs/run-format.md, section 1): ``<type>/<slug>/<type file>`` plus optional
``image_ideas.yaml``, ``imagery.yaml`` and ``images/``. Each file is read once, as bytes,
decoded and parsed with the line-keeping loader; every problem is kept on the entity so
``--skip-invalid`` can drop exactly the broken ones. References are resolved to
root-relative paths, checked to stay inside the root, and hashed once per plan.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chargen_es.errors import ContentError, UsageError
from chargen_es.events import EntityType, FileRef
from chargen_es.imagery import IMAGERY_FILE, Record, index_records
from chargen_es.planner import consistency, yamlio
from chargen_es.planner.files import (
    ACCEPTED_KINDS,
    ANALYSABLE_EXTS,
    REFUSED_IMAGE_EXTS,
    FileIndex,
    PathProblem,
    mime_for,
    read_text,
)
from chargen_es.planner.validate import (
    EntityDoc,
    SceneSpec,
    Workspace,
    check_entity,
    check_scenes,
    check_workspace,
)

ENTITY_FILES: dict[EntityType, str] = {"characters": "character.yaml", "locations": "location.yaml",
                                      "chapters": "chapter.yaml"}
ENTITY_KINDS: dict[EntityType, str] = {"characters": "character", "locations": "location", "chapters": "chapter"}
IDEAS_FILE = "image_ideas.yaml"
WORKSPACE_FILE = "chargen.yaml"
IMAGES_DIR = "images"


@dataclass(slots=True)
class Scene:
    """A validated scene with its references resolved (entity's first, then its own)."""

    spec: SceneSpec
    references: tuple[FileRef, ...]


@dataclass(slots=True)
class Entity:
    """One character, location or chapter, and every problem found in its files."""

    entity_type: EntityType
    slug: str
    rel: str  # e.g. characters/ada
    file: str  # e.g. characters/ada/character.yaml
    doc: EntityDoc = field(default_factory=EntityDoc)
    scenes: list[Scene] = field(default_factory=list)
    records: dict[str, list[Record]] = field(default_factory=dict)
    problems: list[ContentError] = field(default_factory=list)
    has_ideas: bool = True
    references: tuple[FileRef, ...] = ()  # the entity file's own, resolved
    consistency_from: tuple[FileRef, ...] | None = None  # an explicit consistency.from, resolved
    analysis_entries: list[dict[str, Any]] = field(default_factory=list)  # imagery.yaml's analyses


def load_yaml(root: Path, rel: str, problems: list[ContentError], required: bool) -> tuple[bool, Any]:
    """Read and parse ``root/rel``: ``(ok, document)``; problems are appended."""
    text, problem, line = read_text(os.path.join(root, rel))
    if text is None:
        if problem is not None:
            problems.append(ContentError(rel, problem, line))
            return False, None
        if required:
            problems.append(ContentError(rel, "file not found"))
        return False, None
    try:
        return True, yamlio.load(text)
    except yaml.YAMLError as exc:
        problems.append(ContentError(rel, yamlio.error_text(exc, text), yamlio.error_line(exc, text)))
        return False, None


def load_workspace(root: Path) -> tuple[Workspace, list[ContentError]]:
    """``chargen.yaml`` (optional) with its problems."""
    problems: list[ContentError] = []
    ok, doc = load_yaml(root, WORKSPACE_FILE, problems, required=False)
    if not ok:
        return Workspace(), problems
    ws, more = check_workspace(doc, WORKSPACE_FILE)
    return ws, problems + more


def list_slugs(root: Path, entity_type: str, files: FileIndex | None = None) -> list[str]:
    """Entity folders of one type, sorted; hidden folders are ignored.

    With ``files``, folders the listing shows are not symlinks are entered in its
    real-path cache, saving one ``lstat`` per entity.
    """
    try:
        with os.scandir(root / entity_type) as it:
            entries = [e for e in it if not e.name.startswith(".") and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    if files is not None:
        base = files.real_dir(entity_type)
        for e in entries:
            if not e.is_symlink():
                files.remember_dir(f"{entity_type}/{e.name}", os.path.join(base, e.name))
    return sorted(e.name for e in entries)


def select(root: Path, types: list[EntityType], only: tuple[str, ...], files: FileIndex | None = None,
           scope: str = "all") -> list[tuple[EntityType, str]]:
    """``(type, slug)`` of the entities in ``types`` that ``only`` selects, in plan order.

    Each ``--only`` value is a glob (``fnmatch``, case-sensitive: slugs are file names)
    matched against the slug, or against ``type/slug`` when it holds a ``/``; so ``ada``,
    ``a*``, ``characters/*`` and ``*/harbor-*`` all work, and ``*a*`` does not match every
    slug through its type's name. A plain slug is a glob that matches itself. Every pattern must match something, or the whole selection is refused with
    the patterns named: a typo must not quietly plan less than the user meant.
    """
    out: list[tuple[EntityType, str]] = []
    matched: set[str] = set()
    patterns = list(dict.fromkeys(only))
    for entity_type in types:
        for slug in list_slugs(root, entity_type, files):
            if patterns:
                hits = [p for p in patterns if _glob(f"{entity_type}/{slug}" if "/" in p else slug, p)]
                if not hits:
                    continue
                matched.update(hits)
            out.append((entity_type, slug))
    missing = [p for p in patterns if p not in matched]
    if missing:
        shown = ", ".join(missing)
        raise UsageError(f"--only {shown}: matches no entity in scope {scope} "
                         f"(globs match a slug or type/slug, e.g. 'a*' or 'characters/*')")
    return out


def _glob(name: str, pattern: str) -> bool:
    return name == pattern or fnmatch.fnmatchcase(name, pattern)


def load_entity(root: Path, files: FileIndex, entity_type: EntityType, slug: str) -> Entity:
    """Read one entity's files, validate them and resolve its references."""
    rel = f"{entity_type}/{slug}"
    ent = Entity(entity_type, slug, rel, f"{rel}/{ENTITY_FILES[entity_type]}")
    problems = ent.problems
    try:
        files.check_real(files.real_dir(rel), rel)
    except PathProblem:
        problems.append(ContentError(rel, "entity folder is a symlink pointing outside the root"))
        return ent
    ok, doc = load_yaml(root, ent.file, problems, required=True)
    if ok:
        ent.doc, more = check_entity(doc, ent.file, ENTITY_KINDS[entity_type])
        problems.extend(more)
    base_refs = _resolve(files, rel, ent.doc.references, ent.file, problems)
    ent.references = base_refs
    ent.consistency_from = consistency.resolve_paths(files, rel, ent.doc.consistency, ent.file, problems)
    ideas = f"{rel}/{IDEAS_FILE}"
    before = len(problems)
    ok, doc = load_yaml(root, ideas, problems, required=False)
    ent.has_ideas = ok or len(problems) > before
    if ok:
        specs, more = check_scenes(doc, ideas)
        problems.extend(more)
        for spec in specs:
            if spec.references:
                own = _resolve(files, rel, spec.references, ideas, problems)
                ent.scenes.append(Scene(spec, _merge(base_refs, own)))
            else:
                ent.scenes.append(Scene(spec, base_refs))
    imagery = f"{rel}/{IMAGERY_FILE}"
    ok, doc = load_yaml(root, imagery, problems, required=False)
    if ok:
        if doc is not None and not isinstance(doc, dict):
            problems.append(ContentError(imagery, "must be a mapping at the top level", 1))
        ent.records = index_records(doc)
        ent.analysis_entries = consistency.analysis_entries(doc)
    return ent


def _merge(first: tuple[FileRef, ...], second: tuple[FileRef, ...]) -> tuple[FileRef, ...]:
    """Entity references first, then the scene's own, each path once."""
    if not second:
        return first
    seen = {r.path for r in first}
    extra = []
    for ref in second:
        if ref.path not in seen:
            seen.add(ref.path)
            extra.append(ref)
    return first + tuple(extra)


def _resolve(
    files: FileIndex, entity_rel: str, refs: list[tuple[str, int]], file: str, problems: list[ContentError],
) -> tuple[FileRef, ...]:
    out: list[FileRef] = []
    for written, line in refs:
        try:
            rel = files.rel_reference(entity_rel, written)
            mime = mime_for(rel)
            if not mime:
                problems.append(ContentError(
                    file, f"reference {written!r} is not an image Gemini accepts; use {ACCEPTED_KINDS}", line))
                continue
            sha, size = files.digest(rel)
        except PathProblem as exc:
            problems.append(ContentError(file, str(exc), line))
            continue
        except FileNotFoundError:
            problems.append(ContentError(file, f"reference {written!r} not found ({rel})", line))
            continue
        except OSError as exc:
            problems.append(ContentError(file, f"reference {written!r} cannot be read: {exc.strerror or exc}", line))
            continue
        if size == 0:
            problems.append(ContentError(file, f"reference {written!r} is an empty file", line))
            continue
        out.append(FileRef(path=rel, sha256=sha, size=size, mime=mime))
    return tuple(out)


def refused_images(root: Path, entity_rel: str) -> list[ContentError]:
    """Images in the entity's ``images/`` that Gemini would refuse (``.gif`` and friends).

    Analysis would fail for each at the server, so planning an analysis refuses them up
    front, one problem per file.
    """
    folder = f"{entity_rel}/{IMAGES_DIR}"
    try:
        with os.scandir(root / folder) as it:
            names = sorted(e.name for e in it if not e.name.startswith(".")
                           and os.path.splitext(e.name)[1].lower() in REFUSED_IMAGE_EXTS and e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [ContentError(f"{folder}/{name}", f"Gemini does not accept {os.path.splitext(name)[1].lower()} images; "
                         f"convert it to {ACCEPTED_KINDS} (or move it out of {IMAGES_DIR}/)") for name in names]


def list_images(root: Path, files: FileIndex, entity_rel: str) -> list[str]:
    """Root-relative paths of analysable images in the entity's ``images/``, sorted."""
    folder = f"{entity_rel}/{IMAGES_DIR}"
    try:
        with os.scandir(root / folder) as it:
            names = sorted(
                e.name for e in it
                if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in ANALYSABLE_EXTS
                and e.is_file()
            )
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [f"{folder}/{name}" for name in names]

