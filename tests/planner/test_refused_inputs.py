"""Inputs Gemini refuses (only png, jpeg, webp, heic and heif images) stop the plan with file:line."""

from __future__ import annotations

from datetime import date

import pytest

from chargen_es.errors import ValidationFailed
from chargen_es.planner import PlanOptions, build_plan
from tests.planner.helpers import STAMP, entity, png, write


def plan(root, **kw):
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, today=date(2026, 12, 2), **kw))


def test_a_gif_reference_is_a_validation_problem_with_its_line(tmp_path):
    entity(tmp_path, "characters", "ada", "scenes:\n  - id: one\n    prompt: p\n    references: [pose.gif]\n")
    write(tmp_path, "characters/ada/pose.gif", b"GIF89a fake")
    with pytest.raises(ValidationFailed) as err:
        plan(tmp_path)
    assert ("characters/ada/image_ideas.yaml:4: reference 'pose.gif' is not an image Gemini accepts; "
            "use png, jpeg, webp, heic or heif") in str(err.value)


@pytest.mark.parametrize("name, mime", [("a.heic", "image/heic"), ("b.HEIF", "image/heif"), ("c.webp", "image/webp"),
                                        ("d.jpg", "image/jpeg")])
def test_accepted_kinds_are_planned_with_their_mime(tmp_path, name, mime):
    entity(tmp_path, "characters", "ada", f"scenes:\n  - id: one\n    prompt: p\n    references: [{name}]\n")
    write(tmp_path, f"characters/ada/{name}", png(name))
    (task,) = plan(tmp_path).tasks
    assert task.references[-1].mime == mime


def test_a_gif_among_the_images_to_analyse_is_a_validation_problem(tmp_path):
    entity(tmp_path, "locations", "port")
    write(tmp_path, "locations/port/images/map.png", png("map"))
    write(tmp_path, "locations/port/images/anim.gif", b"GIF89a fake")
    write(tmp_path, "locations/port/images/notes.json", "{}")
    with pytest.raises(ValidationFailed) as err:
        plan(tmp_path, mode="analyze")
    assert str(err.value).count("\n") == 1
    assert ("locations/port/images/anim.gif: Gemini does not accept .gif images; convert it to png, jpeg, webp, "
            "heic or heif (or move it out of images/)") in str(err.value)
    skipped = plan(tmp_path, mode="analyze", skip_invalid=True)
    assert skipped.tasks == [] and any("anim.gif" in w and "(skipped locations/port)" in w for w in skipped.warnings)


def test_generation_ignores_a_gif_in_images(tmp_path):
    entity(tmp_path, "locations", "port")
    write(tmp_path, "locations/port/images/anim.gif", b"GIF89a fake")
    assert len(plan(tmp_path).tasks) == 2
