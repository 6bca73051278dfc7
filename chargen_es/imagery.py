"""Everything about an entity's ``imagery.yaml``: what is done, and recording results.

The file is shared between chargen-es and its user, so the rules are strict:

- **Reading (the skip check).** A task is done when an entry carries its ``task_key``
  and the file it names exists with the recorded SHA-256. A named file that is gone
  makes the task ``missing``; one whose bytes differ makes it ``changed``. Both are
  planned again. :func:`index_records` and :func:`verdict` implement this over data the
  planner has already parsed (it parses with line numbers for its own messages).
- **Writing (applying a result).** :func:`record_generated` and :func:`record_analysis`
  set entries *by task_key* (never a blind append), so applying one result twice changes
  nothing and returns ``False``. Keys the user wrote, at the top level and inside our
  entries, are kept, and so are their comments, key order and quoting: the file is
  loaded and dumped with ruamel.yaml's round-trip mode, which carries them through, and
  only the entries we set change. A file holding nothing but what our own C emitter
  writes for its data skips the round trip (:func:`_canonical`); ``tools/bench_apply.py``
  measures the cost against the apply budget. The write happens under a lock kept in ``<root>/.chargen/locks/``, never
  beside the user's file, by an atomic writer the caller passes (see :func:`update`), and
  the file keeps its permission bits. Nothing is written when nothing changed.

Shapes (docs/run-format.md, section 1), paths relative to the entity folder:

- characters: ``generated_images: [{custom_id, file_name, file_path, prompt_used,
  provider, model, generated_at, batch_run_id, task_key, sha256}]``; ``custom_id`` is the
  image's stem (``file_name`` without its extension), as the original chargen tool writes it
- locations, chapters: ``imagery_runs: [{run_id, generated_at, provider, model, mode,
  images: [{task_key, file_path, status: success, sha256}]}]``

Entries of earlier releases (``custom_id`` equal to the task key, ``status: ok``) are read
as they are and rewritten in the current shape only when an entry is set anyway
(:func:`_set_by_key` compares them in the current shape, so re-applying the same result
leaves an old file byte for byte as it was).
- analyses (any entity): ``analyses: [{task_key, image, analysis_path, model, run_id,
  image_sha256}]`` (plus ``sha256`` of the analysis JSON when the caller gives it);
  ``image_sha256`` is the analysed image's hash, so a later change of the image shows the
  analysis as stale (planner.consistency).
"""

from __future__ import annotations

import io
import os
import posixpath
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from filelock import FileLock
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver

from chargen_es.errors import ContentError, is_local_io
from chargen_es.events import EntityType, Output, Runner, Task
from chargen_es.statedir import STATE_DIR, state_dir

IMAGERY_FILE = "imagery.yaml"
PROVIDER = "google"
SUCCESS = "success"  # a run image's status, as the original tool writes it
_SUCCESSFUL = (SUCCESS, "ok")  # "ok": what releases before the seed's shape wrote


_STR = "tag:yaml.org,2002:str"
_YAML12 = VersionedResolver()  # ruamel's: the next update reads the file with it
_YAML11 = yaml.resolver.Resolver()  # PyYAML's: the planner reads the file with it


def _reads_as_text_everywhere(text: str) -> bool:
    """Whether ``text`` written plain is a string to both readers: YAML 1.1 reads ``on`` and
    ``yes`` as booleans, 1.2 reads ``0E0`` and ``08`` as numbers."""
    return (_YAML12.resolve(ScalarNode, text, (True, False)) == _STR
            and _YAML11.resolve(yaml.ScalarNode, text, (True, False)) == _STR)


