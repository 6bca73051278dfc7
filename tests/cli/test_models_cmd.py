"""``chargen-es models``: what the key can use next to the catalogue, text and --json."""

from __future__ import annotations

import json
from datetime import date

from chargen_es import catalogue
from chargen_es.cli import cli
from chargen_es.cli.common import run_cli
from chargen_es.cli.models_cmd import models_document, render_models
from chargen_es.gateway import RemoteModel


def test_document_joins_the_listing_with_the_catalogue():
    remote = [
        RemoteModel(name="models/gemini-3-pro-image", supported_methods=("generateContent", "batchGenerateContent")),
        RemoteModel(name="models/gemini-3.5-flash", supported_methods=("generateContent",)),
        RemoteModel(name="models/gemini-9-ultra", supported_methods=("generateContent", "batchGenerateContent")),
        RemoteModel(name="models/gemini-2.5-pro", supported_methods=("generateContent", "batchGenerateContent")),
    ]
    doc = models_document(remote, date(2026, 12, 7))
    rows = {r["id"]: r for r in doc["models"]}
    assert doc["visible"] == 4 and doc["not_visible"] == len(catalogue.MODELS) - 3
    assert rows["gemini-3-pro-image"]["batch"] is True and rows["gemini-3.5-flash"]["batch"] is False
    assert rows["gemini-3-pro-image"]["catalogue"]["prices"]["batch"]["image_output"] == 60.0
    assert rows["gemini-9-ultra"]["catalogue"] is None
    hidden = rows["gemini-3-pro-image-preview"]
    assert hidden["visible"] is False and hidden["catalogue"]["status"] == "shut_down"
    assert hidden["catalogue"]["replacement"] == "gemini-3-pro-image"
    text = render_models(doc)
    assert text[0] == "Models this key can use: 4"
    # still listed by the service, but past the catalogue's shutdown date: shown as shut down
    assert rows["gemini-2.5-pro"]["catalogue"]["answered_by"] == "gemini-3.8-flash"
    assert any(line.startswith("  gemini-2.5-pro  [batch]  retired routed, answered by gemini-3.8-flash, "
                               "use gemini-3.8-flash") for line in text)
    assert ("  gemini-3-pro-image  [batch]  ga; $2 in / $12 out / $120 image per 1M live (batch 50 %); per image "
            "1K $0.1344, 2K $0.1344, 4K $0.24") in text
    nb = rows["gemini-nano-banana-2.1"]["catalogue"]["prices"]["per_image"]
    assert nb == {"live": {"1K": 0.0336, "2K": 0.0504, "4K": 0.0756}, "batch": {"1K": 0.0168, "2K": 0.0252, "4K": 0.0378}}
    assert ("  gemini-3.5-flash  [no batch]  retired routed, answered by gemini-3.6-flash, use gemini-3.6-flash; "
            "$1.5 in / $9 out per 1M live (batch 50 %)") in text
    assert "  gemini-9-ultra  [batch]  not in the catalogue" in text
    assert ("  gemini-2.5-flash-image  [not visible to this key]  shut down, shutdown 2026-10-02, "
            "use gemini-nano-banana-2.1; $0.3 in / $2.5 out / $30 image per 1M live (batch 50 %); per image "
            "1K $0.0387") in text
    assert "  gemini-4-argon  [not visible to this key]  ga; price unknown" in text


def test_models_against_the_emulator_through_the_sdk(tmp_path, capsys):
    code = run_cli(cli, ["models", "--emulator", "--root", str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    visible = [r for r in doc["models"] if r["visible"]]
    assert visible and doc["visible"] == len(visible)
    for row in visible:
        assert row["batch"] == ("batchGenerateContent" in row["methods"])
    ids = {r["id"] for r in visible}
    assert {catalogue.DEFAULT_GENERATE_MODEL, catalogue.DEFAULT_ANALYZE_MODEL} <= ids
    assert "gemini-3-pro-image-preview" not in ids  # shut down: the emulator, like Google, does not list it
    code = run_cli(cli, ["models", "--emulator", "--root", str(tmp_path)])
    out, _ = capsys.readouterr()
    assert code == 0 and out.startswith(f"Models this key can use: {len(visible)}\n")


def test_models_and_doctor_give_the_catalogues_age_and_its_disagreements_with_the_live_list(tmp_path, capsys):
    """Google changes tomorrow: a model the catalogue does not know, one it lists as shut down,
    a field the Model resource never carried, and catalogue models the key cannot see."""
    from chargen_es.emulator import Emulator, EmulatorConfig
    from chargen_es.emulator.catalog import DEFAULT_MODELS
    from tests.engine.harness import API_KEY
    from tests.procs import run_child

    models = [*DEFAULT_MODELS,
              {"id": "gemini-9-flash", "display_name": "Gemini 9 Flash"},
              {"id": "gemini-3-pro-image-preview", "display_name": "back from the dead",
               "extra": {"modelStage": "DEPRECATED", "retirementTime": "2027-01-01T00:00:00Z"}}]
    with Emulator(EmulatorConfig(models=models, shut_down=[])) as emu:
        out = run_child(["models", "--json", "--base-url", emu.base_url, "--root", str(tmp_path)],
                        env={"GEMINI_API_KEY": API_KEY, "NO_PROXY": "127.0.0.1"}, timeout=60)
        doc = json.loads(out.stdout)
        text = run_child(["models", "--base-url", emu.base_url, "--root", str(tmp_path)],
                         env={"GEMINI_API_KEY": API_KEY, "NO_PROXY": "127.0.0.1"}, timeout=60).stdout
        doctor = run_child(["doctor", "--base-url", emu.base_url, "--root", str(tmp_path)],
                           env={"GEMINI_API_KEY": API_KEY, "NO_PROXY": "127.0.0.1"}, timeout=60).stdout
    state = doc["catalogue"]
    assert state["read_on"] == catalogue.READ_ON.isoformat() and state["age_days"] >= 0
    kinds = {(d["model"], d["kind"]) for d in state["disagreements"]}
    assert ("gemini-9-flash", "unknown") in kinds
    assert ("gemini-3-pro-image-preview", "listed_after_shutdown") in kinds
    assert ("gemini-3-pro-image-preview", "extra_fields") in kinds
    assert ("gemini-4-argon", "not_visible") in kinds  # the emulator does not serve it
    assert ("gemini-3-pro-image", "not_visible") not in kinds
    extra = next(d["text"] for d in state["disagreements"] if d["kind"] == "extra_fields")
    assert 'modelStage="DEPRECATED"' in extra and "retirementTime" in extra
    assert f"(catalogue read {catalogue.READ_ON.isoformat()} (" in text
    assert f"Disagreements between the catalogue and this key's models: {len(kinds)}" in text
    assert "  gemini-9-flash: listed by this key, not in the catalogue" in text
    assert f"catalogue: ok (catalogue read {catalogue.READ_ON.isoformat()}" in doctor
    assert f"{len(kinds)} disagreement(s) with this key's models" in doctor
    assert "catalogue drift: ok (gemini-9-flash: listed by this key, not in the catalogue" in doctor


def test_compare_is_pure_and_quiet_when_they_agree():
    today = catalogue.READ_ON
    everything = {m.id: (("generateContent", "batchGenerateContent"), ()) for m in catalogue.MODELS.values()
                  if m.usable_on(today)}
    assert catalogue.compare(everything, today) == []
    no_batch = {**everything, "gemini-3.8-flash": (("generateContent",), ())}
    assert [d.kind for d in catalogue.compare(no_batch, today)] == ["no_batch"]
