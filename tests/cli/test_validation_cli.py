"""Validation from the command line: unknown keys as warnings or errors (``--strict``), and
``status --skip-invalid`` leaving out a broken entity as ``run --skip-invalid`` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargen_es.cli import cli
from chargen_es.cli.common import run_cli
from tests.engine.harness import copy_sample


def chargen(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(cli, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_unread_key_warns_in_the_plan_and_is_refused_under_strict(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_sample(tmp_path / "tree")
    ideas = root / "characters" / "ada" / "image_ideas.yaml"
    ideas.write_text("notes: for the art team\n" + ideas.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = chargen(capsys, "run", "--root", str(root), "--dry-run")
    assert code == 0 and "characters/ada/image_ideas.yaml:1: unknown key `notes` is ignored" in out
    code, _, err = chargen(capsys, "run", "--root", str(root), "--dry-run", "--strict")
    assert code == 1 and "characters/ada/image_ideas.yaml:1: unknown key `notes`" in err
    code, out, err = chargen(capsys, "status", "--root", str(root))
    assert code == 0 and "unknown key `notes`" in err


def test_status_skip_invalid_leaves_out_only_the_broken_entity(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_sample(tmp_path / "tree")
    (root / "characters" / "bram" / "character.yaml").write_text("name: Bram\n", encoding="utf-8")
    code, _, err = chargen(capsys, "status", "--root", str(root))
    assert code == 1 and "characters/bram/character.yaml:1" in err
    code, out, err = chargen(capsys, "status", "--root", str(root), "--json", "--skip-invalid",
                             "--export", str(tmp_path / "todo.json"))
    assert code == 0, err
    doc = json.loads(out)
    entities = {r["entity"] for r in doc["scenes"]}
    assert "characters/bram" not in entities and "characters/ada" in entities
    assert any("(skipped characters/bram)" in w for w in doc["warnings"])
    todo = json.loads((tmp_path / "todo.json").read_text(encoding="utf-8"))
    assert todo["generate"]["command"].endswith("--skip-invalid")
    code, out, _ = chargen(capsys, "run", "--root", str(root), "--dry-run", "--json", "--skip-invalid")
    assert sorted(t["key"] for t in json.loads(out)["tasks"]) == sorted(t["key"] for t in todo["generate"]["tasks"])



def test_resume_with_nothing_unfinished_is_done_not_an_error(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_sample(tmp_path / "tree")
    code, out, err = chargen(capsys, "resume", "--root", str(root), "--emulator")
    assert (code, err) == (0, "") and out.startswith("nothing to resume: no unfinished run under ")