# what a string may hold written as it is (YAML 1.1 and 1.2 agree); anything else (control
# characters, and \r, NEL, U+2028/U+2029, which YAML reads as line breaks) is escaped
_VERBATIM = re.compile("[\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def _str(dumper: Any, data: str) -> Any:
    """Multi-line strings (prompts) as ``|`` blocks; a string holding a character YAML
    cannot carry as it is goes in double quotes, escaped; one that either reader would
    take for something else is quoted."""
    style: str | None
    if not _VERBATIM.fullmatch(data.replace("\n", "")):
        style = '"'
    elif "\n" in data:
        style = "|"
    else:
        style = None if _reads_as_text_everywhere(data) else "'"
    return dumper.represent_scalar(_STR, data, style=style)


class _Representer(RoundTripRepresenter):
    """Round-trip representer that writes new multi-line strings (prompts) as ``|`` blocks;
    strings loaded from the file keep the style they had (``preserve_quotes``)."""


_Representer.add_representer(str, _str)


def _round_trip() -> YAML:
    """A ruamel round-trip YAML: comments, key order and quotes survive load + dump.

    ``width`` is huge so long prompts are never re-wrapped; indentation matches the
    PyYAML layout earlier releases wrote (``- `` at the parent's column).
    """
    rt = YAML(typ="rt")
    rt.Representer = _Representer
    rt.preserve_quotes = True
    rt.width = 1 << 30
    rt.allow_unicode = True
    rt.indent(mapping=2, sequence=2, offset=0)
    return rt


# Fields whose change means a different result; generated_at is not one of them, so a
# re-application with a later clock reading still changes nothing.
_IDENTITY = ("custom_id", "file_name", "file_path", "prompt_used", "provider", "model",
             "batch_run_id", "task_key", "sha256", "status", "image", "analysis_path", "run_id",
             "image_sha256")


class Record(NamedTuple):
    """One recorded output of a task: entity-relative path and expected SHA-256."""

    task_key: str
    path: str
    sha256: str
    hash_required: bool = True  # image records carry their hash; an analysis entry may not
    run: str = ""  # the run that recorded it ("" when the entry does not say)


# ---------------------------------------------------------------------------- reading


def index_records(data: Any) -> dict[str, list[Record]]:
    """All outputs and analyses recorded in a parsed imagery.yaml, by task key.

    Tolerant on purpose: entries that are not mappings or lack a key are ignored, as are
    run images whose ``status`` is not ``success`` (or ``ok``, as earlier releases wrote it):
    a failed item has no file to check.
    """
    out: dict[str, list[Record]] = {}
    if not isinstance(data, dict):
        return out

    def add(key: Any, path: Any, sha: Any, run: Any, hash_required: bool = True) -> None:
        if isinstance(key, str) and isinstance(path, str) and path:
            out.setdefault(key, []).append(Record(key, path, sha if isinstance(sha, str) else "", hash_required,
                                                  run if isinstance(run, str) else ""))

    for entry in _dicts(data.get("generated_images")):
        add(entry.get("task_key"), entry.get("file_path"), entry.get("sha256"), entry.get("batch_run_id"))
    for run in _dicts(data.get("imagery_runs")):
        for img in _dicts(run.get("images")):
            if img.get("status", SUCCESS) in _SUCCESSFUL:
                add(img.get("task_key"), img.get("file_path"), img.get("sha256"), run.get("run_id"))
    for entry in _dicts(data.get("analyses")):
        add(entry.get("task_key"), entry.get("analysis_path"), entry.get("sha256"), entry.get("run_id"),
            hash_required=False)
    return out


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_plain(path: Path) -> Any:
    """A recorded imagery.yaml parsed plainly for reading records (None when it cannot be
    read or parsed: such a file proves nothing recorded)."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def verdict(records: Sequence[Record], sha_of: Callable[[str], str | None]
            ) -> tuple[Literal["done", "missing", "changed"], str]:
    """``("done"|"missing"|"changed", detail)`` for a task's recorded outputs.

    ``sha_of(entity_relative_path)`` returns the file's SHA-256, or None when it is gone.
    One intact record is enough for ``done``; otherwise ``changed`` wins over ``missing``
    because it is the more surprising news for the user.
    """
    changed = missing = ""
    for rec in records:
        actual = sha_of(rec.path)
        if actual is None:
            missing = missing or f"{rec.path} is gone"
        elif not rec.sha256 and rec.hash_required:  # nothing to verify the image against
            changed = changed or f"{rec.path} has no recorded SHA-256"
        elif rec.sha256 and actual != rec.sha256:
            changed = changed or f"{rec.path} differs from the recorded SHA-256"
        else:
            return "done", rec.path
    return ("changed", changed) if changed else ("missing", missing)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# ---------------------------------------------------------------------------- writing


BATCH_TYPE: EntityType = "batch"  # the entity type of batch-file items (chargen_es.planner.batchfile)


def record_folder(task: Task) -> str:
    """Root-relative folder whose imagery.yaml records the task.

    A tree task is recorded in its entity's folder. A batch-file item has no entity: it
    is recorded in the manifest beside its outputs, the imagery.yaml of its output folder
    (same shapes, same by-key rules), which is what the batch file's skip check reads.
    """
    if task.entity_type == BATCH_TYPE:
        return task.output_dir
    return f"{task.entity_type}/{task.slug}"


_FOLDER_OF_TYPE = {"character": "characters", "location": "locations", "chapter": "chapters",
                   "characters": "characters", "locations": "locations", "chapters": "chapters"}


def folder_of_image(key: str, path: str) -> str:
    """Root-relative folder whose imagery.yaml records the image ``path`` of task ``key``:
    the entity's for a tree key (either spelling), the manifest beside the file for a
    batch-file item (as :func:`record_folder` decides for its task)."""
    head, _, rest = key.partition("/")
    if head in _FOLDER_OF_TYPE:
        return f"{_FOLDER_OF_TYPE[head]}/{rest.partition('/')[0]}"
    return posixpath.dirname(path)


def imagery_path(root: Path, task: Task) -> Path:
    """The imagery.yaml that records the task (its entity's, or its batch's manifest)."""
    return Path(root) / record_folder(task) / IMAGERY_FILE


def lock_path(path: Path, root: Path | None = None) -> Path:
    """Where the lock of ``<root>/<folder>/imagery.yaml`` lives: under
    ``<root>/.chargen/locks/`` (``characters/ada.imagery.yaml.lock``), so the user's tree
    (and their git) never sees lock files. ``root`` defaults to the entity layout's
    (``<root>/<type>/<slug>/``); a batch manifest's folder can be of any depth, so its
    writers pass the root."""
    path = Path(path)
    folder = path.parent
    if root is None:
        root = folder.parent.parent
    rel = folder.relative_to(root)
    return Path(root) / STATE_DIR / "locks" / rel.parent / f"{rel.name}.{path.name}.lock"


Writer = Callable[[Path, bytes, "int | None"], None]
Mutation = Callable[[dict[str, Any]], bool]


def generated_mutation(task: Task, outputs: Output | Sequence[Output], run_id: str, generated_at: str,
                       mode: Runner = "batch", answered_by: str = "") -> Mutation:
    """The change that records a generation result in its entity's imagery.yaml.

    ``outputs`` are the file(s) written for the task (paths relative to root); ``mode``
    is the runner (``batch`` or ``live``) for locations' and chapters' run entries;
    ``answered_by`` the model that really answered when it was not the task's (a retired
    model Google routes), recorded as the entry's ``answered_by``.
    """
    extra = {"answered_by": answered_by} if answered_by else {}
    if isinstance(outputs, Output):
        outputs = (outputs,)
    entity = record_folder(task)
    rels = [posixpath.relpath(o.path, entity) for o in outputs]
    shas = [o.sha256 for o in outputs]

    def mutate(data: dict[str, Any]) -> bool:
        if task.entity_type == "characters":
            entries = _list_at(data, "generated_images", task)
            new = [
                {"custom_id": _stem(rel), "file_name": posixpath.basename(rel), "file_path": rel,
                 "prompt_used": task.prompt, "provider": PROVIDER, "model": task.model,
                 "generated_at": generated_at, "batch_run_id": run_id, "task_key": task.key,
                 "sha256": sha, **extra}
                for rel, sha in zip(rels, shas, strict=True)
            ]
            return _set_by_key(entries, task.key, new)
        runs = _list_at(data, "imagery_runs", task)
        run = next((r for r in runs if isinstance(r, dict) and r.get("run_id") == run_id), None)
        changed = False
        if run is None:
            run = {"run_id": run_id, "generated_at": generated_at, "provider": PROVIDER,
                   "model": task.model, "mode": mode, "images": []}
            runs.append(run)
            changed = True
        images = _list_at(run, "images", task)
        new = [{"task_key": task.key, "file_path": rel, "status": SUCCESS, "sha256": sha, **extra}
               for rel, sha in zip(rels, shas, strict=True)]
        return _set_by_key(images, task.key, new) or changed

    return mutate


def _stem(rel: str) -> str:
    """An image's ``custom_id``: its file name without the extension."""
    return posixpath.splitext(posixpath.basename(rel))[0]


