"""Takes: ``variants: N`` plans N tasks per scene, each with its own key and ``-vN`` output name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from chargen_es.errors import BatchFileInvalid, UsageError, ValidationFailed
from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.batchfile import build_batch_plan
from chargen_es.planner.validate import MAX_VARIANTS
from tests.batchfile.helpers import BATCH, copy_batch
from tests.engine.harness import chargen, copy_sample, run_args
from tests.planner.helpers import STAMP, entity, png, sha, write
from tests.review.test_verdicts import cli
from tests.shared import read_yaml

THREE = """
scenes:
  - id: one
    prompt: First scene.
    variants: 3
  - id: two
    prompt: Second scene.
"""


def plan(root: Path, **kw):
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))


def record(root: Path, tasks) -> None:
    """imagery.yaml entries (and files) for ``tasks``, as an applied run leaves them."""
    entries = []
    for t in tasks:
        data = png(t.key)
        write(root, f"{t.output_dir}/{t.output_stem}.png", data)
        entries.append({"task_key": t.key, "file_path": f"images/{t.output_stem}.png", "sha256": sha(data)})
    write(root, "characters/ada/imagery.yaml", yaml.safe_dump({"generated_images": entries}))


def test_three_takes_of_one_scene_are_three_tasks_and_take_one_keeps_its_key(tmp_path: Path) -> None:
    entity(tmp_path, "characters", "ada")
    before = {t.scene: t.key for t in plan(tmp_path).tasks}
    entity(tmp_path, "characters", "ada", THREE)
    tasks = plan(tmp_path).tasks
    assert [(t.scene, t.output_stem) for t in tasks] == [
        ("one", f"one-{STAMP}"), ("one", f"one-v2-{STAMP}"), ("one", f"one-v3-{STAMP}"), ("two", f"two-{STAMP}")]
    assert tasks[0].key == before["one"] and tasks[3].key == before["two"], "take 1 keeps today's key"
    assert len({t.key for t in tasks}) == 4
    assert {t.key.partition("@")[0] for t in tasks[:3]} == {"character/ada/one"}, "takes share the scene's prefix"


def test_the_estimate_counts_the_takes(tmp_path: Path) -> None:
    entity(tmp_path, "characters", "ada")
    one = plan(tmp_path)
    entity(tmp_path, "characters", "ada", THREE)
    three = plan(tmp_path)
    per_task = one.estimate.batch_usd / 2
    assert three.estimate.batch_usd == pytest.approx(per_task * 4, rel=1e-4)
    assert three.estimate.by_model[three.config["model"]].tasks == 4


def test_raising_plans_only_the_new_takes_and_lowering_forgets_nothing(tmp_path: Path) -> None:
    entity(tmp_path, "characters", "ada", THREE)
    first = plan(tmp_path)
    record(tmp_path, first.tasks)
    assert plan(tmp_path).tasks == []
    raised = plan(tmp_path, variants=5)
    assert [(t.scene, t.output_stem, t.reason) for t in raised.tasks] == [
        ("one", f"one-v4-{STAMP}", "new take"), ("one", f"one-v5-{STAMP}", "new take"),
        ("two", f"two-v2-{STAMP}", "new take"), ("two", f"two-v3-{STAMP}", "new take"),
        ("two", f"two-v4-{STAMP}", "new take"), ("two", f"two-v5-{STAMP}", "new take")]
    lowered = plan(tmp_path, variants=1)
    assert lowered.tasks == [] and len(lowered.skipped) == 2
    doc = read_yaml((tmp_path / "characters/ada/imagery.yaml").read_text())
    assert len(doc["generated_images"]) == 4, "lowering the count removes no record"
    assert plan(tmp_path).tasks == [], "back at 3: the takes already made are still done"


def test_where_the_count_comes_from(tmp_path: Path) -> None:
    write(tmp_path, "chargen.yaml", "variants: 2\n")
    entity(tmp_path, "characters", "ada", THREE)
    entity(tmp_path, "characters", "bram", body="name: Bram\ndescription: A knight.\nvariants: 4\n", refs=())
    counts: dict[tuple[str, str], int] = {}
    for t in plan(tmp_path).tasks:
        counts[(t.slug, t.scene)] = counts.get((t.slug, t.scene), 0) + 1
    assert counts == {("ada", "one"): 3, ("ada", "two"): 2, ("bram", "one"): 4, ("bram", "two"): 4}
    assert {t.scene for t in plan(tmp_path, variants=1).tasks} == {"one", "two"}
    assert len(plan(tmp_path, variants=1).tasks) == 4, "--variants wins over every file"


def test_a_bad_count_is_named_with_its_line(tmp_path: Path) -> None:
    entity(tmp_path, "characters", "ada", THREE.replace("variants: 3", "variants: many"))
    write(tmp_path, "chargen.yaml", "style: x\nvariants: 0\n")
    with pytest.raises(ValidationFailed) as caught:
        plan(tmp_path)
    shown = [str(p) for p in caught.value.problems]
    assert any(s.startswith("chargen.yaml:2") and "variants" in s for s in shown), shown
    assert any(s.startswith("characters/ada/image_ideas.yaml:4") and "variants" in s for s in shown), shown
    with pytest.raises(UsageError, match="--variants"):
        plan(tmp_path / "x", variants=MAX_VARIANTS + 1)


def test_a_batch_item_takes_variants(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "b")
    text = (root / BATCH).read_text().replace("  - id: market-day\n", "  - id: market-day\n    variants: 2\n")
    (root / BATCH).write_text(text)
    tasks = build_batch_plan(root / BATCH, PlanOptions(root=root, run_stamp=STAMP)).tasks
    stems = [t.output_stem for t in tasks]
    assert stems == [f"lighthouse-{STAMP}", f"market-day-{STAMP}", f"market-day-v2-{STAMP}", "cartographer-window"]
    tasks = build_batch_plan(root / BATCH, PlanOptions(root=root, run_stamp=STAMP, variants=2)).tasks
    assert "cartographer-window-v2" in [t.output_stem for t in tasks]
    (root / BATCH).write_text(text.replace("variants: 2", "variants: -1"))
    with pytest.raises(BatchFileInvalid, match="variants"):
        build_batch_plan(root / BATCH, PlanOptions(root=root, run_stamp=STAMP))


def test_a_run_with_three_takes_makes_three_and_a_second_run_plans_nothing(tmp_path: Path, emulator_url: str) -> None:
    root = copy_sample(tmp_path / "tree")
    ideas = root / "characters/ada/image_ideas.yaml"
    ideas.write_text(ideas.read_text().replace("  - id: map-room\n", "  - id: map-room\n    variants: 3\n"))
    dry = chargen(root, emulator_url, "run", "--only", "ada", "--dry-run", "--json")
    assert [t["output_stem"].rsplit("-", 1)[0] for t in json.loads(dry.stdout)["tasks"]] == [
        "map-room", "map-room-v2", "map-room-v3", "rooftop-survey", "lost-in-the-fog"]
    done = chargen(root, emulator_url, *run_args("--only", "ada"))
    assert done.returncode == 0, done.stderr
    made = sorted(p.name for p in (root / "characters/ada/images").glob("map-room*"))
    assert [n.split("-2030")[0] for n in made] == ["map-room", "map-room-v2", "map-room-v3"]
    entries = read_yaml((root / "characters/ada/imagery.yaml").read_text())["generated_images"]
    assert len({e["task_key"] for e in entries if e["task_key"].startswith("character/ada/map-room@")}) == 3
    again = chargen(root, emulator_url, "run", "--only", "ada", "--dry-run", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["tasks"] == []


def test_a_batch_files_items_are_steered_by_verdicts_too(tmp_path: Path, emulator_url: str) -> None:
    root = copy_batch(tmp_path / "b")
    text = (root / BATCH).read_text().replace("  - id: market-day\n", "  - id: market-day\n    variants: 2\n")
    (root / BATCH).write_text(text)
    done = chargen(root, emulator_url, *run_args("--batch-file", str(root / BATCH)))
    assert done.returncode == 0, done.stderr
    made = {p.name.rsplit("-", 1)[0] if not p.name.startswith("cartographer") else p.stem: p.name
            for p in (root / "postcards").glob("*.jpg")}
    for name in ("market-day", "market-day-v2"):
        judged = cli(root, "reject", f"postcards/{made[name]}", "--note", "more gulls")
        assert judged.returncode == 0, judged.stderr
    assert cli(root, "pick", f"postcards/{made['cartographer-window']}").returncode == 0
    (root / BATCH).write_text(text.replace("a round window", "an oval window"))
    dry = chargen(root, emulator_url, "run", "--batch-file", str(root / BATCH), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert [(t["scene"], t["reason"]) for t in plan["tasks"]] == [("market-day", "rejected")] * 2
    assert all(t["prompt"].endswith("Unlike the rejected takes: more gulls.") for t in plan["tasks"])
    assert [(s["scene"], s["reason"]) for s in plan["skipped"] if s["reason"] == "picked"] == [
        ("cartographer", "picked")]


def test_status_calls_a_take_still_to_make_another_take_not_never_generated(tree: Path) -> None:
    """map-room has three takes made; asking for a fourth leaves a scene with pictures, so
    the fourth is "another take" (a scene with none is "never generated")."""
    from chargen_es.cli.status_cmd import status_document

    ideas = tree / "characters/ada/image_ideas.yaml"
    ideas.write_text(ideas.read_text().replace("    variants: 3\n", "    variants: 4\n"))
    rows = [r for r in status_document(tree, "all", ())["scenes"] if r["scene"] == "map-room"]
    assert sorted(r["state"] for r in rows) == ["another take", "done", "done", "done"]
    never = [r for r in status_document(tree, "all", ())["scenes"] if r["state"] == "never generated"]
    assert never and all(r["entity"] != "characters/ada" for r in never)  # bram's scenes, never made
