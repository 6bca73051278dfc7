"""Batch-file validation: every problem at once, each named with file:line; same keys in YAML and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargen_es.errors import BatchFileInvalid
from chargen_es.planner import PlanOptions
from chargen_es.planner.batchfile import build_batch_plan
from tests.batchfile.helpers import BATCH, copy_batch
from tests.procs import run_child
from tests.shared import read_yaml

BROKEN = """\
name: bad name!
colour: blue
aspect_ratio: "7:5"
output: ../elsewhere
items:
  - id: one
    prompt: A lighthouse.
    references: [refs/missing.png, /etc/passwd]
  - id: one
    prompt: The same id again.
  - prompt: No id here.
  - id: three
    aspect_ratio: wide
    output: sub/dir.png
    size: large
  - just a string
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(BatchFileInvalid) as caught:
        build_batch_plan(path, PlanOptions(root=path.parent, run_stamp="20300101T000000Z"))
    return [str(p) for p in caught.value.problems]


def test_every_problem_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    path = root / "broken.yaml"
    path.write_text(BROKEN)
    f = str(path)
    assert problems_of(path) == [
        f"{f}:2: unknown field 'colour'; a batch file has name, mode, model, aspect_ratio, image_size, style, output, "
        "prompt, items, images, options, safety",
        f"{f}:1: name 'bad name!' must be letters, digits, '.', '_' or '-' (it names the output folder and the "
        "task keys)",
        f"{f}:3: unknown aspect ratio '7:5'; use one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9, 1:4, "
        "4:1, 1:8, 8:1",
        f"{f}:4: output '../elsewhere' leaves the batch file's folder",
        f"{f}:9: item id 'one' used twice (first at line 6)",
        f"{f}:11: item is missing required field 'id'",
        f"{f}:15: unknown item field 'size'; an item has id, type, prompt, title, references, aspect_ratio, "
        "image_size, negative_prompt, model, output, variants, retries",
        f"{f}:12: item 'three' is missing required field 'prompt'",
        f"{f}:13: unknown aspect ratio 'wide'; use one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9, "
        "1:4, 4:1, 1:8, 8:1",
        f"{f}:14: output 'sub/dir.png' must be a plain file name (letters, digits, '-', '_'; the folder is the "
        "batch's output)",
        f"{f}:16: an item must be a mapping with id and prompt",
        f"{f}:8: reference 'refs/missing.png' not found",
        f"{f}:8: reference '/etc/passwd' is an absolute path; use a path relative to the batch file",
    ]