def analysis_mutation(task: Task, analysis_path: str, run_id: str, sha256: str = "",
                      answered_by: str = "") -> Mutation:
    """The change that records an analysis written to ``analysis_path`` (relative to root);
    ``answered_by`` as for :func:`generated_mutation`."""
    entity = record_folder(task)
    image = posixpath.relpath(task.input_image.path, entity) if task.input_image else ""
    entry: dict[str, Any] = {"task_key": task.key, "image": image,
                             "analysis_path": posixpath.relpath(analysis_path, entity),
                             "model": task.model, "run_id": run_id}
    if sha256:
        entry["sha256"] = sha256
    if task.input_image is not None:
        entry["image_sha256"] = task.input_image.sha256
    if answered_by:
        entry["answered_by"] = answered_by

    def mutate(data: dict[str, Any]) -> bool:
        return _set_by_key(_list_at(data, "analyses", task), task.key, [entry])

    return mutate


REVIEW_FIELDS = ("review", "review_note")


def review_mutation(key: str, sha256: str, state: str | None, note: str = "") -> Mutation:
    """The change that shows a verdict on the image ``(key, sha256)``: ``review: picked`` or
    ``review: rejected`` (with ``review_note`` when there is a note); ``state=None`` removes
    both (the verdict was cleared). Only the image's own entries change, wherever the file
    keeps them (``generated_images``, or a run's ``images``); an entry of the same key with
    other bytes is another image and keeps its own verdict. The review journal is the
    truth; this is how the user sees it."""
    wanted: dict[str, str] = {}
    if state is not None:
        wanted["review"] = state
        if state == "rejected" and note:
            wanted["review_note"] = note

    def mutate(data: dict[str, Any]) -> bool:
        changed = False
        for entry in _image_entries(data):
            if entry.get("task_key") != key or entry.get("sha256") != sha256:
                continue
            for field in REVIEW_FIELDS:
                if field in wanted and entry.get(field) != wanted[field]:
                    entry[field] = wanted[field]
                    changed = True
                elif field not in wanted and field in entry:
                    del entry[field]
                    changed = True
        return changed

    return mutate


