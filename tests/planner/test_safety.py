"""Safety settings: ``safety:`` in chargen.yaml, an entity file or a batch file, checked
against the SDK's enums, part of the task key, shown in the dry run, and sent as the
request's ``safetySettings`` (seen on the wire by the emulator, batch and live).
Default: nothing is sent, so Google's standard filtering applies and old keys stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.genai import types

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.errors import BatchFileInvalid, ValidationFailed
from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.batchfile import build_batch_plan
from chargen_es.planner.validate import SAFETY_CATEGORIES, SAFETY_THRESHOLDS
from tests.engine import inproc
from tests.engine.harness import copy_sample
from tests.planner.helpers import STAMP, entity, write
from tests.procs import run_child

# what the Gemini API does not take, by the SDK's own word (its enum docstrings): the
# UNSPECIFIED placeholders, the image categories ("not supported in Gemini API") and civic
# integrity ("Deprecated: Election filter is not longer supported")
NOT_FOR_GEMINI_API = {"HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_CIVIC_INTEGRITY", "HARM_CATEGORY_IMAGE_HATE",
                      "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT", "HARM_CATEGORY_IMAGE_HARASSMENT",
                      "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT"}


def plan(root: Path) -> dict[str, object]:
    return {f"{t.entity_type}/{t.slug}/{t.scene}": t for t in build_plan(PlanOptions(root=root, run_stamp=STAMP)).tasks}


def test_the_accepted_values_are_the_sdks_current_enums() -> None:
    categories = {m.value for m in types.HarmCategory}
    thresholds = {m.value for m in types.HarmBlockThreshold}
    assert set(SAFETY_CATEGORIES) == categories - NOT_FOR_GEMINI_API, "the SDK's HarmCategory changed"
    assert set(SAFETY_THRESHOLDS) == thresholds - {"HARM_BLOCK_THRESHOLD_UNSPECIFIED"}, "HarmBlockThreshold changed"


def test_chargen_yaml_and_entity_settings_go_into_the_config_and_the_key(tmp_path: Path) -> None:
    entity(tmp_path, "characters", "ada")
    entity(tmp_path, "characters", "bram")
    before = plan(tmp_path)
    assert all("safetySettings" not in t.generation_config for t in before.values()), "default: nothing sent"
    write(tmp_path, "chargen.yaml", "safety:\n  HARM_CATEGORY_DANGEROUS_CONTENT: BLOCK_ONLY_HIGH\n"
                                    "  HARM_CATEGORY_HARASSMENT: BLOCK_LOW_AND_ABOVE\n")
    with (tmp_path / "characters/bram/character.yaml").open("a") as f:
        f.write("safety:\n  HARM_CATEGORY_HARASSMENT: BLOCK_NONE\n")
    after = plan(tmp_path)
    assert after["characters/ada/one"].generation_config["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_LOW_AND_ABOVE"},
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_ONLY_HIGH"}]
    assert after["characters/bram/one"].generation_config["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_ONLY_HIGH"}]
    assert all(after[n].key != before[n].key for n in before), "a safety setting is part of the task key"
    assert after["characters/ada/one"].key != after["characters/bram/one"].key.replace("bram", "ada")


@pytest.mark.parametrize("where", ["chargen.yaml", "characters/ada/character.yaml"])
def test_unknown_categories_and_thresholds_are_refused_with_file_and_line(tmp_path: Path, where: str) -> None:
    entity(tmp_path, "characters", "ada")
    path = tmp_path / where
    text = path.read_text() if path.exists() else ""
    path.write_text(text + "safety:\n  HARM_CATEGORY_VIOLENCE: BLOCK_NONE\n"
                           "  HARM_CATEGORY_HATE_SPEECH: BLOCK_SOME\n")
    first = text.count("\n") + 2
    with pytest.raises(ValidationFailed) as caught:
        plan(tmp_path)
    shown = [str(p) for p in caught.value.problems]
    assert any(s.startswith(f"{where}:{first}: safety: unknown category 'HARM_CATEGORY_VIOLENCE'") for s in shown), shown
    assert any(s.startswith(f"{where}:{first + 1}: safety.HARM_CATEGORY_HATE_SPEECH: unknown threshold 'BLOCK_SOME'")
               for s in shown), shown


def test_a_batch_files_safety_is_checked_and_planned(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("name: b\nsafety:\n  HARM_CATEGORY_SEXUALLY_EXPLICIT: BLOCK_MEDIUM_AND_ABOVE\n"
                    "items:\n  - id: one\n    prompt: A harbour.\n")
    [task] = build_batch_plan(path, PlanOptions(root=tmp_path, run_stamp=STAMP)).tasks
    assert task.generation_config["safetySettings"] == [
        {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "threshold": "BLOCK_MEDIUM_AND_ABOVE"}]
    path.write_text("name: b\nsafety:\n  HARM_CATEGORY_SEXUALLY_EXPLICIT: maybe\nitems:\n  - id: one\n"
                    "    prompt: A harbour.\n")
    with pytest.raises(BatchFileInvalid) as caught:
        build_batch_plan(path, PlanOptions(root=tmp_path, run_stamp=STAMP))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: safety.HARM_CATEGORY_SEXUALLY_EXPLICIT: unknown threshold 'maybe'; use one of "
        + ", ".join(SAFETY_THRESHOLDS)]


def test_the_dry_run_shows_the_settings(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    shown = run_child(["run", "--dry-run", "--root", str(root)])
    assert "safety:   Google's standard filtering (no safetySettings sent)" in shown.stdout
    with (root / "chargen.yaml").open("a") as f:
        f.write("\nsafety:\n  HARM_CATEGORY_DANGEROUS_CONTENT: BLOCK_ONLY_HIGH\n")
    shown = run_child(["run", "--dry-run", "--root", str(root)])
    assert shown.returncode == 0, shown.stderr
    assert "    safety: DANGEROUS_CONTENT BLOCK_ONLY_HIGH" in shown.stdout
    assert "safety:   DANGEROUS_CONTENT BLOCK_ONLY_HIGH (" in shown.stdout


@pytest.mark.parametrize("runner", ["batch", "live"])
def test_safety_reaches_the_request_on_the_wire(tmp_path: Path, runner: str) -> None:
    root = copy_sample(tmp_path / "tree")
    with (root / "chargen.yaml").open("a") as f:
        f.write("\nsafety:\n  HARM_CATEGORY_DANGEROUS_CONTENT: BLOCK_ONLY_HIGH\n  HARM_CATEGORY_HATE_SPEECH: OFF\n")
    with Emulator(EmulatorConfig(seed=1)) as emu:
        done = inproc.run(root, emu.base_url, runner=runner)  # type: ignore[arg-type]
        stats = emu.stats()
    assert done.outcome == "completed"
    tasks = len(done.recorder.model.tasks)
    assert stats["safety_settings"] == {"HARM_CATEGORY_HATE_SPEECH=OFF": tasks,
                                        "HARM_CATEGORY_DANGEROUS_CONTENT=BLOCK_ONLY_HIGH": tasks}
