"""imagery.yaml in the original chargen tool's shape, and the entries of earlier releases.

The original tool's menus read ``custom_id`` as the image's stem and a run image's
``status`` as ``success``; releases before this one wrote the task key and ``ok``. Those
files stay readable (skip check, history), and an old entry is rewritten only when it is
set anyway.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from chargen_es import imagery
from chargen_es.planner import PlanOptions, build_plan
from tests.planner.helpers import STAMP, entity, png, sha, write
from tests.planner.test_imagery import durable, output, task
from tests.shared import read_yaml

CHARACTER_FIELDS = ["custom_id", "file_name", "file_path", "prompt_used", "provider", "model", "generated_at",
                    "batch_run_id", "task_key", "sha256"]
RUN_FIELDS = ["run_id", "generated_at", "provider", "model", "mode", "images"]
RUN_IMAGE_FIELDS = ["task_key", "file_path", "status", "sha256"]


def test_the_demos_imagery_files_have_the_original_shape(demo_tree: Path) -> None:
    root = demo_tree  # the session's `chargen-es demo` (tests/conftest.py): read, not changed
    characters = sorted(root.glob("characters/*/imagery.yaml"))
    places = sorted([*root.glob("locations/*/imagery.yaml"), *root.glob("chapters/*/imagery.yaml")])
    assert characters and places
    for path in characters:
        entries = read_yaml(path.read_text(encoding="utf-8"))["generated_images"]
        assert entries
        for entry in entries:
            assert list(entry) == CHARACTER_FIELDS, path
            assert entry["custom_id"] == posixpath.splitext(entry["file_name"])[0]
            assert entry["file_name"] == posixpath.basename(entry["file_path"])
            assert entry["provider"] == "google" and entry["task_key"].startswith(("character/", "characters/"))
            assert (path.parent / entry["file_path"]).is_file()
    for path in places:
        runs = read_yaml(path.read_text(encoding="utf-8"))["imagery_runs"]
        assert runs
        for run in runs:
            assert list(run) == RUN_FIELDS and run["provider"] == "google" and run["mode"] == "batch"
            for image in run["images"]:
                assert list(image) == RUN_IMAGE_FIELDS and image["status"] == "success"


OLD_CHARACTER = """\
# written by chargen-es 0.x
generated_images:
- custom_id: {key}
  file_name: one-old.png
  file_path: images/one-old.png
  prompt_used: old prompt
  provider: google
  model: m
  generated_at: '2025-12-19T12:00:00Z'
  batch_run_id: r0
  task_key: {key}
  sha256: {sha}
"""

OLD_LOCATION = """\
imagery_runs:
- run_id: r0
  generated_at: '2025-12-19T12:00:00Z'
  provider: google
  model: m
  mode: batch
  images:
  - task_key: {key}
    file_path: images/one-old.png
    status: ok
    sha256: {sha}
"""


def _plan(root: Path):
    return build_plan(PlanOptions(root=root, run_stamp=STAMP))


def test_old_shape_entries_still_count_as_done(tmp_path: Path) -> None:
    for entity_type, slug in (("characters", "ada"), ("locations", "port")):
        entity(tmp_path, entity_type, slug)
    keys = {(t.entity_type, t.scene): t.key for t in _plan(tmp_path).tasks}
    for entity_type, slug, text in (("characters", "ada", OLD_CHARACTER), ("locations", "port", OLD_LOCATION)):
        image = write(tmp_path, f"{entity_type}/{slug}/images/one-old.png", png(slug))
        write(tmp_path, f"{entity_type}/{slug}/imagery.yaml",
              text.format(key=keys[(entity_type, "one")], sha=sha(image.read_bytes())))
    result = _plan(tmp_path)
    assert sorted((s.entity_type, s.scene, s.reason) for s in result.skipped) == [
        ("characters", "one", "done"), ("locations", "one", "done")]
    assert {t.scene for t in result.tasks} == {"two"}


def test_an_old_entry_is_left_alone_when_the_same_result_is_applied_again(tmp_path: Path) -> None:
    for entity_type, slug in (("characters", "ada"), ("locations", "port")):
        t = task(entity_type, slug, "one")
        out = output(tmp_path, t)
        assert imagery.record_generated(tmp_path, t, [out], "r0", "T", "batch", write=durable)
        path = imagery.imagery_path(tmp_path, t)
        current = path.read_text()
        old = (current.replace(f"custom_id: {t.output_stem}", f"custom_id: {t.key}")
               .replace("status: success", "status: ok"))
        assert old != current
        path.write_text(old)
        assert imagery.record_generated(tmp_path, t, [out], "r0", "T2", "batch", write=durable) is False
        assert path.read_text() == old


def test_an_old_entry_takes_the_current_shape_when_it_is_set_anyway(tmp_path: Path) -> None:
    for entity_type, slug, text in (("characters", "ada", OLD_CHARACTER), ("locations", "port", OLD_LOCATION)):
        t = task(entity_type, slug, "one")
        path = write(tmp_path, f"{entity_type}/{slug}/imagery.yaml", text.format(key=t.key, sha="0" * 64))
        out = output(tmp_path, t)
        assert imagery.record_generated(tmp_path, t, [out], "r0", "T", "batch", write=durable)
        text_after = path.read_text()
        assert text_after.startswith("# written by chargen-es 0.x") == (entity_type == "characters")
        data = read_yaml(text_after)
        if entity_type == "characters":
            [entry] = data["generated_images"]
            assert entry["custom_id"] == t.output_stem and entry["task_key"] == t.key
        else:
            [image] = data["imagery_runs"][0]["images"]
            assert image["status"] == "success" and image["sha256"] == out.sha256


def test_an_old_entry_of_an_older_key_still_names_what_changed(tmp_path: Path) -> None:
    """The plan's history reads old entries too: a scene with only an old-shape entry under
    an older key is planned as ``inputs changed``, not ``new``."""
    entity(tmp_path, "characters", "ada")
    entity(tmp_path, "locations", "port")
    for entity_type, slug, text in (("characters", "ada", OLD_CHARACTER), ("locations", "port", OLD_LOCATION)):
        image = write(tmp_path, f"{entity_type}/{slug}/images/one-old.png", png(slug))
        older = f"{entity_type}/{slug}/one@sha256:{'0' * 16}"
        write(tmp_path, f"{entity_type}/{slug}/imagery.yaml", text.format(key=older, sha=sha(image.read_bytes())))
    reasons = {(t.entity_type, t.scene): t.reason for t in _plan(tmp_path).tasks}
    assert reasons == {("characters", "one"): "inputs changed", ("characters", "two"): "new",
                       ("locations", "one"): "inputs changed", ("locations", "two"): "new"}
