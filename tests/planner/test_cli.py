"""``chargen-es run --dry-run`` through click's CliRunner: text, --json, nothing written."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from chargen_es.cli import cli
from chargen_es.cli.common import run_cli
from chargen_es.planner import sample_tree
from tests.planner.helpers import entity, snapshot


def copy_sample(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(sample_tree(), root)
    return root


def test_dry_run_text(tmp_path):
    root = copy_sample(tmp_path)
    before = snapshot(root)
    result = CliRunner().invoke(cli, ["run", "--dry-run", "--root", str(root)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Plan: 17 task(s) to generate")
    assert "- characters/ada  map-room (The map room)  [new]" in out
    assert "    output: characters/ada/images/map-room-" in out
    assert "    key:    character/ada/map-room@sha256:" in out
    assert "- characters/bram  tavern-story  [done]" in out
    assert "  tasks:    17 (characters 9, locations 4, chapters 4); new 17" in out
    assert "  skipped:  2 (done 2)" in out
    assert "  chunks:   1 of up to 500 task(s)" in out
    assert "with the Batch API" in out and "saving $" in out
    assert snapshot(root) == before
    assert not (root / ".chargen").exists()


def test_dry_run_json(tmp_path):
    root = copy_sample(tmp_path)
    before = snapshot(root)
    result = CliRunner().invoke(cli, ["run", "--dry-run", "--json", "--root", str(root), "--chunk-size", "5",
                                      "--scope", "characters"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["summary"]["tasks"] == 9 and doc["summary"]["chunks"] == 2
    assert doc["summary"]["tasks_by_entity_type"] == {"characters": 9}
    assert doc["summary"]["skipped_by_reason"] == {"done": 1}
    assert [t["chunk"] for t in doc["tasks"]] == [0] * 5 + [1] * 4
    assert doc["estimate"]["saving_usd"] > 0
    assert doc["config"]["scope"] == "characters"
    assert snapshot(root) == before


def test_dry_run_analyze_only(tmp_path):
    root = copy_sample(tmp_path)
    result = CliRunner().invoke(cli, ["run", "--dry-run", "--root", str(root), "--mode", "analyze", "--only", "ada",
                                      "--model", "gemini-3.8-flash"])
    assert result.exit_code == 0, result.output
    # her image, and her second consistency source (a reference) beside itself
    assert "Plan: 2 task(s) to analyze" in result.output
    assert "output: characters/ada/images/ada-portrait.png.analysis.json" in result.output
    assert "output: characters/ada/refs/ada-face.png.analysis.json" in result.output
    assert "gemini-3.8-flash: 2 task(s)" in result.output


def test_broken_tree_exits_1_listing_every_problem(tmp_path, capsys):
    entity(tmp_path, "characters", "ada", "scenes:\n  - id: a\n    prompt: p\n  - id: a\n    prompt: q\n")
    entity(tmp_path, "characters", "bram", refs=(), body="name: Bram\n")
    entity(tmp_path, "characters", "cyra")
    code = run_cli(cli, ["run", "--dry-run", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert 'characters/ada/image_ideas.yaml:4: scene id "a" used twice' in err
    assert "characters/bram/character.yaml:1: character is missing required field 'description'" in err
    code = run_cli(cli, ["run", "--dry-run", "--skip-invalid", "--root", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0 and "Plan: 2 task(s)" in out and "(skipped characters/bram)" in out


def test_max_cost_refuses(tmp_path, capsys):
    root = copy_sample(tmp_path)
    code = run_cli(cli, ["run", "--dry-run", "--root", str(root), "--max-cost", "0.01"])
    assert code == 1
    assert "above --max-cost" in capsys.readouterr().err


def test_max_cost_is_checked_against_the_live_price_for_the_live_runner(tmp_path, capsys):
    root = copy_sample(tmp_path)
    batch_ok = run_cli(cli, ["run", "--dry-run", "--root", str(root), "--max-cost", "2.0"])
    capsys.readouterr()
    live = run_cli(cli, ["run", "--dry-run", "--root", str(root), "--max-cost", "2.0", "--runner", "live"])
    assert batch_ok == 0 and live == 1  # the sample costs about $1.15 in batch, $2.31 live
    assert "(live), above --max-cost" in capsys.readouterr().err


def test_unknown_only_is_a_usage_error(tmp_path, capsys):
    root = copy_sample(tmp_path)
    code = run_cli(cli, ["run", "--dry-run", "--root", str(root), "--only", "nobody"])
    assert code == 2 and "--only nobody" in capsys.readouterr().err


def test_dry_run_names_the_model_that_answers_a_retired_one(tmp_path):
    """The issue's check: gemini-3.5-flash was retired on 2026-10-08 and gemini-3.6-flash answers."""
    root = copy_sample(tmp_path)
    result = CliRunner().invoke(cli, ["run", "--model", "gemini-3.5-flash", "--mode", "analyze", "--dry-run",
                                      "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "model:    gemini-3.5-flash (retired routed, answered by gemini-3.6-flash" in result.output
    assert "Google answers its requests with gemini-3.6-flash, at gemini-3.6-flash's price" in result.output
    result = CliRunner().invoke(cli, ["run", "--model", "gemini-3.5-flash", "--mode", "analyze", "--dry-run",
                                      "--json", "--root", str(root)])
    doc = json.loads(result.output)
    assert doc["summary"]["model"]["answered_by"] == "gemini-3.6-flash"
    assert doc["config"]["prices"]["gemini-3.5-flash"]["output"] == 7.5
