"""Consistency sources: the shape and its problems, source states, reasons, and the apply check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chargen_es import analysis as contract
from chargen_es import events as ev
from chargen_es.cli import cli
from chargen_es.engine.outputs import OutputContext, OutputGroup
from chargen_es.engine.results import Answer
from chargen_es.errors import ValidationFailed
from tests.consistency.helpers import analysis, keys_by_scene, plan, put_analysis
from tests.planner.helpers import entity, png, write
from tests.shared import read_yaml

ADA = "characters/ada"


def ada(root: Path, block: str = "") -> None:
    entity(root, "characters", "ada", body=(
        "name: Ada\ndescription: A cartographer.\nreferences:\n  - ref.png\n" + block))
    write(root, f"{ADA}/ref.png", png("ref"))
    write(root, f"{ADA}/images/portrait.png", png("portrait"))


def problems(root: Path, **kw: object) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        plan(root, **kw)
    return [str(p) for p in info.value.problems]


# ------------------------------------------------------------------------- the shape


def test_problems_name_the_file_and_line(tmp_path: Path) -> None:
    ada(tmp_path, "consistency:\n  from:\n    - images/portrait.png\n    - images/gone.png\n"
                  "    - ../outside.png\n    - notes.txt\n  fields: [traits, colour]\n  form: x\n")
    write(tmp_path, "characters/outside.png", png("b"))
    write(tmp_path, f"{ADA}/notes.txt", "text")
    found = problems(tmp_path)
    file = f"{ADA}/character.yaml"
    assert f"{file}:8: consistency.from 'images/gone.png' not found ({ADA}/images/gone.png)" in found
    assert f"{file}:9: consistency.from '../outside.png' is outside the entity folder {ADA}" in found
    assert any(p.startswith(f"{file}:10: consistency.from 'notes.txt' is not an image") for p in found)
    assert any(p.startswith(f"{file}:11: consistency.fields: unknown field 'colour'; use archetype") for p in found)
    assert f"{file}:12: consistency: unknown key 'form'; use from, fields" in found
    assert len(found) == 5


def test_the_workspace_default_takes_keywords_not_paths(tmp_path: Path) -> None:
    ada(tmp_path)
    write(tmp_path, "chargen.yaml", "consistency:\n  from: [images/portrait.png]\n")
    assert problems(tmp_path) == ["chargen.yaml:2: consistency.from here is references, picked or none; image paths "
                                  "belong in an entity file"]


def test_workspace_fields_apply_and_an_entity_overrides_them(tmp_path: Path) -> None:
    ada(tmp_path)
    write(tmp_path, "chargen.yaml", "consistency:\n  fields: [style, mood]\n")
    put_analysis(tmp_path, ADA, "ref.png", analysis("r"))
    prompt = plan(tmp_path).tasks[0].prompt
    assert "Keep consistent with: mood: r mood; style: r style." in prompt  # schema order, not listed order
    write(tmp_path, f"{ADA}/character.yaml", "name: Ada\ndescription: A cartographer.\nreferences: [ref.png]\n"
                                             "consistency: none\n")
    assert "Keep consistent" not in plan(tmp_path).tasks[0].prompt
    assert plan(tmp_path).consistency == []


def test_default_sources_are_the_references_and_dry_run_shows_the_clause(tmp_path: Path) -> None:
    ada(tmp_path)
    put_analysis(tmp_path, ADA, "images/portrait.png", analysis("p"))  # not a source by default
    assert "Keep consistent" not in plan(tmp_path).tasks[0].prompt
    put_analysis(tmp_path, ADA, "ref.png", analysis("r", palette=["teal", "Teal", "  amber\n"]))
    task = plan(tmp_path).tasks[0]
    assert task.prompt.endswith("Subject: Ada. A cartographer.\n\nKeep consistent with: traits: r trait one, "
                                "r trait two; palette: teal, amber.\n\nScene: First scene.")
    out = CliRunner().invoke(cli, ["run", "--dry-run", "--root", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "    keep:   traits: r trait one, r trait two; palette: teal, amber." in out.output
    assert "Consistency: 1 of 1 entity with sources use analyses" in out.output


# ------------------------------------------------------------------------- states


def test_missing_and_stale_analyses_are_reported_per_entity(tmp_path: Path) -> None:
    ada(tmp_path, "consistency:\n  from: [images/portrait.png, ref.png]\n")
    put_analysis(tmp_path, ADA, "images/portrait.png", analysis("p"))
    states = {s["image"]: s["status"] for s in plan(tmp_path).consistency[0]["sources"]}
    assert states == {f"{ADA}/images/portrait.png": "ok", f"{ADA}/ref.png": "missing"}
    before = keys_by_scene(tmp_path)

    write(tmp_path, f"{ADA}/images/portrait.png", png("repainted"))  # the image changes, its analysis does not
    report = plan(tmp_path).consistency[0]["sources"][0]
    assert report["status"] == "stale" and report["detail"] == "the image changed since it was analysed"
    assert keys_by_scene(tmp_path) == before  # a stale analysis is still the one on file: nothing moves yet
    out = CliRunner().invoke(cli, ["run", "--dry-run", "--root", str(tmp_path)])
    assert f"  {ADA}: stale images/portrait.png (the image changed since it was analysed); missing ref.png" \
        in out.output
    assert "--analyze-first` analyses the missing and stale ones first" in out.output
    first = plan(tmp_path, mode="analyze", consistency_only=True)
    assert [(t.input_image.path, t.reason) for t in first.tasks] == [
        (f"{ADA}/images/portrait.png", "changed"), (f"{ADA}/ref.png", "new")]
    assert first.tasks[1].output_dir == ADA and first.tasks[1].output_stem == "ref.png"


def test_a_hand_written_analysis_is_used_as_unrecorded(tmp_path: Path) -> None:
    ada(tmp_path)
    put_analysis(tmp_path, ADA, "ref.png", analysis("hand"), record=False)
    p = plan(tmp_path)
    assert p.consistency[0]["sources"][0]["status"] == "unrecorded"
    assert "hand trait one" in p.tasks[0].prompt
    assert plan(tmp_path, mode="analyze", consistency_only=True).tasks == []  # neither missing nor stale


def test_an_invalid_analysis_is_a_problem_with_its_line_and_is_redone_first(tmp_path: Path) -> None:
    ada(tmp_path)
    write(tmp_path, f"{ADA}/ref.png.analysis.json", json.dumps(analysis("x", palette=[]), indent=2))
    found = problems(tmp_path)
    assert len(found) == 1 and found[0].startswith(
        f"{ADA}/ref.png.analysis.json:7: not a valid analysis: 'palette' must have at least one item")
    write(tmp_path, f"{ADA}/ref.png.analysis.json", '{"traits": [\n')
    assert problems(tmp_path)[0].startswith(f"{ADA}/ref.png.analysis.json:2: not valid JSON")
    assert [t.scene for t in plan(tmp_path, mode="analyze", consistency_only=True).tasks] == ["analyze:ref"]


def test_a_new_analysis_replans_only_its_entity_and_says_why(tmp_path: Path) -> None:
    ada(tmp_path)
    entity(tmp_path, "characters", "bram")
    first = plan(tmp_path).tasks
    # record ada's and bram's first scenes as generated with the plain (analysis-free) keys
    for slug in ("ada", "bram"):
        t = next(t for t in first if t.slug == slug)
        write(tmp_path, f"characters/{slug}/images/one.png", png(slug + "-one"))
        doc_path = tmp_path / "characters" / slug / "imagery.yaml"
        doc = read_yaml(doc_path.read_text()) if doc_path.exists() else {}
        doc = doc or {}
        from tests.planner.helpers import sha

        doc["generated_images"] = [{"task_key": t.key, "file_path": "images/one.png",
                                    "sha256": sha(png(slug + "-one"))}]
        doc_path.write_text(yaml.safe_dump(doc))
    assert {t.slug for t in plan(tmp_path).tasks} == {"ada", "bram"}  # their second scenes
    put_analysis(tmp_path, ADA, "ref.png", analysis("v1"))
    again = plan(tmp_path)
    assert [(t.slug, t.scene, t.reason) for t in again.tasks] == [
        ("ada", "one", "analysis changed"), ("ada", "two", "new"), ("bram", "two", "new")]
    assert [s.slug for s in again.skipped] == ["bram"]


# ------------------------------------------------------------------------- applying


def analyze_task(root: Path) -> ev.Task:
    ada(root)
    (task,) = [t for t in plan(root, mode="analyze").tasks if t.scene == "analyze:ref"]
    return task


@pytest.mark.parametrize(("text", "reason"), [
    ("Here is the analysis you asked for.", "the answer is not JSON (Expecting value at line 1)"),
    ('{"archetype": "x", "traits": "tall", "palette": ["teal"], "mood": "m", "style": "s"}',
     "the answer does not fit the analysis schema v2: 'traits' must be a list of text, not text"),
    ('{"archetype": "x", "traits": ["tall"], "palette": ["teal"], "mood": ""}',
     "the answer does not fit the analysis schema v2: 'mood' must not be empty; missing field 'style'"),
])
def test_an_answer_that_does_not_fit_is_item_failed_and_nothing_is_written(tmp_path: Path, text: str,
                                                                           reason: str) -> None:
    task = analyze_task(tmp_path)
    run_dir = tmp_path / ".chargen" / "batch" / "r"
    run_dir.mkdir(parents=True)
    group = OutputGroup(OutputContext(root=tmp_path, run_dir=run_dir, run_id="r", generated_at="T"))
    group.write(task, Answer(text=text), raw=text.encode())
    (event,) = group.commit()
    assert isinstance(event, ev.ItemFailed) and event.code == "bad_analysis" and event.stage == "apply"
    assert event.message.startswith(reason)
    assert not (tmp_path / ADA / "ref.png.analysis.json").exists()
    assert not (tmp_path / ADA / "imagery.yaml").exists()
    detail = json.loads((run_dir / event.detail_path).read_text())
    assert detail["raw_line"] == text and detail["error"]["message"] == event.message


def test_a_valid_answer_is_written_and_recorded_with_the_image_hash(tmp_path: Path) -> None:
    task = analyze_task(tmp_path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    group = OutputGroup(OutputContext(root=tmp_path, run_dir=run_dir, run_id="r", generated_at="T"))
    group.write(task, Answer(text=json.dumps(analysis("ok"))))
    (event,) = group.commit()
    assert isinstance(event, ev.LineApplied)
    written = json.loads((tmp_path / ADA / "ref.png.analysis.json").read_text())
    assert contract.problems(written) == []
    (entry,) = read_yaml((tmp_path / ADA / "imagery.yaml").read_text())["analyses"]
    assert entry["image_sha256"] == task.input_image.sha256 and entry["image"] == "ref.png"
    assert plan(tmp_path).consistency[0]["sources"][0]["status"] == "ok"
