"""Keys chargen-es does not read, in every YAML file a user writes: a near miss is an error
with a suggestion, any other key a warning (an error under ``strict``); and a YAML syntax
error is placed where the problem starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargen_es.errors import ValidationFailed
from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.unknown_keys import WORKSPACE_KEYS
from tests.planner.helpers import STAMP, entity, write


def problems(root: Path, **kw: object) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def test_typos_in_every_user_file_are_errors_with_file_line_and_a_suggestion(tmp_path: Path) -> None:
    write(tmp_path, "chargen.yaml", """
        style: ink
        modle: gemini-3-pro-image
        models:
          generat: gemini-3-pro-image
        analysis:
          promt: describe it
        """)
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: one
            prompt: First scene.
            negativ_prompt: daylight
            aspect_ration: "4:3"
        """, body="name: Ada\ndescripton: A cartographer.\ndescription: A cartographer.\n", refs=())
    found = problems(tmp_path)
    assert found == [
        "chargen.yaml:2: unknown key `modle`; did you mean `models`?",
        "chargen.yaml:4: unknown key `generat` in models; did you mean `generate`?",
        "chargen.yaml:6: unknown key `promt` in analysis; did you mean `prompt`?",
        "characters/ada/character.yaml:2: unknown key `descripton`; did you mean `description`?",
        'characters/ada/image_ideas.yaml:4: unknown key `negativ_prompt` in scene "one"; '
        "did you mean `negative_prompt`?",
        'characters/ada/image_ideas.yaml:5: unknown key `aspect_ration` in scene "one"; did you mean `aspect_ratio`?',
    ]


def test_a_key_like_nothing_we_read_is_a_warning_and_an_error_under_strict(tmp_path: Path) -> None:
    write(tmp_path, "chargen.yaml", "style: ink\nowner: the art team\n")
    entity(tmp_path, "characters", "ada", """
        notes: drafts for chapter 3
        scenes:
          - id: one
            prompt: First scene.
        """)
    plan = build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP))
    assert len(plan.tasks) == 1
    assert [w for w in plan.warnings if "unknown key" in w] == [
        f"chargen.yaml:2: unknown key `owner` is ignored; chargen-es reads {', '.join(WORKSPACE_KEYS)}",
        "characters/ada/image_ideas.yaml:1: unknown key `notes` is ignored; chargen-es reads scenes",
    ]
    assert [p.split(": unknown key")[0] for p in problems(tmp_path, strict=True)] == [
        "chargen.yaml:2", "characters/ada/image_ideas.yaml:1"]


def test_every_key_a_file_may_hold_is_read_and_an_api_key_keeps_its_own_refusal(tmp_path: Path) -> None:
    write(tmp_path, "chargen.yaml", """
        style: ink
        image_size: 1K
        variants: 2
        store: false
        keep_results: true
        api_key: not-here
        """)
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: one
            prompt: First scene.
            image_size: 2K
            variants: 1
        """, body="name: Ada\ndescription: A cartographer.\nimage_size: 1K\nvariants: 1\n", refs=())
    found = problems(tmp_path)
    assert len(found) == 1 and found[0].startswith("chargen.yaml:6: api_key: an API key does not belong"), found


def test_skip_invalid_drops_only_the_entity_with_a_typo(tmp_path: Path) -> None:
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: one
            prompt: First scene.
            aspect_ration: "4:3"
        """)
    entity(tmp_path, "characters", "bram")
    plan = build_plan(PlanOptions(root=tmp_path, run_stamp=STAMP, skip_invalid=True))
    assert {t.slug for t in plan.tasks} == {"bram"}
    assert any("aspect_ration" in w and "(skipped characters/ada)" in w for w in plan.warnings)


def test_an_unclosed_quote_is_placed_at_its_opening_mark(tmp_path: Path) -> None:
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: a
            prompt: x
          - id: b
            title: t
            aspect_ratio: "4:3"
            prompt: "never closed
            negative_prompt: y
          - id: c
            prompt: z
            title: w
        """)
    assert len((tmp_path / "characters/ada/image_ideas.yaml").read_text().splitlines()) == 11
    found = problems(tmp_path)
    assert len(found) == 1
    assert found[0].startswith("characters/ada/image_ideas.yaml:7: invalid YAML at column 13: ")


@pytest.mark.parametrize(("text", "line", "column"), [
    ("scenes: [a, b\n", 1, 9),                           # an open flow sequence: where it opened
    ("scenes:\n  - id: a\n    prompt: x\n   bad: 1\n", 4, 4),  # a parser error: where reading failed
    ("scenes:\n  - id: a\n    prompt: x: y\n", 3, 14),    # no context: the problem's own mark
])
def test_yaml_errors_point_where_the_problem_starts(tmp_path: Path, text: str, line: int, column: int) -> None:
    write(tmp_path, "characters/ada/character.yaml", "name: Ada\ndescription: x\n")
    write(tmp_path, "characters/ada/image_ideas.yaml", text)
    assert problems(tmp_path)[0].startswith(f"characters/ada/image_ideas.yaml:{line}: invalid YAML at column {column}: ")
