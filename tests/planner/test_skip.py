"""The skip check against hand-made imagery.yaml files: done, missing, changed, forced."""

from __future__ import annotations

from pathlib import Path

import yaml

from chargen_es.planner import PlanOptions, build_plan
from tests.planner.helpers import STAMP, entity, png, sha, write


def plan(root: Path, **kw):
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))


def key_of(root: Path, slug: str, scene: str, entity_type: str = "characters", **kw) -> str:
    return next(t.key for t in plan(root, **kw).tasks if t.slug == slug and t.scene == scene
                and t.entity_type == entity_type)


def character_imagery(root: Path, key: str, file_path: str, digest: str) -> None:
    write(root, "characters/ada/imagery.yaml", yaml.safe_dump({
        "notes": "kept by the user",
        "generated_images": [{"task_key": key, "file_path": file_path, "sha256": digest, "model": "m"}],
    }))


def test_done_when_the_file_exists_with_the_recorded_hash(tmp_path):
    entity(tmp_path, "characters", "ada")
    key = key_of(tmp_path, "ada", "one")
    image = write(tmp_path, "characters/ada/images/one-old.png", png("out"))
    character_imagery(tmp_path, key, "images/one-old.png", sha(image.read_bytes()))
    result = plan(tmp_path)
    assert [t.scene for t in result.tasks] == ["two"]
    assert [(s.key, s.reason, s.scene, s.detail) for s in result.skipped] == [
        (key, "done", "one", "images/one-old.png")
    ]


def test_missing_when_the_file_is_gone(tmp_path):
    entity(tmp_path, "characters", "ada")
    key = key_of(tmp_path, "ada", "one")
    character_imagery(tmp_path, key, "images/one-old.png", "0" * 64)
    result = plan(tmp_path)
    assert {t.scene: t.reason for t in result.tasks} == {"one": "missing", "two": "new"}
    assert result.skipped == []


def test_changed_when_the_bytes_differ(tmp_path):
    entity(tmp_path, "characters", "ada")
    key = key_of(tmp_path, "ada", "one")
    write(tmp_path, "characters/ada/images/one-old.png", png("edited by hand"))
    character_imagery(tmp_path, key, "images/one-old.png", sha(png("as generated")))
    assert {t.scene: t.reason for t in plan(tmp_path).tasks} == {"one": "changed", "two": "new"}


def test_an_entry_for_an_older_key_does_not_count(tmp_path):
    entity(tmp_path, "characters", "ada")
    image = write(tmp_path, "characters/ada/images/one-old.png", png("out"))
    character_imagery(tmp_path, "characters/ada/one@sha256:0000000000000000", "images/one-old.png",
                      sha(image.read_bytes()))
    # the entry proves nothing about today's inputs, but says the scene had a picture before
    assert {t.scene: t.reason for t in plan(tmp_path).tasks} == {"one": "inputs changed", "two": "new"}


def test_force_plans_done_tasks_as_forced(tmp_path):
    entity(tmp_path, "characters", "ada")
    key = key_of(tmp_path, "ada", "one")
    image = write(tmp_path, "characters/ada/images/one-old.png", png("out"))
    character_imagery(tmp_path, key, "images/one-old.png", sha(image.read_bytes()))
    result = plan(tmp_path, force=True)
    assert {t.scene: t.reason for t in result.tasks} == {"one": "forced", "two": "new"}
    assert result.skipped == []


def test_location_runs_are_checked_too(tmp_path):
    entity(tmp_path, "locations", "port")
    one = key_of(tmp_path, "port", "one", "locations")
    two = key_of(tmp_path, "port", "two", "locations")
    image = write(tmp_path, "locations/port/images/one-a.png", png("a"))
    write(tmp_path, "locations/port/imagery.yaml", yaml.safe_dump({"imagery_runs": [
        {"run_id": "r1", "generated_at": "x", "provider": "google", "model": "m", "mode": "batch", "images": [
            {"task_key": one, "file_path": "images/one-a.png", "status": "ok", "sha256": sha(image.read_bytes())},
            {"task_key": two, "file_path": "images/two-a.png", "status": "failed", "sha256": ""},
        ]},
    ]}))
    result = plan(tmp_path)
    assert [s.scene for s in result.skipped] == ["one"]
    assert {t.scene: t.reason for t in result.tasks} == {"two": "new"}


