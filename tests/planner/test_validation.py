"""Pre-flight validation: every problem at once, each with file and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chargen_es.errors import ValidationFailed
from chargen_es.planner import PlanOptions, build_plan
from tests.planner.helpers import STAMP, entity, png, write


def problems(root: Path, **kw) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))
    return [str(p) for p in info.value.problems]


def only_problem(root: Path) -> str:
    found = problems(root)
    assert len(found) == 1, found
    return found[0]


def test_yaml_syntax_error_names_its_line(tmp_path):
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: one
            prompt: fine
          - id: two
            prompt: [unclosed
          - id: three
            prompt: fine
        """)
    msg = only_problem(tmp_path)
    assert msg.startswith("characters/ada/image_ideas.yaml:")
    line = int(msg.split(":")[1])
    assert 5 <= line <= 7
    assert "invalid YAML" in msg


@pytest.mark.parametrize("field", ["name", "description"])
def test_missing_entity_field(tmp_path, field):
    body = "name: Ada\ndescription: A cartographer.\n"
    body = "\n".join(x for x in body.splitlines() if not x.startswith(field)) + "\nstyle: ink\n"
    entity(tmp_path, "characters", "ada", refs=(), body=body)
    assert only_problem(tmp_path) == f"characters/ada/character.yaml:1: character is missing required field '{field}'"


def test_missing_scene_id_and_prompt(tmp_path):
    entity(tmp_path, "locations", "port", """
        scenes:
          - id: ok
            prompt: fine
          - title: no id here
            prompt: something
          - id: lonely
            title: no prompt
        """)
    assert problems(tmp_path) == [
        "locations/port/image_ideas.yaml:4: scene is missing required field 'id'",
        "locations/port/image_ideas.yaml:6: scene \"lonely\" is missing required field 'prompt'",
    ]


def test_duplicated_scene_id_names_the_second(tmp_path):
    entity(tmp_path, "chapters", "ch1", """
        scenes:
          - id: x
            prompt: first
          - id: y
            prompt: other
          - id: x
            prompt: again
        """)
    assert only_problem(tmp_path) == 'chapters/ch1/image_ideas.yaml:6: scene id "x" used twice (first at line 2)'


def test_missing_reference_file(tmp_path):
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: one
            prompt: p
            references:
              - refs/there.png
              - refs/missing.png
        """)
    write(tmp_path, "characters/ada/refs/there.png", png("t"))
    msg = only_problem(tmp_path)
    assert msg == ("characters/ada/image_ideas.yaml:6: reference 'refs/missing.png' not found "
                   "(characters/ada/refs/missing.png)")


def test_reference_leaving_the_root_with_dotdot(tmp_path):
    root = tmp_path / "tree"
    write(tmp_path, "outside.png", png("o"))
    entity(root, "characters", "ada", refs=(), body="name: Ada\ndescription: d\nreferences:\n  - ../../../outside.png\n")
    assert only_problem(root) == "characters/ada/character.yaml:4: reference '../../../outside.png' leaves the root"


def test_reference_inside_the_root_through_dotdot_is_fine(tmp_path):
    write(tmp_path, "shared/style.png", png("s"))
    entity(tmp_path, "characters", "ada", refs=(), body="name: Ada\ndescription: d\nreferences: [../../shared/style.png]\n")
    plan = build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP))
    assert plan.tasks[0].references[0].path == "shared/style.png"


def test_absolute_reference(tmp_path):
    entity(tmp_path, "characters", "ada", refs=(), body=f"name: Ada\ndescription: d\nreferences:\n  - {tmp_path}/x.png\n")
    msg = only_problem(tmp_path)
    assert msg.startswith("characters/ada/character.yaml:4: reference ") and "absolute path" in msg


def test_symlink_pointing_outside(tmp_path):
    root = tmp_path / "tree"
    secret = write(tmp_path, "secret.png", png("secret"))
    entity(root, "characters", "ada", refs=(), body="name: Ada\ndescription: d\nreferences:\n  - link.png\n")
    os.symlink(secret, root / "characters/ada/link.png")
    assert only_problem(root) == "characters/ada/character.yaml:4: reference 'characters/ada/link.png' points outside the root (symlink)"


def test_symlinked_folder_pointing_outside(tmp_path):
    root = tmp_path / "tree"
    write(tmp_path, "elsewhere/pic.png", png("p"))
    entity(root, "characters", "ada", refs=(), body="name: Ada\ndescription: d\nreferences:\n  - refs/pic.png\n")
    os.symlink(tmp_path / "elsewhere", root / "characters/ada/refs")
    msg = only_problem(root)
    assert msg.startswith("characters/ada/character.yaml:4: reference 'refs/pic.png' points outside the root")


def test_symlink_inside_the_root_is_fine(tmp_path):
    entity(tmp_path, "characters", "ada", refs=(), body="name: Ada\ndescription: d\nreferences:\n  - link.png\n")
    target = write(tmp_path, "characters/ada/real.png", png("r"))
    os.symlink(target, tmp_path / "characters/ada/link.png")
    plan = build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP))
    assert plan.tasks[0].references[0].path == "characters/ada/link.png"


def test_empty_file(tmp_path):
    entity(tmp_path, "characters", "ada", "   \n\n")
    assert only_problem(tmp_path) == "characters/ada/image_ideas.yaml: file is empty"


def test_non_utf8_file_names_the_line(tmp_path):
    entity(tmp_path, "characters", "ada")
    (tmp_path / "characters/ada/image_ideas.yaml").write_bytes(
        b"scenes:\n  - id: one\n    prompt: caf\xe9 au lait\n")
    assert only_problem(tmp_path) == "characters/ada/image_ideas.yaml:3: not valid UTF-8 (byte 0xe9)"


def test_unreadable_file_a_folder(tmp_path):
    entity(tmp_path, "characters", "ada")
    (tmp_path / "characters/ada/image_ideas.yaml").unlink()
    (tmp_path / "characters/ada/image_ideas.yaml").mkdir()
    assert only_problem(tmp_path) == "characters/ada/image_ideas.yaml: is a folder, expected a file"


def test_missing_entity_file(tmp_path):
    entity(tmp_path, "characters", "ada")
    (tmp_path / "characters/ada/character.yaml").unlink()
    assert only_problem(tmp_path) == "characters/ada/character.yaml: file not found"


def test_unknown_aspect_ratio_in_a_scene(tmp_path):
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: one
            prompt: p
            aspect_ratio: "7:5"
        """)
    msg = only_problem(tmp_path)
    assert msg.startswith("characters/ada/image_ideas.yaml:4: unknown aspect ratio '7:5'; use one of 1:1, 2:3")