def test_missing_and_escaping_references_are_each_named(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    path = root / "refs.yaml"
    path.write_text("name: refs\nitems:\n  - id: a\n    prompt: p\n    references:\n      - refs/missing.png\n"
                    "      - /etc/passwd\n      - ../outside.png\n      - postcards.yaml\n")
    f = str(path)
    assert problems_of(path) == [
        f"{f}:6: reference 'refs/missing.png' not found",
        f"{f}:7: reference '/etc/passwd' is an absolute path; use a path relative to the batch file",
        f"{f}:8: reference '../outside.png' leaves the root",
        f"{f}:9: reference 'postcards.yaml' is not an image (heic, heif, jpeg, jpg, png, webp)",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("name: x\n", ":1: missing 'items' (prompts to generate) or 'images' (paths to analyse)"),
    ("- a\n- b\n", ":1: must be a mapping with name and items (or images)"),
    ("name: x\nitems: []\n", ":2: items must be a non-empty list of {id, prompt}"),
    ("name: x\nitems:\n  - id: a\n    prompt: b\nimages: [a.png]\n",
     ":5: a batch file has items (generate) or images (analyze), not both"),
    ("name: x\nitems:\n  - id: a\n  prompt: [\n", ":4: invalid YAML"),
    ("name: x\nmode: analyze\nitems:\n  - {id: a, prompt: b}\n", ":2: mode analyze needs 'images', not 'items'"),
    ("name: x\nitems:\n  - id: a\n    prompt: b\n    references: ['']\n", ":5: a reference must be a non-empty path"),
])
def test_broken_shapes(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(text)
    found = problems_of(path)
    assert len(found) == 1 and f"{path}{expected}" in found[0], found


def test_an_empty_image_path_is_named_in_good_english_beside_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("name: x\nimages:\n  - ''\n  - a.png\n")
    assert problems_of(path) == [f"{path}:3: an image must be a non-empty path", f"{path}:4: image 'a.png' not found"]


def test_a_json_syntax_error_has_json_s_line(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{\n  "name": "x",\n  "items": [\n    {"id": "a" "prompt": "b"}\n  ]\n}\n')
    assert problems_of(path) == [f"{path}:4: invalid JSON: Expecting ',' delimiter"]


def test_json_problems_have_lines_too(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{\n  "name": "x",\n  "items": [\n    {"id": "a"}\n  ]\n}\n')
    assert problems_of(path) == [f"{path}:4: item 'a' is missing required field 'prompt'"]


def test_yaml_and_json_forms_plan_the_same_keys(tmp_path: Path) -> None:

    root = copy_batch(tmp_path / "batch")
    (root / "same.json").write_text(json.dumps(read_yaml((root / BATCH).read_text()), indent=1))
    opts = PlanOptions(root=root, run_stamp="20300101T000000Z")
    from_yaml = build_batch_plan(root / BATCH, opts)
    from_json = build_batch_plan(root / "same.json", opts)
    assert [t.key for t in from_yaml.tasks] == [t.key for t in from_json.tasks]
    assert len(from_yaml.tasks) == 3
    assert all(t.key.startswith("batch/harbor-postcards/") and t.output_dir == "postcards" for t in from_yaml.tasks)


def test_the_cli_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    (root / "broken.yaml").write_text(BROKEN)
    done = run_child(["run", "--batch-file", str(root / "broken.yaml"),
                           "--dry-run"])
    assert done.returncode == 1
    assert "has 13 problem(s)" in done.stderr
    assert f"{root / 'broken.yaml'}:16: an item must be a mapping" in done.stderr


def test_tree_options_are_refused_with_a_batch_file(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    done = run_child(["run", "--batch-file", str(root / BATCH), "--only",
                           "a*", "--dry-run"])
    assert done.returncode == 2
    assert "--only does not apply with --batch-file" in done.stderr


def test_dry_run_json_shows_the_batch(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    done = run_child(["run", "--batch-file", str(root / BATCH),
                           "--dry-run", "--json"])
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["config"]["batch_file"] == BATCH and doc["config"]["scope"] == "batch-file"
    assert doc["summary"]["tasks_by_entity_type"] == {"batch": 3}
    assert not (root / ".chargen").exists() and not (root / "postcards").exists()


def test_analyze_first_is_refused_with_a_batch_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from chargen_es.cli import cli
    from chargen_es.cli.common import run_cli

    root = copy_batch(tmp_path / "batch")
    code = run_cli(cli, ["run", "--batch-file", str(root / BATCH), "--analyze-first", "--dry-run"])
    assert code == 2
    assert "--analyze-first does not apply with --batch-file" in capsys.readouterr().err


def test_a_batch_plan_has_no_consistency_part(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    plan = build_batch_plan(root / BATCH, PlanOptions(root=root, run_stamp="20251219T120000Z"))
    assert plan.tasks and plan.consistency == []
    assert not any("Keep consistent with" in t.prompt for t in plan.tasks)
    assert plan.config["analysis_schema_version"] == 2 and plan.config["consistency_only"] is False


SHUT_DOWN_MODELS = """\
name: old-models
model: gemini-3-pro-image-preview
items:
  - id: one
    prompt: A lighthouse.
  - id: two
    prompt: A harbour.
    model: gemini-2.5-flash-image
  - id: three
    prompt: A ferry.
    model: gemini-9-ultra-image
"""


def test_a_batch_files_models_are_judged_at_plan_time_like_a_trees(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    path = root / "old.yaml"
    path.write_text(SHUT_DOWN_MODELS)
    problems = problems_of(path)
    assert any(p.startswith(f"{path.name}:2: model gemini-3-pro-image-preview was shut down") for p in problems), problems
    assert any(p.startswith(f"{path.name}:8: model gemini-2.5-flash-image was shut down") for p in problems), problems
    # the dry run refuses it too, before any run exists
    done = run_child(["run", "--batch-file", str(path), "--dry-run"])
    assert done.returncode == 1 and "was shut down" in done.stderr, done.stderr
    assert not (root / ".chargen").exists()
    # an unknown model is a warning with its line; --model replaces the file's default
    path.write_text(SHUT_DOWN_MODELS.replace("    model: gemini-2.5-flash-image\n", ""))
    plan = build_batch_plan(path, PlanOptions(root=root, run_stamp="20300101T000000Z", model="gemini-3-pro-image"))
    assert f"{path.name}:10: model gemini-9-ultra-image is not in the catalogue" in " ".join(plan.warnings)