def test_one_intact_record_is_enough(tmp_path):
    entity(tmp_path, "chapters", "ch1")
    one = key_of(tmp_path, "ch1", "one", "chapters")
    image = write(tmp_path, "chapters/ch1/images/one-b.png", png("b"))
    run = {"provider": "google", "model": "m", "mode": "batch", "generated_at": "x"}
    write(tmp_path, "chapters/ch1/imagery.yaml", yaml.safe_dump({"imagery_runs": [
        {"run_id": "r1", **run, "images": [{"task_key": one, "file_path": "images/one-a.png", "status": "ok",
                                            "sha256": "0" * 64}]},
        {"run_id": "r2", **run, "images": [{"task_key": one, "file_path": "images/one-b.png", "status": "ok",
                                            "sha256": sha(image.read_bytes())}]},
    ]}))
    assert [s.scene for s in plan(tmp_path).skipped] == ["one"]


def test_analysis_skip_missing_and_changed(tmp_path):
    entity(tmp_path, "characters", "ada", refs=())
    write(tmp_path, "characters/ada/images/a.png", png("a"))
    write(tmp_path, "characters/ada/images/b.jpg", png("b"))
    write(tmp_path, "characters/ada/images/c.webp", png("c"))
    write(tmp_path, "characters/ada/images/notes.txt", "not an image")
    first = plan(tmp_path, mode="analyze")
    assert [t.scene for t in first.tasks] == ["analyze:a", "analyze:b", "analyze:c"]
    keys = {t.scene: t.key for t in first.tasks}
    write(tmp_path, "characters/ada/images/a.png.analysis.json", "{}")
    write(tmp_path, "characters/ada/imagery.yaml", yaml.safe_dump({"analyses": [
        {"task_key": keys["analyze:a"], "image": "images/a.png", "analysis_path": "images/a.png.analysis.json",
         "model": "m", "run_id": "r"},
        {"task_key": keys["analyze:b"], "image": "images/b.jpg", "analysis_path": "images/b.jpg.analysis.json",
         "model": "m", "run_id": "r"},
        {"task_key": "characters/ada/analyze:c@sha256:0000000000000000", "image": "images/c.webp",
         "analysis_path": "images/c.webp.analysis.json", "model": "m", "run_id": "r"},
    ]}))
    write(tmp_path, "characters/ada/images/c.webp.analysis.json", "{}")
    second = plan(tmp_path, mode="analyze")
    assert [s.scene for s in second.skipped] == ["analyze:a"]
    assert {t.scene: t.reason for t in second.tasks} == {"analyze:b": "missing", "analyze:c": "changed"}


def test_a_broken_imagery_yaml_is_a_validation_problem(tmp_path):
    import pytest

    from chargen_es.errors import ValidationFailed

    entity(tmp_path, "characters", "ada")
    write(tmp_path, "characters/ada/imagery.yaml", "generated_images:\n  - task_key: [\n")
    with pytest.raises(ValidationFailed) as info:
        plan(tmp_path)
    assert str(info.value.problems[0]).startswith("characters/ada/imagery.yaml:")


def test_an_image_record_proves_done_only_with_its_hash_and_inside_its_entity(tmp_path):
    entity(tmp_path, "characters", "ada")
    entity(tmp_path, "characters", "bob")
    first = plan(tmp_path)
    task = first.tasks[0]
    write(tmp_path, "characters/ada/images/x.png", png("x"))
    write(tmp_path, "characters/bob/images/y.png", png("y"))
    records = [
        {"task_key": task.key, "file_path": "images/x.png"},  # no sha256: proves nothing
        {"task_key": task.key, "file_path": "../bob/images/y.png", "sha256": sha(png("y"))},  # bob's file
    ]
    write(tmp_path, f"{task.entity_type}/{task.slug}/imagery.yaml", yaml.safe_dump({"generated_images": records}))
    again = {t.key: t.reason for t in plan(tmp_path).tasks}
    assert again[task.key] == "changed"
