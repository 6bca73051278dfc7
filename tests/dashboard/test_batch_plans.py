"""The batch service's dry run is ``run --batch-file F --dry-run --json``: the same planner
called in the service's process (the MCP server's, the dashboard's), so a plan costs no
fresh interpreter and can never differ from what the command prints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chargen_es.cli.run_cmd import batch_file_plan
from chargen_es.dashboard.batches import BatchError, Batches, batch_text, parse_items
from chargen_es.errors import BatchFileInvalid, ContentError
from chargen_es.planner import sample_batch
from tests.procs import run_child

ITEMS = [
    {"name": "portrait", "type": "generate", "prompt": "Ada at the harbor."},
    {"name": "older", "type": "derive", "prompt": "Twenty years older.", "references": ["refs/ada-face.png"]},
    {"name": "together", "type": "compose", "prompt": "Ada on the map.",
     "references": ["refs/ada-face.png", "refs/harbor-map.png"]},
]


@pytest.fixture
def studio(tmp_path: Path) -> Path:
    root = tmp_path / "studio"
    shutil.copytree(sample_batch(), root)
    (root / "postcards.yaml").unlink()
    return root


def without_run_stamp(doc: dict[str, object]) -> dict[str, object]:
    """The document less what names the run it would be (its id is drawn from the clock)."""
    text = json.dumps(doc, sort_keys=True)
    stamp = str(doc["config"]["run_stamp"])  # type: ignore[index]
    return json.loads(text.replace(stamp, "<stamp>"))  # type: ignore[no-any-return]


def test_the_services_plan_is_the_commands_dry_run(studio: Path) -> None:
    text, _ = batch_text("poses", parse_items(ITEMS), "2K")
    path = studio / "poses.json"
    path.write_text(text)
    printed = run_child(["run", "--batch-file", str(path), "--dry-run", "--json", "--root", str(studio)])
    assert printed.returncode == 0, printed.stderr
    in_process = batch_file_plan(path)
    assert without_run_stamp(in_process) == without_run_stamp(json.loads(printed.stdout))
    assert [t["scene"] for t in in_process["tasks"]] == ["portrait", "older", "together"]  # type: ignore[index]
    assert not (studio / ".chargen" / "batch").exists()  # a dry run writes no run


def test_planner_problems_name_their_items_and_other_refusals_their_cause(studio: Path) -> None:
    batches = Batches(studio, batch_file_plan)
    lonely = [{"name": "lonely", "type": "compose", "prompt": "x", "references": ["refs/ada-face.png"]},
              {"name": "lost", "type": "derive", "prompt": "x", "references": ["refs/nowhere.png"]}]
    plan = batches.plan("poses", lonely, image_size="3K")
    by_item = {p["item"]: p["message"] for p in plan["problems"]}
    assert plan["tasks"] == [] and set(by_item) >= {"lonely", "lost"}, plan["problems"]
    assert "nowhere.png" in by_item["lost"]
    assert any("3K" in p["message"] for p in plan["problems"]), plan["problems"]

    def refuses(path: Path) -> dict[str, object]:
        raise PermissionError(13, "Permission denied", str(studio / "refs" / "ada-face.png"))

    with pytest.raises(BatchError, match=r"^permission denied: refs/ada-face\.png "):  # as the cli names it
        Batches(studio, refuses).plan("poses", ITEMS)
    assert list((studio / ".chargen" / "batches").iterdir()) == []  # the dry run's file is gone


def test_a_broken_manifest_of_the_batch_is_refused_naming_file_and_line(studio: Path) -> None:
    """Not a problem of an item: the batch's ``imagery.yaml`` (in its output folder) does not
    parse; the refusal is the planner's own ``file:line`` message."""
    output = studio / "batches" / "poses"
    output.mkdir(parents=True)
    (output / "imagery.yaml").write_text("portrait:\n  - path: 'unclosed\n")
    with pytest.raises(BatchError, match=r"^batches/poses/imagery\.yaml:2: "):
        Batches(studio, batch_file_plan).plan("poses", ITEMS)


def test_a_problem_of_no_line_is_the_batchs_and_a_bug_is_named_not_dropped(studio: Path) -> None:
    """The service's side of the dry run's contract: a problem without a line belongs to no
    item (``""``); anything else the dry run raises comes back as the cli's one line."""
    def problems(path: Path) -> dict[str, object]:
        raise BatchFileInvalid(str(path), [ContentError("poses.json", "the whole file is odd"),
                                           ContentError("poses.json", "a bad item", 2)])

    plan = Batches(studio, problems).plan("poses", ITEMS)
    assert plan["problems"] == [{"item": "", "message": "the whole file is odd"},
                                {"item": "portrait", "message": "a bad item"}]

    def bug(path: Path) -> dict[str, object]:
        raise KeyError("estimate")

    with pytest.raises(BatchError, match=r"^internal error: KeyError: 'estimate'$"):
        Batches(studio, bug).plan("poses", ITEMS)
