"""The golden plans of the shipped sample tree (generate and analyze).

A change here means every user's task keys or outputs change: regenerate on purpose with
``CHARGEN_UPDATE_GOLDEN=1 pytest tests/planner/test_golden.py`` and say why in the commit.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from chargen_es.planner import PlanOptions, build_plan, sample_tree
from tests.planner.helpers import STAMP, snapshot

GOLDEN = Path(__file__).parent / "golden"
TODAY = date(2026, 12, 7)  # the models' fate is judged on a fixed day


@pytest.mark.parametrize("mode", ["generate", "analyze"])
def test_sample_plan_matches_golden(mode):
    root = sample_tree()
    before = snapshot(root)
    plan = build_plan(PlanOptions(root=root, mode=mode, run_stamp=STAMP, today=TODAY))
    text = json.dumps(plan.to_builtins(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path = GOLDEN / f"sample-{mode}.json"
    if os.environ.get("CHARGEN_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    assert snapshot(root) == before


def test_sample_tree_has_what_the_demo_promises():
    root = sample_tree()
    plan = build_plan(PlanOptions(root=root, run_stamp=STAMP))
    slugs = {(t.entity_type, t.slug) for t in plan.tasks} | {(s.entity_type, s.slug) for s in plan.skipped}
    by_type = {k: sum(1 for t, _ in slugs if t == k) for k in ("characters", "locations", "chapters")}
    assert by_type["characters"] >= 4 and by_type["locations"] >= 2 and by_type["chapters"] >= 2
    assert all(t.references for t in plan.tasks)
    assert {s.reason for s in plan.skipped} == {"done"}
    analyze = build_plan(PlanOptions(root=root, mode="analyze", run_stamp=STAMP))
    assert len(analyze.tasks) >= 2
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 200_000


def test_same_plan_twice_is_identical():
    a = build_plan(PlanOptions(root=sample_tree(), run_stamp=STAMP))
    b = build_plan(PlanOptions(root=sample_tree(), run_stamp=STAMP))
    assert a.to_builtins() == b.to_builtins()
