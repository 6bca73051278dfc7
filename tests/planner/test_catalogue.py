"""The model catalogue, its defaults, and how the planner judges a model offline.

The day is always passed in: a model's fate never depends on when the suite runs.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from chargen_es import catalogue
from chargen_es.cli.plan_view import plan_document, render_plan
from chargen_es.errors import ContentError, CostLimitExceeded, UsageError, ValidationFailed
from chargen_es.planner import PlanOptions, build_plan, pricing
from tests.planner.helpers import STAMP, entity, write

TODAY = date(2026, 12, 7)


def plan(root, **kw):
    kw.setdefault("today", TODAY)
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))


@pytest.fixture
def tree(tmp_path):
    entity(tmp_path, "characters", "ada")
    return tmp_path


def test_every_entry_is_sourced_and_consistent():
    assert catalogue.READ_ON == TODAY and catalogue.OVERRIDE is None
    for model in catalogue.MODELS.values():
        # every fact names where it was read and the day; the status always from a page of Google's
        assert model.sources and all(re.search(r"read 2026-\d\d-\d\d", s) for s in model.sources.values()), model.id
        assert "ai.google.dev" in model.sources["status"], model.id
        if model.status == "retired_routed":
            assert model.answered_by in catalogue.MODELS and model.routed_since is not None, model.id
            assert catalogue.MODELS[model.answered_by].routed_on(TODAY) is None, model.id
        if model.replacement:
            assert model.replacement in catalogue.MODELS, (model.id, model.replacement)
            assert catalogue.MODELS[model.replacement].usable_on(TODAY), model.id
        if model.status in ("shut_down", "deprecated", "retired_routed"):
            assert model.replacement, model.id
        if model.purpose == "image" and model.priced:
            assert model.image_output_usd > 0 and model.image_tokens("1K") == model.image_output_tokens > 0
        if model.priced:
            assert model.input_usd > 0 and model.output_usd > 0, model.id


def test_defaults_are_usable_ga_models_and_the_cheapest_text_model_is_computed():
    for model_id in (catalogue.DEFAULT_GENERATE_MODEL, catalogue.DEFAULT_ANALYZE_MODEL):
        info = catalogue.lookup(model_id)
        assert info is not None and info.status == "ga" and info.shutdown is None and info.usable_on(TODAY)
    assert catalogue.lookup(catalogue.DEFAULT_GENERATE_MODEL).purpose == "image"
    assert catalogue.lookup(catalogue.DEFAULT_ANALYZE_MODEL).purpose == "text"
    assert catalogue.cheapest_text_model(TODAY) == catalogue.CHEAPEST_TEXT_MODEL
    assert catalogue.lookup("models/gemini-3.5-flash") is catalogue.MODELS["gemini-3.5-flash"]


def test_the_models_the_issue_names_have_their_fate():
    assert catalogue.fate("gemini-3-pro-image-preview", TODAY).verdict == "shut_down"
    assert catalogue.fate("gemini-2.5-flash-image", TODAY).verdict == "shut_down"
    assert catalogue.fate("gemini-2.5-flash-image-preview", TODAY).verdict == "shut_down"
    # gemini-2.5-flash: deprecated until its retirement day, then answered by gemini-3.5-flash-lite
    assert catalogue.fate("gemini-2.5-flash", date(2026, 11, 30)).verdict == "deprecated"
    assert catalogue.fate("gemini-2.5-flash", date(2026, 12, 1)).answered_by == "gemini-3.5-flash-lite"
    # the issue's facts, checked against Google's changelog on 2026-12-07
    routed = catalogue.fate("gemini-3.5-flash", TODAY)
    assert (routed.verdict, routed.answered_by) == ("routed", "gemini-3.6-flash")
    assert routed.text == ("model gemini-3.5-flash was retired on 2026-10-08: Google answers its requests with "
                           "gemini-3.6-flash, at gemini-3.6-flash's price; use gemini-3.6-flash")
    assert catalogue.fate("gemini-3.7-flash", TODAY).answered_by == "gemini-3.8-flash"
    assert catalogue.fate("gemini-3.1-flash-image", TODAY).text == (
        "model gemini-3.1-flash-image is deprecated (no shutdown date known); use gemini-nano-banana-2.1")
    assert catalogue.fate("gemini-nano-banana-2.1", TODAY).verdict == "ok"
    assert catalogue.fate("gemini-3.1-flash-lite", TODAY).text == (
        "model gemini-3.1-flash-lite shuts down on 2027-05-07")
    assert catalogue.fate("gemini-3.1-flash-lite", date(2027, 5, 7)).verdict == "shut_down"
    assert catalogue.fate("gemini-9-ultra", TODAY).verdict == "unknown"
    assert catalogue.fate("gemini-3-pro-image", TODAY).verdict == "ok"


def test_a_shut_down_model_from_chargen_yaml_is_refused_naming_the_line_and_replacement(tree):
    write(tree, "chargen.yaml", "style: Ink.\nmodels:\n  analyze: gemini-3.5-flash\n  generate: gemini-3-pro-image-preview\n")
    with pytest.raises(ContentError) as err:
        plan(tree)
    assert str(err.value) == ("chargen.yaml:4: models.generate: model gemini-3-pro-image-preview was shut down on "
                              "2026-06-25; use gemini-3-pro-image")
    assert "\n" not in str(err.value)


def test_a_shut_down_model_from_the_command_line_is_refused(tree):
    with pytest.raises(UsageError) as err:
        plan(tree, model="gemini-2.5-flash-image")
    assert str(err.value) == ("--model gemini-2.5-flash-image: model gemini-2.5-flash-image was shut down on "
                              "2026-10-02; use gemini-nano-banana-2.1")


def test_a_text_model_is_refused_for_generation_from_the_command_line_and_chargen_yaml(tree):
    with pytest.raises(UsageError) as err:
        plan(tree, model="gemini-3.5-flash")
    assert str(err.value) == ("--model gemini-3.5-flash: gemini-3.5-flash is a text model and makes no pictures; "
                              "generate with an image model such as gemini-3-pro-image (`chargen-es models` lists them)")
    write(tree, "chargen.yaml", "models:\n  generate: gemini-3.8-flash\n")
    with pytest.raises(ContentError, match=r"^chargen.yaml:2: models.generate: gemini-3.8-flash is a text model"):
        plan(tree)
    assert plan(tree, mode="analyze", model="gemini-3.5-flash").tasks  # analysing is what it is for


def test_a_model_past_its_shutdown_date_is_refused_on_that_day_only(tree):
    assert plan(tree, mode="analyze", model="gemini-3.1-flash-lite", today=date(2027, 5, 6)) is not None
    with pytest.raises(UsageError, match="was shut down on 2027-05-07$"):
        plan(tree, mode="analyze", model="gemini-3.1-flash-lite", today=date(2027, 5, 7))


def test_a_deprecated_model_is_a_warning_with_its_shutdown_date_in_text_and_json(tree):
    write(tree, "chargen.yaml", "models:\n  analyze: gemini-3.1-flash-lite\n")
    write(tree, "characters/ada/images/a.png", b"\x89PNG a")
    p = plan(tree, mode="analyze")
    expected = "model gemini-3.1-flash-lite shuts down on 2027-05-07 (chosen by chargen.yaml:2)"
    assert p.warnings == [expected]
    lines: list[str] = []
    render_plan(p, lines.append)
    assert f"  {expected}" in lines
    assert "  model:    gemini-3.1-flash-lite (ga, shuts down 2027-05-07)" in lines
    doc = json.loads(json.dumps(plan_document(p)))
    assert doc["warnings"] == [expected]
    assert doc["summary"]["model"] == {"id": "gemini-3.1-flash-lite", "status": "ga", "shutdown": "2027-05-07",
                                       "replacement": None, "answered_by": None, "catalogue_read": "2026-12-07"}


def test_a_retired_and_routed_model_is_warned_naming_and_pricing_the_model_that_answers(tree):
    """Warned, not refused: Google still answers it, so the run works; the estimate and the
    dry run name the model that really answers and use its price."""
    write(tree, "characters/ada/images/a.png", b"\x89PNG a")
    p = plan(tree, mode="analyze", model="gemini-3.5-flash")
    assert p.warnings == ["model gemini-3.5-flash was retired on 2026-10-08: Google answers its requests with "
                          "gemini-3.6-flash, at gemini-3.6-flash's price; use gemini-3.6-flash; the estimate uses "
                          "that price ($1.5 in / $7.5 out per 1M tokens live) (chosen by --model)"]
    same = plan(tree, mode="analyze", model="gemini-3.6-flash")
    assert p.estimate.live_usd == same.estimate.live_usd > 0
    assert p.config["prices"]["gemini-3.5-flash"]["input"] == 1.5
    assert p.config["prices"]["gemini-3.5-flash"]["output"] == 7.5  # 3.6 Flash's, not 3.5's $9.00
    lines: list[str] = []
    render_plan(p, lines.append)
    assert "  model:    gemini-3.5-flash (retired routed, answered by gemini-3.6-flash, replacement gemini-3.6-flash)" in lines
    # a workspace that prices the retired id itself is taken at its word
    write(tree, "chargen.yaml", "prices:\n  gemini-3.5-flash: {input: 9, output: 9}\n")
    assert plan(tree, mode="analyze", model="gemini-3.5-flash").estimate.live_usd > p.estimate.live_usd


def test_nano_banana_2_1_is_planned_and_priced(tree):
    p = plan(tree, model="gemini-nano-banana-2.1")
    assert p.warnings == [] and p.tasks
    cost = p.estimate.by_model["gemini-nano-banana-2.1"]
    assert cost.priced and cost.image_output_tokens == 1120 * len(p.tasks)
    assert p.config["prices"]["gemini-nano-banana-2.1"]["image_output"] == 30.0


def test_an_unknown_model_is_a_warning_and_priced_zero(tree):
    p = plan(tree, model="gemini-9-ultra")
    assert p.warnings[0] == ("model gemini-9-ultra is not in the catalogue (it may be newer than this release) "
                             "(chosen by --model)")
    assert any("no price for model gemini-9-ultra" in w for w in p.warnings)
    assert p.estimate.unpriced == ["gemini-9-ultra"] and p.estimate.live_usd == 0
    with pytest.raises(CostLimitExceeded):
        plan(tree, model="gemini-9-ultra", max_cost=100)


def test_a_catalogue_model_without_a_price_is_unpriced_until_chargen_yaml_prices_it(tree):
    p = plan(tree, model="gemini-3.1-flash-lite-image")
    assert p.estimate.unpriced == ["gemini-3.1-flash-lite-image"] and not any("not in the catalogue" in w
                                                                              for w in p.warnings)
    write(tree, "chargen.yaml", "prices:\n  gemini-3.1-flash-lite-image: {input: 0.1, output: 40.0}\n")
    q = plan(tree, model="gemini-3.1-flash-lite-image")
    est = q.estimate
    # image_output defaults to output for a model the catalogue cannot price; 2 scenes of 1290 tokens
    assert est.unpriced == [] and est.live_usd == pytest.approx((est.input_tokens * 0.1 + 2 * 1290 * 40.0) / 1e6, abs=1e-6)


def test_chargen_yaml_overrides_one_catalogue_price_and_keeps_the_rest(tree):
    write(tree, "chargen.yaml", "prices:\n  gemini-3-pro-image: {image_output: 60.0, thinking_tokens: 0}\n")
    est = plan(tree).estimate
    assert est.live_usd == pytest.approx((est.input_tokens * 2.00 + 2 * 1120 * 60.0) / 1e6, abs=1e-6)
    assert plan(tree).config["prices"]["gemini-3-pro-image"]["source"] == "catalogue+chargen.yaml"


def test_bad_price_fields_name_file_and_line(tree):
    write(tree, "chargen.yaml", "prices:\n  gemini-3-pro-image:\n    imageoutput: 1\n    image_tokens: 1.5\n")
    with pytest.raises(ValidationFailed) as err:
        plan(tree)
    text = str(err.value)
    assert "chargen.yaml:3: prices.gemini-3-pro-image.imageoutput is not a price field; use input, output" in text
    assert "chargen.yaml:4: prices.gemini-3-pro-image.image_tokens must be a whole number of tokens" in text


def test_a_price_that_changed_after_its_recorded_day_is_a_warning(tree):
    write(tree, "characters/ada/images/a.png", b"\x89PNG a")
    assert not plan(tree, mode="analyze", model="gemini-3.8-flash").warnings
    later = plan(tree, mode="analyze", model="gemini-3.8-flash", today=date(2027, 1, 2))
    assert later.warnings == ["the catalogue's price for gemini-3.8-flash held until 2026-12-31; the estimate may "
                              "be off (set prices.gemini-3.8-flash in chargen.yaml)"]


def test_pricing_has_one_table_read_from_the_catalogue():
    table = pricing.price_table(None)
    routed_to_priced = {m.id for m in catalogue.MODELS.values() if m.answered_by in table}
    assert set(table) == {m.id for m in catalogue.MODELS.values() if m.priced} | routed_to_priced
    assert table["gemini-3.7-flash"].input == table["gemini-3.8-flash"].input  # answered (and billed) by 3.8
    assert table["gemini-3.6-flash"].output == catalogue.MODELS["gemini-3.6-flash"].output_usd
    assert pricing.BATCH_DISCOUNT == catalogue.BATCH_DISCOUNT == 0.5
