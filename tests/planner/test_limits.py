"""image_size and the per-model limits (sizes, aspect ratios, references), each refused with file:line.

Why: ``imageSize`` must be "1K"/"2K"/"4K" (uppercase; a lowercase "1k" is reported to fall
back silently to 512 px) and the models differ in what they take, so nothing is sent as
written and nothing a model cannot do reaches it.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from chargen_es.cli import cli
from chargen_es.cli.common import run_cli
from chargen_es.errors import BatchFileInvalid, UsageError, ValidationFailed
from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.batchfile import build_batch_plan
from chargen_es.planner.limits import normalise_size
from tests.planner.helpers import STAMP, entity, png, write

TODAY = date(2026, 12, 7)


def plan(root, **kw):
    kw.setdefault("today", TODAY)
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))


def problems(root, **kw) -> list[str]:
    with pytest.raises(ValidationFailed) as err:
        plan(root, **kw)
    return [str(p) for p in err.value.problems]


def sizes(p) -> dict[str, str | None]:
    return {t.scene: t.generation_config["imageConfig"].get("imageSize") for t in p.tasks}


def test_sizes_are_normalised_or_refused():
    assert [normalise_size(v) for v in ("2k", "2K", " 4k ", "512", 512, "1K")] == ["2K", "2K", "4K", "512", "512", "1K"]
    assert [normalise_size(v) for v in ("3K", "2048", True, None, "large", 1.5)] == [None] * 6


def test_image_size_from_chargen_yaml_entity_and_scene_reaches_every_request(tmp_path):
    write(tmp_path, "chargen.yaml", "image_size: 2k\n")
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: one
            prompt: First.
          - id: two
            prompt: Second.
            image_size: 4K
        """)
    entity(tmp_path, "locations", "port")
    write(tmp_path, "locations/port/location.yaml", "name: Port\ndescription: A port.\nimage_size: 1K\n")
    p = plan(tmp_path)
    by_entity = {(t.slug, t.scene): t.generation_config["imageConfig"]["imageSize"] for t in p.tasks}
    assert by_entity == {("ada", "one"): "2K", ("ada", "two"): "4K", ("port", "one"): "1K", ("port", "two"): "1K"}
    # the size joins the task key; the flag overrides every level
    flagged = plan(tmp_path, image_size="4K")
    assert {t.generation_config["imageConfig"]["imageSize"] for t in flagged.tasks} == {"4K"}
    assert {t.key for t in flagged.tasks} != {t.key for t in p.tasks}
    assert next(t.key for t in flagged.tasks if t.scene == "two" and t.slug == "ada") == next(
        t.key for t in p.tasks if t.scene == "two" and t.slug == "ada")


def test_no_image_size_keeps_the_keys_of_before(tmp_path):
    entity(tmp_path, "characters", "ada")
    p = plan(tmp_path)
    assert all("imageSize" not in t.generation_config["imageConfig"] for t in p.tasks)


def test_3k_is_refused_with_file_and_line(tmp_path):
    write(tmp_path, "chargen.yaml", "style: Ink.\nimage_size: 3K\n")
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: one
            prompt: First.
            image_size: huge
        """)
    assert problems(tmp_path) == [
        "chargen.yaml:2: image_size '3K' is not a size Gemini makes; use 512, 1K, 2K, 4K",
        "characters/ada/image_ideas.yaml:4: image_size 'huge' is not a size Gemini makes; use 512, 1K, 2K, 4K"]


def test_a_size_ratio_or_reference_count_the_model_does_not_take_is_refused(tmp_path):
    refs = tuple(f"r{i}.png" for i in range(15))
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: tiny
            prompt: Small.
            image_size: "512"
          - id: tall
            prompt: Tall.
            aspect_ratio: "1:8"
        """, refs=refs)
    found = problems(tmp_path)  # the default model, gemini-3-pro-image
    assert found == [
        "characters/ada/image_ideas.yaml:4: image_size '512': gemini-3-pro-image makes only 1K, 2K, 4K",
        "characters/ada/character.yaml:18: 15 reference images: gemini-3-pro-image takes at most 14",
        "characters/ada/image_ideas.yaml:7: aspect ratio '1:8': gemini-3-pro-image takes 1:1, 2:3, 3:2, 3:4, "
        "4:3, 4:5, 5:4, 9:16, 16:9, 21:9",
    ]
    # gemini-3.1-flash-image makes 512 and 1:8 (still 14 references at most)
    assert problems(tmp_path, model="gemini-3.1-flash-image") == [found[1].replace("gemini-3-pro-image",
                                                                                    "gemini-3.1-flash-image")]


def test_the_flag_is_checked_against_the_model_as_a_usage_error(tmp_path, capsys):
    entity(tmp_path, "characters", "ada")
    with pytest.raises(UsageError, match=r"^--image-size 512: image_size '512': gemini-3-pro-image makes only"):
        plan(tmp_path, image_size="512")
    assert run_cli(cli, ["run", "--dry-run", "--image-size", "3K", "--root", str(tmp_path)]) == 2
    assert "--image-size 3K: image_size '3K' is not a size Gemini makes" in capsys.readouterr().err
    assert run_cli(cli, ["run", "--dry-run", "--json", "--image-size", "2k", "--root", str(tmp_path)]) == 0
    tasks = json.loads(capsys.readouterr().out)["tasks"]
    assert {t["generation_config"]["imageConfig"]["imageSize"] for t in tasks} == {"2K"}


def test_the_estimate_prices_each_size(tmp_path):
    entity(tmp_path, "characters", "ada")
    model = "gemini-nano-banana-2.1"
    one, two, four = (plan(tmp_path, model=model, image_size=s).estimate.by_model[model] for s in ("1K", "2K", "4K"))
    assert (one.image_output_tokens, two.image_output_tokens, four.image_output_tokens) == (2240, 3360, 5040)
    assert one.live_usd < two.live_usd < four.live_usd
    pro = plan(tmp_path, image_size="4K").estimate.by_model["gemini-3-pro-image"]
    assert pro.image_output_tokens == 2 * 2000


def test_a_batch_file_item_takes_image_size_and_is_checked_against_its_model(tmp_path):
    write(tmp_path, "refs/a.png", png("a"))
    path = write(tmp_path, "b.yaml", """
        name: cards
        image_size: 2k
        items:
          - id: one
            prompt: First.
          - id: two
            prompt: Second.
            image_size: 4K
        """)
    p = build_batch_plan(path, PlanOptions(root=tmp_path, run_stamp=STAMP, today=TODAY))
    assert sizes(p) == {"one": "2K", "two": "4K"}
    write(tmp_path, "b.yaml", """
        name: cards
        items:
          - id: one
            prompt: First.
            image_size: 3K
          - id: two
            prompt: Second.
            aspect_ratio: "8:1"
        """)
    with pytest.raises(BatchFileInvalid) as err:
        build_batch_plan(path, PlanOptions(root=tmp_path, run_stamp=STAMP, today=TODAY))
    found = [str(e).rpartition("/")[2] for e in err.value.problems]
    assert found == [
        "b.yaml:5: image_size '3K' is not a size Gemini makes; use 512, 1K, 2K, 4K",
        "b.yaml:8: aspect ratio '8:1': gemini-3-pro-image takes 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9",
    ]
