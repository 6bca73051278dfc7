"""Plan behaviour: order, scope and --only, chunks, references, prompts, prices."""

from __future__ import annotations

from datetime import date

import pytest

from chargen_es.errors import CostLimitExceeded, UsageError
from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.plan import ANALYSIS_SCHEMA
from chargen_es.planner.prompts import compile_prompt
from tests.planner.helpers import STAMP, entity, write

TODAY = date(2026, 12, 2)


def plan(root, **kw):
    kw.setdefault("today", TODAY)
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))


@pytest.fixture
def tree(tmp_path):
    for entity_type, slugs in (("chapters", ["c1"]), ("locations", ["l1"]), ("characters", ["b", "a"])):
        for slug in slugs:
            entity(tmp_path, entity_type, slug)
    return tmp_path


def test_order_and_scope(tree):
    assert [f"{t.entity_type}/{t.slug}/{t.scene}" for t in plan(tree).tasks] == [
        "characters/a/one", "characters/a/two", "characters/b/one", "characters/b/two",
        "locations/l1/one", "locations/l1/two", "chapters/c1/one", "chapters/c1/two",
    ]
    assert {t.entity_type for t in plan(tree, scope="locations").tasks} == {"locations"}
    assert {t.slug for t in plan(tree, only=("b", "chapters/c1")).tasks} == {"b", "c1"}
    with pytest.raises(UsageError):
        plan(tree, scope="characters", only=("l1",))


def test_chunks(tree):
    p = plan(tree, chunk_size=3)
    assert p.chunks == 3 and [t.chunk for t in p.tasks] == [0, 0, 0, 1, 1, 1, 2, 2]
    assert plan(tree, chunk_size=500).chunks == 1
    with pytest.raises(UsageError):
        plan(tree, chunk_size=0)


def test_task_fields(tmp_path):
    write(tmp_path, "chargen.yaml", "style: Ink.\naspect_ratio: '3:2'\nmodels: {generate: gemini-3.1-flash-image}\n")
    entity(tmp_path, "characters", "ada", """
        scenes:
          - id: Map Room
            title: The map room
            prompt: "Ada at the table.\\r\\nCandles.  "
            negative_prompt: modern things
            references: [extra.png, ref.png]
        """)
    write(tmp_path, "characters/ada/extra.png", b"\x89PNG fake but non-empty")
    (t,) = plan(tmp_path).tasks
    assert t.kind == "generate" and t.scene == "Map Room" and t.title == "The map room"
    assert t.model == "gemini-3.1-flash-image"
    assert t.output_dir == "characters/ada/images" and t.output_stem == f"Map-Room-{STAMP}"
    assert t.entity_file == "characters/ada/character.yaml"
    assert [r.path for r in t.references] == ["characters/ada/ref.png", "characters/ada/extra.png"]
    assert all(r.mime == "image/png" and r.size > 0 and len(r.sha256) == 64 for r in t.references)
    assert t.generation_config == {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "3:2"}}
    assert t.prompt == ("Ink.\n\nSubject: Ada. The ada of the story.\n\nScene: Ada at the table.\nCandles."
                        "\n\nAvoid: modern things")


def test_prompt_order_is_documented_and_stable():
    text = compile_prompt(style="S", entity_style="E", name="N", description="D", prompt="P", negative_prompt="X")
    assert text == "S\n\nE\n\nSubject: N. D\n\nScene: P\n\nAvoid: X"
    assert compile_prompt(style="", entity_style="", name="N", description="D", prompt="P",
                          negative_prompt="") == "Subject: N. D\n\nScene: P"


def test_analysis_tasks(tmp_path):
    entity(tmp_path, "locations", "port", refs=())  # no references: no consistency sources to analyse
    write(tmp_path, "locations/port/images/b.png", b"\x89PNG b")
    write(tmp_path, "locations/port/images/a.jpeg", b"\xff\xd8 a")
    (a, b) = plan(tmp_path, mode="analyze").tasks
    assert a.scene == "analyze:a" and a.output_stem == "a.jpeg" and a.input_image.mime == "image/jpeg"
    assert a.key.startswith("location/port/analyze:a@sha256:")
    assert a.model == "gemini-3.8-flash" and a.references == ()
    assert a.generation_config == {"responseMimeType": "application/json", "responseSchema": ANALYSIS_SCHEMA}
    schema = ANALYSIS_SCHEMA
    assert schema["type"] == "OBJECT" and set(schema["required"]) == {"archetype", "traits", "palette", "mood", "style"}
    assert schema["properties"]["traits"]["items"] == {"type": "STRING", "minLength": 1}
    assert schema["properties"]["traits"]["minItems"] == 1
    assert b.input_image.path == "locations/port/images/b.png"


def test_estimate_and_max_cost(tree):
    p = plan(tree)
    est = p.estimate
    assert est.batch_usd == pytest.approx(est.live_usd / 2) and est.saving_usd == pytest.approx(est.batch_usd)
    # gemini-3-pro-image: a 1K image is 1120 image tokens plus ~800 thinking tokens at the text rate
    assert est.output_tokens == 8 * (1120 + 800) and est.by_model["gemini-3-pro-image"].image_output_tokens == 8 * 1120
    assert est.by_model["gemini-3-pro-image"].tasks == 8
    assert est.live_usd == pytest.approx((est.input_tokens * 2.00 + 8 * 800 * 12.00 + 8 * 1120 * 120.00) / 1e6)
    assert plan(tree, max_cost=100).tasks
    with pytest.raises(CostLimitExceeded):
        plan(tree, max_cost=0.01)


def test_price_override_and_unknown_model(tree):
    write(tree, "chargen.yaml", "prices:\n  my-model: {input: 1.0, output: 1000.0}\n")
    p = plan(tree, model="my-model")
    assert p.estimate.live_usd == pytest.approx((p.estimate.input_tokens * 1 + 8 * 1290 * 1000) / 1e6)
    q = plan(tree, model="mystery-model")
    assert q.estimate.unpriced == ["mystery-model"] and any("no price for model mystery-model" in w for w in q.warnings)
    with pytest.raises(CostLimitExceeded):
        plan(tree, model="mystery-model", max_cost=100)


def test_config_snapshot_has_no_secrets(tree, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "sekrit-key")
    p = plan(tree)
    assert "sekrit" not in repr(p.config)
    assert p.config["chunk_size"] == 500 and p.config["mode"] == "generate"


def test_root_must_be_a_folder(tmp_path):
    with pytest.raises(UsageError):
        plan(tmp_path / "nope")


def test_warnings_for_an_empty_root_and_an_entity_without_ideas(tmp_path):
    assert plan(tmp_path).warnings == [f"{tmp_path}: no characters/, locations/ or chapters/ folder here; is --root right?"]
    entity(tmp_path, "characters", "ada")
    (tmp_path / "characters/ada/image_ideas.yaml").unlink()
    p = plan(tmp_path)
    assert p.tasks == [] and p.warnings == ["characters/ada: no image_ideas.yaml, so no scenes to generate"]