def test_unquoted_aspect_ratio_is_read_as_text(tmp_path):
    entity(tmp_path, "characters", "ada", "scenes:\n  - id: one\n    prompt: p\n    aspect_ratio: 16:9\n")
    plan = build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP))
    assert plan.tasks[0].generation_config == {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "16:9"}}


def test_unknown_aspect_ratio_in_chargen_yaml(tmp_path):
    entity(tmp_path, "characters", "ada")
    write(tmp_path, "chargen.yaml", "style: ink\naspect_ratio: '5:7'\n")
    assert only_problem(tmp_path).startswith("chargen.yaml:2: unknown aspect ratio '5:7'")


def test_every_problem_is_reported_at_once(tmp_path):
    entity(tmp_path, "characters", "ada", "scenes:\n  - id: a\n    prompt: p\n  - id: a\n    prompt: q\n")
    entity(tmp_path, "characters", "bram", refs=(), body="name: Bram\n")
    entity(tmp_path, "locations", "port", "scenes: [\n")
    found = problems(tmp_path)
    assert [f.split(":")[0] for f in found] == [
        "characters/ada/image_ideas.yaml", "characters/bram/character.yaml", "locations/port/image_ideas.yaml",
    ]


def test_skip_invalid_plans_the_valid_rest(tmp_path):
    entity(tmp_path, "characters", "ada")
    entity(tmp_path, "characters", "bram", refs=(), body="name: Bram\n")
    entity(tmp_path, "locations", "port", "scenes:\n  - id: a\n    prompt: p\n    aspect_ratio: '7:7'\n")
    plan = build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP, skip_invalid=True))
    assert {t.slug for t in plan.tasks} == {"ada"}
    assert len(plan.tasks) == 2
    assert plan.warnings == [
        "characters/bram/character.yaml:1: character is missing required field 'description' (skipped characters/bram)",
        "locations/port/image_ideas.yaml:4: unknown aspect ratio '7:7'; use one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, "
        "5:4, 9:16, 16:9, 21:9, 1:4, 4:1, 1:8, 8:1 (skipped locations/port)",
    ]


def test_skip_invalid_cannot_drop_a_broken_chargen_yaml(tmp_path):
    entity(tmp_path, "characters", "ada")
    write(tmp_path, "chargen.yaml", "models: [a, b]\n")
    assert problems(tmp_path, skip_invalid=True) == ["chargen.yaml:1: models must be a mapping (generate, analyze)"]


def test_validation_failed_message_lists_every_problem(tmp_path):
    entity(tmp_path, "characters", "bram", refs=(), body="name: Bram\n")
    with pytest.raises(ValidationFailed) as info:
        build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP))
    assert "characters/bram/character.yaml:1: character is missing required field 'description'" in str(info.value)
    assert "--skip-invalid" in str(info.value)


def test_windows_drive_path_is_absolute_but_a_colon_name_is_not(tmp_path):
    entity(tmp_path, "characters", "ada", refs=(), body="name: Ada\ndescription: d\nreferences:\n  - 'C:\\x.png'\n")
    assert "absolute path" in only_problem(tmp_path)
    entity(tmp_path, "characters", "ada", refs=("a:b.png",))
    assert build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP)).tasks[0].references[0].path == "characters/ada/a:b.png"


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def test_a_gif_renamed_png_is_refused_by_its_bytes(tmp_path):
    entity(tmp_path, "characters", "ada", refs=("ref.png",))
    write(tmp_path, "characters/ada/ref.png", GIF)
    assert only_problem(tmp_path) == (
        "characters/ada/character.yaml:4: reference 'ref.png' holds GIF bytes, whatever its name says; "
        "convert it (Gemini accepts png, jpeg, webp, heic or heif)")


@pytest.mark.parametrize(("name", "head"), [
    ("ok.png", b"\x89PNG\r\n\x1a\n"), ("ok.jpg", b"\xff\xd8\xff\xe0"), ("ok.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
    ("ok.heic", b"\x00\x00\x00\x18ftypmif1"), ("ok.png", b"not an image we know"),
    ("png-bytes.jpg", b"\x89PNG\r\n\x1a\n"),  # another kind Gemini accepts: Gemini judges it
])
def test_matching_or_unknown_bytes_pass(name, head):
    from chargen_es.planner.files import kind_problem

    assert kind_problem(name, head) is None


@pytest.mark.parametrize(("head", "kind"), [(b"BM\x00\x00", "BMP"), (b"II*\x00", "TIFF"),
                                           (b"\x00\x00\x00\x1cftypavif", "AVIF")])
def test_other_refused_kinds_are_named(head, kind):
    from chargen_es.planner.files import kind_problem

    assert f"holds {kind} bytes" in (kind_problem("a.webp", head) or "")
