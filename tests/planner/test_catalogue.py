"""The model catalogue, its defaults, and how the planner judges a model offline.

The day is always passed in: a model's fate never depends on when the suite runs.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from chargen_es import catalogue
from chargen_es.cli.plan_view import plan_document, render_plan
from chargen_es.errors import ContentError, CostLimitExceeded, UsageError, ValidationFailed
from chargen_es.planner import PlanOptions, build_plan, pricing
from tests.planner.helpers import STAMP, entity, write

TODAY = date(2026, 12, 2)


def plan(root, **kw):
    kw.setdefault("today", TODAY)
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))


@pytest.fixture
def tree(tmp_path):
    entity(tmp_path, "characters", "ada")
    return tmp_path


def test_every_entry_is_sourced_and_consistent():
    for model in catalogue.MODELS.values():
        assert "read 2026-12-02" in model.source and "https://" in model.source, model.id
        if model.replacement:
            assert model.replacement in catalogue.MODELS, (model.id, model.replacement)
            assert catalogue.MODELS[model.replacement].usable_on(TODAY), model.id
        if model.status == "shut_down" or model.status == "deprecated":
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
    # gemini-2.5-flash: deprecated, usable until its shutdown day, refused from it on
    assert catalogue.fate("gemini-2.5-flash", date(2026, 11, 30)).verdict == "deprecated"
    assert catalogue.fate("gemini-2.5-flash", date(2026, 12, 1)).verdict == "shut_down"
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
                              "2026-10-02; use gemini-3.1-flash-image")


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
    assert plan(tree, mode="analyze", model="gemini-2.5-flash", today=date(2026, 11, 30)) is not None
    with pytest.raises(UsageError, match="was shut down on 2026-12-01; use gemini-3.5-flash-lite"):
        plan(tree, mode="analyze", model="gemini-2.5-flash", today=date(2026, 12, 1))


def test_a_deprecated_model_is_a_warning_with_its_shutdown_date_in_text_and_json(tree):
    write(tree, "chargen.yaml", "models:\n  analyze: gemini-2.5-flash\n")
    write(tree, "characters/ada/images/a.png", b"\x89PNG a")
    p = plan(tree, mode="analyze", today=date(2026, 11, 1))
    expected = ("model gemini-2.5-flash shuts down on 2026-12-01; its replacement is gemini-3.5-flash-lite "
                "(chosen by chargen.yaml:2)")
    assert p.warnings == [expected]
    lines: list[str] = []
    render_plan(p, lines.append)
    assert f"  {expected}" in lines
    assert "  model:    gemini-2.5-flash (deprecated, shuts down 2026-12-01, replacement gemini-3.5-flash-lite)" in lines
    doc = json.loads(json.dumps(plan_document(p)))
    assert doc["warnings"] == [expected]
    assert doc["summary"]["model"] == {"id": "gemini-2.5-flash", "status": "deprecated", "shutdown": "2026-12-01",
                                       "replacement": "gemini-3.5-flash-lite"}


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
    assert set(table) == {m.id for m in catalogue.MODELS.values() if m.priced}
    assert table["gemini-3.5-flash"].input == catalogue.MODELS["gemini-3.5-flash"].input_usd
    assert pricing.BATCH_DISCOUNT == catalogue.BATCH_DISCOUNT == 0.5
