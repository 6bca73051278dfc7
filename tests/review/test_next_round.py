"""The next round: rejected scenes are re-planned with their notes, picked scenes are settled."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.engine.harness import _env
from tests.procs import run_child
from tests.shared import read_yaml

NOTE = "too dark; the map should be readable"


def cli(root: Path, *args: str) -> tuple[int, str, str]:
    done = run_child([*args, "--root", str(root)], env=_env(), cwd=root)
    return done.returncode, done.stdout, done.stderr


def takes(root: Path, scene: str) -> list[str]:
    return sorted(f"characters/ada/images/{p.name}" for p in (root / "characters/ada/images").glob(f"{scene}-*"))


def dry(root: Path, *extra: str) -> dict:
    code, out, err = cli(root, "run", "--only", "ada", "--dry-run", "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def judge(root: Path) -> None:
    for path in takes(root, "map-room"):
        assert cli(root, "reject", path, "--note", NOTE)[0] == 0
    (picked,) = takes(root, "rooftop-survey")
    assert cli(root, "pick", picked)[0] == 0


def test_the_rejected_scene_is_planned_again_with_its_note_and_the_picked_one_is_not(tree: Path) -> None:
    assert dry(tree)["tasks"] == []
    judge(tree)
    plan = dry(tree)
    assert [(t["scene"], t["reason"]) for t in plan["tasks"]] == [("map-room", "rejected")] * 3
    assert all(t["prompt"].endswith(f"\n\nUnlike the rejected takes: {NOTE}.") for t in plan["tasks"])
    old = {e["task_key"] for e in read_yaml((tree / "characters/ada/imagery.yaml").read_text())["generated_images"]}
    assert not {t["key"] for t in plan["tasks"]} & old, "the note is part of the key"
    code, out, _ = cli(tree, "status", "--only", "ada")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "[rejected]" in lines["map-room"] and "[picked]" in lines["rooftop-survey"]
    assert "[waiting]" in lines["lost"]


def test_a_picked_scene_is_never_planned_again_until_forced_or_refreshed(tree: Path) -> None:
    judge(tree)
    ideas = tree / "characters/ada/image_ideas.yaml"
    ideas.write_text(ideas.read_text().replace("sketching the harbor skyline", "painting the harbor skyline"))
    assert [t["scene"] for t in dry(tree)["tasks"]] == ["map-room"] * 3
    code, out, _ = cli(tree, "status", "--only", "ada", "--json")
    rows = [r for r in json.loads(out)["scenes"] if r["scene"] == "rooftop-survey"]
    assert [(r["state"], r["review"]) for r in rows] == [("picked", "picked")]
    assert rows[0]["reason"].endswith("picked; prompt changed"), rows[0]
    refreshed = dry(tree, "--refresh", "picked")
    assert [(t["scene"], t["reason"]) for t in refreshed["tasks"] if t["scene"] == "rooftop-survey"] == [
        ("rooftop-survey", "prompt changed")]
    forced = dry(tree, "--force")
    assert {t["scene"] for t in forced["tasks"]} == {"map-room", "rooftop-survey", "lost in the fog"}


def test_a_pick_can_be_the_consistency_source(tree: Path) -> None:
    judge(tree)
    entity = tree / "characters/ada/character.yaml"
    entity.write_text(entity.read_text() + "consistency:\n  from: picked\n")
    code, out, err = cli(tree, "run", "--only", "ada", "--analyze-first", "--dry-run", "--json")
    assert code == 0, err
    (picked,) = takes(tree, "rooftop-survey")
    analyses = json.loads(out)["analyses"]["tasks"]
    assert [t["input_image"]["path"] for t in analyses] == [picked]
    # once analysed, the other scenes carry the picked look
    (tree / f"{picked}.analysis.json").write_text(json.dumps({
        "archetype": "cartographer", "traits": ["ink-stained fingers"], "palette": ["teal"], "mood": "calm",
        "style": "storybook"}))
    plan = dry(tree)
    assert plan["tasks"] and all("ink-stained fingers" in t["prompt"] for t in plan["tasks"])
    assert os.path.basename(picked) in json.dumps(plan["consistency"])


def test_the_dry_run_shows_the_notes_and_the_export_is_what_run_plans(tree: Path) -> None:
    judge(tree)
    ideas = tree / "characters/ada/image_ideas.yaml"
    ideas.write_text(ideas.read_text().replace("sketching the harbor skyline", "painting the harbor skyline"))
    code, out, err = cli(tree, "run", "--only", "ada", "--dry-run")
    assert code == 0, err
    assert out.count(f"    unlike: {NOTE}.") == 3
    assert "- characters/ada  rooftop-survey  [picked] (images/rooftop-survey-" in out
    assert "picked; prompt changed)" in out
    code, _, err = cli(tree, "status", "--only", "ada", "--export", "todo.json")
    assert code == 0, err
    todo = json.loads((tree / "todo.json").read_text())["generate"]["tasks"]
    assert sorted(t["key"] for t in todo) == sorted(t["key"] for t in dry(tree)["tasks"])
