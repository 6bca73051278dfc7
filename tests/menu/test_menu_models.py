"""The menu offers only the models the chosen backend lists (``models.list`` through the
real gateway; the embedded emulator in memory, nothing written)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from chargen_es.cli.menu import model_choices, visible_models

TODAY = date(2026, 12, 2)


def test_the_emulator_is_asked_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    seen = visible_models(use_emulator=True)
    assert seen is not None and "gemini-3-pro-image" in seen and "gemini-3.5-flash" in seen
    assert os.listdir(tmp_path) == []


def test_models_the_backend_does_not_list_are_not_offered() -> None:
    seen = visible_models(use_emulator=True)
    assert seen is not None
    offered = {value for _, value in model_choices("analyze", "gemini-3.5-flash", TODAY)}
    listed = {value for _, value in model_choices("analyze", "gemini-3.5-flash", TODAY, visible=seen)}
    assert listed == offered & seen | {"gemini-3.5-flash"} and listed < offered  # the catalogue knows more


def test_a_default_the_key_cannot_see_is_still_first_and_says_so() -> None:
    options = model_choices("generate", "gemini-3-pro-image", TODAY, visible={"gemini-3.1-flash-image"})
    assert options[0] == ("gemini-3-pro-image  (current default; not listed for this key)", "gemini-3-pro-image")
    assert [value for _, value in options[1:]] == ["gemini-3.1-flash-image"]
