"""A user's newer catalogue laid over the packaged one, and chargen.yaml's prices over both.

The file is read once when chargen-es starts, so the end-to-end checks run a fresh
interpreter (the suite's zygote children share the parent's import).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from chargen_es import catalogue
from chargen_es.planner import sample_tree

REPO = Path(__file__).resolve().parents[2]


def write_json(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_the_override_file_lives_in_the_config_folder():
    assert catalogue.override_path({"HOME": "/home/u"}) == Path("/home/u/.config/chargen-es/catalogue.json")
    assert catalogue.override_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path("/x/chargen-es/catalogue.json")
    assert catalogue.override_path({"CHARGEN_ES_CATALOGUE": "/c.json", "XDG_CONFIG_HOME": "/x"}) == Path("/c.json")


def test_models_merge_field_by_field_and_new_ones_are_added(tmp_path):
    user = write_json(tmp_path / "cat.json", {
        "read_on": "2027-01-15",
        "defaults": {"analyze": "gemini-3.6-flash"},
        "models": [
            {"id": "gemini-3.8-flash", "input_usd": 1.5, "output_usd": 7.5,
             "sources": {"prices": "pricing page, read 2027-01-15"}},
            {"id": "gemini-9-flash", "purpose": "text", "status": "ga", "input_usd": 0.1, "output_usd": 0.2},
        ],
    })
    cat, used, problem = catalogue.load(override=user)
    assert (used, problem) == (str(user), None)
    models = {m.id: m for m in cat.models}
    assert cat.read_on == date(2027, 1, 15)
    assert cat.defaults.analyze == "gemini-3.6-flash" and cat.defaults.generate == catalogue.DEFAULT_GENERATE_MODEL
    assert (models["gemini-3.8-flash"].input_usd, models["gemini-3.8-flash"].released) == (1.5, date(2026, 9, 2))
    assert models["gemini-9-flash"].output_usd == 0.2
    assert len(models) == len(catalogue.MODELS) + 1
    # an older file does not make the catalogue look younger than the packaged facts
    old = write_json(tmp_path / "old.json", {"read_on": "2026-01-01", "models": []})
    assert catalogue.load(override=old)[0].read_on == catalogue.READ_ON


def test_a_broken_override_is_named_not_ignored(tmp_path):
    bad = tmp_path / "cat.json"
    bad.write_text('{"models": [{"id": "x", "status": "gone"}]}', encoding="utf-8")
    cat, used, problem = catalogue.load(override=bad)
    assert used == str(bad) and problem is not None and problem.startswith(f"{bad}: not a catalogue (")
    assert cat.read_on == catalogue.READ_ON  # the packaged catalogue, untouched


def _dry_run(root: Path, env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "chargen_es", "run", "--dry-run", "--json", "--root", str(root),
                           *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_a_new_model_is_priced_from_the_users_file_and_chargen_yaml_wins_over_it(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(sample_tree(), root)
    config = tmp_path / "config"
    write_json(config / "chargen-es" / "catalogue.json", {"read_on": "2027-01-15", "models": [
        {"id": "gemini-9-image", "purpose": "image", "status": "ga", "input_usd": 1.0, "output_usd": 2.0,
         "image_output_usd": 40.0, "image_sizes": {"1K": 1000}, "sources": {"status": "changelog, read 2027-01-15"}},
    ]})
    env = {"XDG_CONFIG_HOME": str(config), "CHARGEN_ES_CATALOGUE": ""}
    out = _dry_run(root, env, "--model", "gemini-9-image")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["warnings"] == []  # known now: not "not in the catalogue"
    assert doc["config"]["prices"]["gemini-9-image"]["image_output"] == 40.0
    assert doc["summary"]["model"]["catalogue_read"] == "2027-01-15"
    text = (root / "chargen.yaml").read_text(encoding="utf-8")
    (root / "chargen.yaml").write_text(text + "\nprices:\n  gemini-9-image: {image_output: 50}\n", encoding="utf-8")
    doc = json.loads(_dry_run(root, env, "--model", "gemini-9-image").stdout)
    price = doc["config"]["prices"]["gemini-9-image"]
    assert (price["image_output"], price["input"], price["source"]) == (50.0, 1.0, "catalogue+chargen.yaml")
    # a broken file stops planning with its name rather than planning with facts it could not read
    (config / "chargen-es" / "catalogue.json").write_text("{", encoding="utf-8")
    out = _dry_run(root, env)
    assert out.returncode == 2 and "catalogue.json: not a catalogue" in out.stderr