def _image_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = _dicts(data.get("generated_images"))
    for run in _dicts(data.get("imagery_runs")):
        out += _dicts(run.get("images"))
    return out


def image_records(data: Any) -> list[tuple[str, str, str, str, str]]:
    """Every generated image a parsed imagery.yaml records: ``(task_key, entity-relative
    path, sha256, review, prompt)`` (review "" when none is shown; prompt "" where the
    entry does not keep it)."""
    if not isinstance(data, dict):
        return []
    out = []
    for entry in _image_entries(data):
        key, path, sha = entry.get("task_key"), entry.get("file_path"), entry.get("sha256")
        if isinstance(key, str) and isinstance(path, str) and isinstance(sha, str) and path:
            shown, prompt = entry.get("review"), entry.get("prompt_used")
            out.append((key, path, sha, shown if isinstance(shown, str) else "",
                        prompt if isinstance(prompt, str) else ""))
    return out


def record_generated(
    root: Path, task: Task, outputs: Output | Sequence[Output], run_id: str, generated_at: str,
    mode: Runner = "batch", *, write: Writer,
) -> bool:
    """Record one generation result; True when imagery.yaml was rewritten."""
    return update(imagery_path(root, task), [generated_mutation(task, outputs, run_id, generated_at, mode)], write,
                  root=root)


def record_analysis(root: Path, task: Task, analysis_path: str, run_id: str, sha256: str = "", *,
                    write: Writer) -> bool:
    """Record one analysis; True when imagery.yaml was rewritten."""
    return update(imagery_path(root, task), [analysis_mutation(task, analysis_path, run_id, sha256)], write,
                  root=root)


def _list_at(data: dict[str, Any], field: str, task: Task) -> list[Any]:
    value = data.setdefault(field, [])
    if value is None:
        value = data[field] = []
    if not isinstance(value, list):
        raise ContentError(f"{record_folder(task)}/{IMAGERY_FILE}", f"{field} must be a list")
    return value


def _set_by_key(entries: list[Any], key: str, new: list[dict[str, Any]]) -> bool:
    """Make the entries for ``key`` equal ``new``, in place, keeping users' extra keys."""
    positions = [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("task_key") == key]
    changed = False
    for n, fields in enumerate(new):
        if n < len(positions):
            current = entries[positions[n]]
            if any(_current_shape(current, k) != v for k, v in fields.items() if k in _IDENTITY):
                # a new result for the key: what was said of the old one (its verdict, the
                # model that answered it) does not carry over; the user's own keys do
                for stale in (*REVIEW_FIELDS, "answered_by"):
                    if stale not in fields:
                        current.pop(stale, None)
                current.update(fields)
                changed = True
        else:
            entries.append(fields)
            changed = True
    for i in reversed(positions[len(new):]):
        del entries[i]
        changed = True
    return changed


