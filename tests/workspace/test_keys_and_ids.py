"""Task keys in the singular form, old plural entries still done, unsafe scene ids refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chargen_es.errors import ValidationFailed
from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.keys import canonical_key, legacy_key
from chargen_es.planner.plan import prompt_digest
from tests.planner.helpers import STAMP, entity, png, sha, write


def plan(root: Path, **kw):
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))


def test_keys_use_the_singular_entity_type(tmp_path):
    entity(tmp_path, "characters", "ada")
    entity(tmp_path, "locations", "port")
    entity(tmp_path, "chapters", "c1")
    heads = {t.key.split("/", 1)[0] for t in plan(tmp_path).tasks}
    assert heads == {"character", "location", "chapter"}
    assert {t.entity_type for t in plan(tmp_path).tasks} == {"characters", "locations", "chapters"}


def test_key_spellings_map_both_ways():
    assert legacy_key("character/ada/one@sha256:0123") == "characters/ada/one@sha256:0123"
    assert canonical_key("characters/ada/one@sha256:0123") == "character/ada/one@sha256:0123"
    assert canonical_key("character/ada/one@sha256:0123") == "character/ada/one@sha256:0123"
    assert legacy_key("other/x@sha256:1") == "other/x@sha256:1"


def test_an_old_plural_imagery_entry_still_counts_as_done(tmp_path):
    entity(tmp_path, "characters", "ada")
    key = next(t.key for t in plan(tmp_path).tasks if t.scene == "one")
    image = write(tmp_path, "characters/ada/images/one-old.png", png("out"))
    write(tmp_path, "characters/ada/imagery.yaml", yaml.safe_dump({"generated_images": [
        {"task_key": legacy_key(key), "file_path": "images/one-old.png", "sha256": sha(image.read_bytes())}]}))
    result = plan(tmp_path)
    assert [t.scene for t in result.tasks] == ["two"]
    assert [(s.key, s.reason) for s in result.skipped] == [(key, "done")]


@pytest.mark.parametrize(("sid", "what"), [
    ("../../escape", "'..'"), ("a/b", "'/'"), ("a\\\\b", "'\\'"), ("up..down", "'..'"), ("tab\\there", "U+0009"),
])
def test_scene_ids_that_would_be_paths_are_problems_with_file_and_line(tmp_path, sid, what):
    entity(tmp_path, "characters", "ada", f"""
        scenes:
          - id: fine
            prompt: p
          - id: "{sid}"
            prompt: p
        """)
    with pytest.raises(ValidationFailed) as info:
        plan(tmp_path)
    msgs = [str(p) for p in info.value.problems]
    assert len(msgs) == 1 and msgs[0].startswith("characters/ada/image_ideas.yaml:4: scene id "), msgs
    assert what in msgs[0]


def test_history_names_the_input_that_changed(tmp_path):
    entity(tmp_path, "characters", "ada")
    first = {t.scene: t for t in plan(tmp_path).tasks}
    t = first["one"]
    scene_id = t.key.partition("@")[0]
    base = {"key": "character/ada/one@sha256:ffffffffffffffff", "prompt_sha": prompt_digest(t.prompt),
            "references": [r.sha256 for r in t.references], "model": t.model, "config": t.generation_config}

    def reason(**change) -> str:
        history = {scene_id: {**base, **change}}
        return {x.scene: x.reason for x in plan(tmp_path, history=history).tasks}["one"]

    assert reason(prompt_sha="0" * 16) == "prompt changed"
    assert reason(references=["0" * 64]) == "references changed"
    assert reason(model="other-model") == "model changed"
    assert reason(config={"responseModalities": ["TEXT"]}) == "config changed"
    assert reason(key=t.key) == "new"  # the same key: nothing recorded, nothing changed
    assert {x.scene: x.reason for x in plan(tmp_path).tasks} == {"one": "new", "two": "new"}
    # both changed: the references are named, the prompt may be derived from them (consistency)
    assert reason(prompt_sha="0" * 16, references=["0" * 64]) == "references changed"


def test_history_names_the_change_of_a_batch_file_item(tmp_path):
    from chargen_es.planner.batchfile import build_batch_plan
    from tests.batchfile.helpers import BATCH, copy_batch

    root = copy_batch(tmp_path / "batch")
    opts = PlanOptions(root=root, run_stamp=STAMP)
    t = build_batch_plan(root / BATCH, opts).tasks[0]
    assert t.key.startswith("batch/") and t.reason == "new"
    scene_id = t.key.partition("@")[0]
    history = {scene_id: {"key": f"{scene_id}@sha256:ffffffffffffffff", "prompt_sha": "0" * 16,
                          "references": [r.sha256 for r in t.references], "model": t.model,
                          "config": t.generation_config}}
    again = build_batch_plan(root / BATCH, PlanOptions(root=root, run_stamp=STAMP, history=history))
    assert {x.key: x.reason for x in again.tasks}[t.key] == "prompt changed"
