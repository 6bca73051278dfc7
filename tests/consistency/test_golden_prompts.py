"""Golden prompts of the sample tree, without and with analyses to keep consistent with.

Every prompt and key is one line of intent for every user: a change here changes what
they pay for. Regenerate on purpose with ``CHARGEN_UPDATE_GOLDEN=1 pytest
tests/consistency/test_golden_prompts.py`` and read the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chargen_es.planner import sample_tree
from tests.consistency.helpers import analysis, plan, put_analysis

GOLDEN = Path(__file__).resolve().parents[1] / "planner" / "golden"


def render(root: Path) -> str:
    out = []
    for t in plan(root).tasks:
        out.append(f"## {t.key} [{t.reason}]\n{t.prompt}\n")
    return "\n".join(out)


def analysed_sample(dest: Path) -> Path:
    """The sample tree with a fixed analysis of every consistency source, as the engine records it."""
    root = Path(shutil.copytree(sample_tree(), dest))
    for entry in plan(root).consistency:
        for source in entry["sources"]:
            entity = entry["entity"]
            image = source["image"].removeprefix(entity + "/")
            put_analysis(root, entity, image, analysis(Path(image).stem))
    return root


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CHARGEN_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_prompts_without_consistency(tmp_path: Path) -> None:
    root = Path(shutil.copytree(sample_tree(), tmp_path / "tree"))
    text = render(root)
    assert "Keep consistent with" not in text
    check("prompts-plain.txt", text)


def test_prompts_with_consistency(tmp_path: Path) -> None:
    text = render(analysed_sample(tmp_path / "tree"))
    # Ada names her picture, then her face (traits and palette, both sources in order)
    assert ("Keep consistent with: traits: ada-portrait trait one, ada-portrait trait two, ada-face trait one, "
            "ada-face trait two; palette: ada-portrait teal, ada-portrait amber, ada-face teal, ada-face amber."
            ) in text
    assert "Keep consistent with: traits: bram-armor trait one" in text
    assert "archetype" not in text.split("Keep consistent with:")[1].split("\n")[0]  # not a default field
    check("prompts-consistent.txt", text)


@pytest.mark.parametrize("analysed", [False, True])
def test_the_plan_is_the_same_twice(tmp_path: Path, analysed: bool) -> None:
    root = analysed_sample(tmp_path / "t") if analysed else Path(shutil.copytree(sample_tree(), tmp_path / "t"))
    assert plan(root).to_builtins() == plan(root).to_builtins()