def _current_shape(entry: dict[str, Any], field: str) -> Any:
    """``entry[field]`` as this release would write it: an earlier release's ``custom_id``
    (the task key) reads as the file's stem and ``status: ok`` as ``success``, so an old
    entry that records the same result is not rewritten just for its shape."""
    value = entry.get(field)
    if field == "custom_id" and value is not None and value == entry.get("task_key"):
        path = entry.get("file_path")
        return _stem(path) if isinstance(path, str) else value
    if field == "status" and value in _SUCCESSFUL:
        return SUCCESS
    return value


def update(path: Path, mutations: Sequence[Mutation], write: Writer, *, root: Path | None = None) -> bool:
    """Apply ``mutations`` in one read-modify-write under the file's lock.

    ``write(path, data, mode)`` replaces the file's bytes atomically (temp file beside it,
    rename) keeping ``mode``; the caller decides when it becomes durable: the engine
    passes a writer whose flush it batches with the images of a whole group. This module
    stays below ``projections`` and the engine, so it owns no writer of its own. ``root``
    is the tree's (or batch file's folder); see :func:`lock_path`.
    """
    root = Path(root) if root is not None else Path(path).parent.parent.parent
    lock = lock_path(path, root)
    state_dir(root)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock)):
        text, mode = _read_text(path)
        data = _canonical(text) if text is not None else {}
        rt = None
        if data is None:  # the file holds something of the user's beyond its data
            rt = _round_trip()
            data = _parse(path, text or "", rt)
        changed = False
        for mutate in mutations:
            changed = mutate(data) or changed
        if not changed:
            return False
        write(path, _dump(data, rt), mode)
        return True


class _NewFileDumper(yaml.CSafeDumper):
    """PyYAML's C emitter, set up to write what :func:`_round_trip` writes for a fresh file."""


_NewFileDumper.add_representer(str, _str)


def _plain_dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_NewFileDumper, sort_keys=False, allow_unicode=True, width=1 << 30,
                     default_flow_style=False)


def _dump(data: dict[str, Any], rt: YAML | None) -> bytes:
    """The file's new bytes. A file with nothing of the user's to keep (new, or exactly
    what this writer writes for its data: :func:`_canonical`) is written by PyYAML's C
    emitter (about 9x faster than ruamel's pure-Python one, the same layout;
    tests/core/test_imagery_dump.py); any other is round-tripped by ``rt``."""
    if rt is None:
        return _plain_dump(data).encode("utf-8")
    out = io.StringIO()
    rt.dump(data, out)
    return out.getvalue().encode("utf-8")


def _canonical(text: str) -> dict[str, Any] | None:
    """The file's data when its text is exactly what :func:`_dump` writes for that data,
    else None. Such a file has no comment, no style and no key of the user's beyond its
    data, so the C loader and emitter may update it; and since the text is the C
    emitter's own, it reads the same under YAML 1.1 and 1.2 (the emitter quotes every
    string that would read otherwise), so the data is what ruamel would have read. The
    check costs a C load and dump, a tenth of ruamel's round trip, which runs otherwise."""
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or _plain_dump(data) != text:
        return None
    return data


def _read_text(path: Path) -> tuple[str | None, int | None]:
    """The file's text and permission bits; (None, None) when there is no file."""
    try:
        st = os.stat(path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        if is_local_io(exc):  # a failing disk or permission stops the run, named (chargen_es.errors)
            raise
        raise ContentError(str(path), f"cannot read: {exc}") from exc
    return text, st.st_mode & 0o7777


def _parse(path: Path, text: str, rt: YAML) -> dict[str, Any]:
    try:
        data = rt.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ContentError(str(path), f"invalid YAML: {exc.problem or exc}",
                           mark.line + 1 if mark else None) from exc
    except Exception as exc:  # noqa: BLE001 - ruamel raises several unrelated classes for bad input
        raise ContentError(str(path), f"invalid YAML: {exc}") from exc
    if data is None:
        data = rt.load("{}")
    if not isinstance(data, dict):
        raise ContentError(str(path), "must be a mapping at the top level")
    return data
