"""imagery.yaml updates: set by task_key, idempotent, user keys kept, mode kept, atomic."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from chargen_es import imagery
from chargen_es.engine.durable import Durability, write_replace
from chargen_es.events import FileRef, Output, Task
from tests.planner.helpers import png, sha, write
from tests.shared import read_yaml


def durable(path: Path, data: bytes, mode: int | None) -> None:
    """The writer the engine gives imagery: atomic replace, then flushed."""
    flush = Durability()
    write_replace(path, data, flush, mode)
    flush.flush()


def task(entity_type: str = "characters", slug: str = "ada", scene: str = "one", kind: str = "generate",
         key: str | None = None) -> Task:
    return Task(
        key=key or f"{entity_type}/{slug}/{scene}@sha256:0123456789abcdef", kind=kind, entity_type=entity_type,
        slug=slug, scene=scene, prompt="Subject: Ada.\n\nScene: a map.", model="gemini-3-pro-image-preview",
        output_dir=f"{entity_type}/{slug}/images", output_stem=f"{scene}-20251219T120000Z",
        input_image=FileRef(path=f"{entity_type}/{slug}/images/pic.png", sha256="a" * 64) if kind == "analyze" else None,
    )


def output(root: Path, t: Task, seed: str = "img") -> Output:
    data = png(seed)
    rel = f"{t.output_dir}/{t.output_stem}.png"
    write(root, rel, data)
    return Output(path=rel, sha256=sha(data), bytes=len(data), mime="image/png")


def load(root: Path, t: Task) -> dict:
    return read_yaml(imagery.imagery_path(root, t).read_text(encoding="utf-8"))


def test_character_entry_shape_and_idempotence(tmp_path):
    t = task()
    out = output(tmp_path, t)
    assert imagery.record_generated(tmp_path, t, [out], "run-1", "2025-12-19T12:00:00.000Z", "batch", write=durable) is True
    before = imagery.imagery_path(tmp_path, t).read_bytes()
    assert imagery.record_generated(tmp_path, t, [out], "run-1", "2025-12-19T12:09:00.000Z", "batch", write=durable) is False
    assert imagery.record_generated(tmp_path, t, out, "run-1", "2025-12-19T12:00:00.000Z", write=durable) is False
    assert imagery.imagery_path(tmp_path, t).read_bytes() == before
    assert load(tmp_path, t) == {"generated_images": [{
        "custom_id": "one-20251219T120000Z", "file_name": "one-20251219T120000Z.png", "file_path": "images/one-20251219T120000Z.png",
        "prompt_used": t.prompt, "provider": "google", "model": t.model, "generated_at": "2025-12-19T12:00:00.000Z",
        "batch_run_id": "run-1", "task_key": t.key, "sha256": out.sha256,
    }]}


def test_user_keys_are_kept(tmp_path):
    t = task()
    write(tmp_path, "characters/ada/imagery.yaml", """
        favourite: true
        generated_images:
          - task_key: other@sha256:1111111111111111
            file_path: images/old.png
            rating: 5
          - task_key: characters/ada/one@sha256:0123456789abcdef
            file_path: images/stale.png
            sha256: old
            my_note: keep me
        analyses: []
        """)
    out = output(tmp_path, t)
    assert imagery.record_generated(tmp_path, t, [out], "run-2", "2025-12-19T12:00:00.000Z", "batch", write=durable)
    data = load(tmp_path, t)
    assert data["favourite"] is True and data["analyses"] == []
    assert data["generated_images"][0] == {"task_key": "other@sha256:1111111111111111",
                                           "file_path": "images/old.png", "rating": 5}
    entry = data["generated_images"][1]
    assert entry["my_note"] == "keep me" and entry["file_path"] == "images/one-20251219T120000Z.png"
    assert entry["sha256"] == out.sha256 and len(data["generated_images"]) == 2


def test_location_run_entry_set_by_key(tmp_path):
    t1, t2 = task("locations", "port", "one"), task("locations", "port", "two")
    o1, o2 = output(tmp_path, t1, "a"), output(tmp_path, t2, "b")
    assert imagery.record_generated(tmp_path, t1, [o1], "run-1", "T", "batch", write=durable)
    assert imagery.record_generated(tmp_path, t2, [o2], "run-1", "T", "batch", write=durable)
    assert not imagery.record_generated(tmp_path, t1, [o1], "run-1", "T2", "batch", write=durable)
    data = load(tmp_path, t1)
    assert len(data["imagery_runs"]) == 1
    run = data["imagery_runs"][0]
    assert {k: run[k] for k in ("run_id", "generated_at", "provider", "model", "mode")} == {
        "run_id": "run-1", "generated_at": "T", "provider": "google", "model": t1.model, "mode": "batch"}
    assert run["images"] == [
        {"task_key": t1.key, "file_path": "images/one-20251219T120000Z.png", "status": "success", "sha256": o1.sha256},
        {"task_key": t2.key, "file_path": "images/two-20251219T120000Z.png", "status": "success", "sha256": o2.sha256},
    ]
    assert imagery.record_generated(tmp_path, t1, [o1], "run-2", "T3", "live", write=durable)
    assert [r["run_id"] for r in load(tmp_path, t1)["imagery_runs"]] == ["run-1", "run-2"]


def test_analysis_entry(tmp_path):
    t = task(kind="analyze", scene="analyze:pic", key="characters/ada/analyze:pic@sha256:0123456789abcdef")
    write(tmp_path, "characters/ada/character.yaml", "name: Ada\n")
    rel = "characters/ada/images/pic.png.analysis.json"
    assert imagery.record_analysis(tmp_path, t, rel, "run-1", write=durable)
    assert not imagery.record_analysis(tmp_path, t, rel, "run-1", write=durable)
    assert load(tmp_path, t) == {"analyses": [{
        "task_key": t.key, "image": "images/pic.png", "analysis_path": "images/pic.png.analysis.json",
        "model": t.model, "run_id": "run-1", "image_sha256": t.input_image.sha256}]}


def test_file_mode_is_kept_and_nothing_is_left_behind(tmp_path):
    t = task()
    path = write(tmp_path, "characters/ada/imagery.yaml", "generated_images: []\n")
    os.chmod(path, 0o640)
    assert imagery.record_generated(tmp_path, t, [output(tmp_path, t)], "r", "T", "batch", write=durable)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    leftovers = sorted(p.name for p in path.parent.iterdir() if p.name.startswith("."))
    assert leftovers == []


def test_no_write_when_nothing_changes(tmp_path):
    t = task()
    out = output(tmp_path, t)
    imagery.record_generated(tmp_path, t, [out], "r", "T", "batch", write=durable)
    path = imagery.imagery_path(tmp_path, t)
    os.utime(path, ns=(1, 1))
    inode = path.stat().st_ino
    assert not imagery.record_generated(tmp_path, t, [out], "r", "T", "batch", write=durable)
    assert path.stat().st_mtime_ns == 1 and path.stat().st_ino == inode


def test_new_file_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        t = task()
        imagery.record_generated(tmp_path, t, [output(tmp_path, t)], "r", "T", "batch", write=durable)
    finally:
        os.umask(old)
    assert stat.S_IMODE(imagery.imagery_path(tmp_path, t).stat().st_mode) == 0o640


def test_a_recorded_result_is_what_the_planner_counts_as_done(tmp_path):
    from chargen_es.planner import PlanOptions, build_plan
    from tests.planner.helpers import STAMP, entity

    entity(tmp_path, "characters", "ada")
    entity(tmp_path, "locations", "port")
    first = build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP))
    for t in first.tasks:
        imagery.record_generated(tmp_path, t, [output(tmp_path, t, t.key)], "r", "T", "batch", write=durable)
    second = build_plan(PlanOptions(root=tmp_path, run_stamp="20251220T000000Z"))
    assert second.tasks == [] and len(second.skipped) == len(first.tasks)


def test_a_new_result_for_a_key_drops_the_old_ones_verdict_and_answering_model(tmp_path: Path) -> None:
    from chargen_es import imagery
    from chargen_es.events import Output, Task

    task = Task(key="character/ada/map-room@sha256:0123456789abcdef", kind="generate", entity_type="characters",
                slug="ada", scene="map-room", prompt="p", model="gemini-3-pro-image",
                output_dir="characters/ada/images", output_stem="map-room-X")
    path = tmp_path / "imagery.yaml"

    def write_bytes(target: Path, data: bytes, mode: int | None) -> None:
        target.write_bytes(data)

    def apply(sha: str, answered: str = "") -> dict:
        out = Output(path="characters/ada/images/map-room-X.jpg", sha256=sha, bytes=1, mime="image/jpeg")
        imagery.update(path, [imagery.generated_mutation(task, out, "R", "2030-01-01T00:00:00.000Z",
                                                         answered_by=answered)], write_bytes)
        return read_yaml(path.read_text())["generated_images"][0]

    apply("aaa", answered="other-model")
    imagery.update(path, [imagery.review_mutation(task.key, "aaa", "rejected", "too dark")], write_bytes)
    entry = apply("bbb")
    assert entry["sha256"] == "bbb"
    assert "review" not in entry and "review_note" not in entry and "answered_by" not in entry
