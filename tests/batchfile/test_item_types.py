"""derive and compose items: checked with file:line, planned into ordinary generate tasks whose
references travel before the prompt, run end to end against the emulator, which refuses a
derive or compose request that does not carry its references."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from google.genai import errors as genai_errors

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.planner import PlanOptions
from chargen_es.planner.batchfile import build_batch_plan
from tests.batchfile.helpers import copy_batch, outputs
from tests.batchfile.test_validation import problems_of
from tests.emulator.helpers import image_request, make_client
from tests.engine.harness import RUN_ID, chargen

ITEMS = """\
name: variations
output: out
items:
  - id: portrait
    prompt: Ada at the harbor.
    references: [refs/ada-face.png]
  - id: older
    type: derive
    prompt: Make her twenty years older, same pose.
    references: [refs/ada-face.png]
  - id: together
    type: compose
    prompt: Ada standing on the map as on a beach.
    references: [refs/ada-face.png, refs/harbor-map.png]
"""


def write(root: Path, text: str, name: str = "items.yaml") -> Path:
    path = root / name
    path.write_text(text)
    return path


def plan_of(path: Path):  # type: ignore[no-untyped-def]
    return build_batch_plan(path, PlanOptions(root=path.parent, run_stamp="20300101T000000Z"))


def test_derive_and_compose_plan_into_generate_tasks_with_their_leads(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    plan = plan_of(write(root, ITEMS))
    by_scene = {t.scene: t for t in plan.tasks}
    assert {t.kind for t in plan.tasks} == {"generate"}
    assert by_scene["portrait"].prompt == "Scene: Ada at the harbor."
    assert by_scene["older"].prompt == "Derive from the attached image: Make her twenty years older, same pose."
    assert by_scene["together"].prompt == ("Compose one image from the 2 attached images: "
                                           "Ada standing on the map as on a beach.")
    assert [r.path for r in by_scene["together"].references] == ["refs/ada-face.png", "refs/harbor-map.png"]
    # the same prompt and reference as a generate and as a derive are different tasks
    assert len({t.key for t in plan.tasks}) == 3


def test_wrong_reference_counts_and_unknown_types_are_named_with_their_lines(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    for i in range(15):
        shutil.copy(root / "refs" / "ada-face.png", root / "refs" / f"face-{i}.png")
    many = ", ".join(f"refs/face-{i}.png" for i in range(15))
    path = write(root, f"""\
name: bad
items:
  - id: no-ref
    type: derive
    prompt: Older.
  - id: two-refs
    type: derive
    prompt: Older.
    references: [refs/ada-face.png, refs/harbor-map.png]
  - id: one-ref
    type: compose
    prompt: Both.
    references: [refs/ada-face.png]
  - id: crowd
    type: compose
    prompt: Everyone.
    references: [{many}]
  - id: twice
    type: compose
    prompt: The same face twice.
    references: [refs/ada-face.png, refs/ada-face.png]
  - id: odd
    type: morph
    prompt: Something.
""")
    found = [p.split("/batch/", 1)[1] for p in problems_of(path)]
    assert "items.yaml:4: item 'no-ref' is a derive: it needs exactly one reference (the image to derive from), " \
           "not 0" in found
    assert "items.yaml:7: item 'two-refs' is a derive: it needs exactly one reference (the image to derive " \
           "from), not 2" in found
    assert "items.yaml:11: item 'one-ref' is a compose: it needs 2 or more references, not 1" in found
    assert "items.yaml:23: item 'odd': unknown type 'morph'; use generate, derive, compose" in found
    assert any(p.startswith("items.yaml:14: item 'crowd' has 15 references; gemini-3-pro-image takes at most 14")
               for p in found), found
    assert any(p.startswith("items.yaml:18: item 'twice' is a compose: its references name 1 different file")
               for p in found), found


@pytest.mark.parametrize("runner", ["batch", "live"])
def test_derive_and_compose_run_end_to_end_carrying_their_references(tmp_path: Path, runner: str) -> None:
    root = copy_batch(tmp_path / "batch")
    write(root, ITEMS)
    with Emulator(EmulatorConfig(job_seconds=0.0, seed=7)) as emu:
        done = chargen(root, emu.base_url, "run", "--batch-file", str(root / "items.yaml"), "--yes",
                       "--run-id", RUN_ID, "--runner", runner)
        assert done.returncode == 0, done.stdout + done.stderr
    made = outputs(root / "out")
    assert sorted(name.split("-")[0] for name in made) == ["older", "portrait", "together"]
    assert len(set(made.values())) == 3  # the same reference as generate and derive: different requests
    if runner == "batch":
        requests = [json.loads(line) for f in sorted((root / ".chargen" / "batch" / RUN_ID).glob("requests-*.jsonl"))
                    for line in f.read_text().splitlines()]
        carried = {r["key"].split("/")[2].split("@")[0]: [p for p in r["request"]["contents"][0]["parts"]]
                   for r in requests}
        assert [list(p) for p in carried["older"]] == [["fileData"], ["text"]]
        assert [list(p) for p in carried["together"]] == [["fileData"], ["fileData"], ["text"]]


def test_the_emulator_refuses_a_derive_or_compose_without_its_references() -> None:
    with Emulator(EmulatorConfig()) as emu:
        client = make_client(emu, "v1beta")
        for prompt, carried in (("Derive from the attached image: Older.", 0),
                                ("Compose one image from the 2 attached images: Both.", 0)):
            with pytest.raises(genai_errors.ClientError) as caught:
                client.models.generate_content(model="gemini-3-pro-image", contents=image_request(prompt)["contents"],
                                               config=image_request(prompt)["generationConfig"])
            assert caught.value.code == 400
            assert f"carries {carried}" in str(caught.value)
