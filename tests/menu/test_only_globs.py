"""``run --only`` takes globs on slugs (what the menu's filtered set maps to)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargen_es.errors import UsageError
from chargen_es.planner import PlanOptions, build_plan, sample_tree
from tests.procs import run_child


def slugs(*only: str, scope: str = "all") -> list[str]:
    plan = build_plan(PlanOptions(root=sample_tree(), only=only, scope=scope, run_stamp="20300101T000000Z",
                                  force=True))
    return sorted({f"{t.entity_type}/{t.slug}" for t in plan.tasks})


def test_a_glob_selects_every_matching_slug() -> None:
    assert slugs("b*") == ["characters/bram"]
    assert slugs("*a*", scope="characters") == ["characters/ada", "characters/bram", "characters/cyra"]


def test_a_glob_on_type_and_slug() -> None:
    assert slugs("locations/*") == ["locations/harbor-town", "locations/sky-library"]
    assert slugs("ch*/ch0?-*") == ["chapters/ch01-arrival", "chapters/ch02-storm"]


def test_a_plain_slug_still_selects_itself() -> None:
    assert slugs("ada") == ["characters/ada"]
    assert slugs("ada", "dov") == ["characters/ada", "characters/dov"]


def test_a_pattern_matching_nothing_is_an_error_naming_it() -> None:
    with pytest.raises(UsageError) as caught:
        slugs("ada", "zz*", "q?")
    assert str(caught.value).startswith("--only zz*, q?: matches no entity in scope all")


def test_a_pattern_outside_the_scope_matches_nothing() -> None:
    with pytest.raises(UsageError, match=r"--only harbor-\*: matches no entity in scope characters"):
        slugs("harbor-*", scope="characters")


def test_the_cli_accepts_a_glob(tmp_path: Path) -> None:
    done = run_child(["run", "--root", str(sample_tree()), "--only", "c*",
                           "--dry-run", "--json"])
    assert done.returncode == 0, done.stderr
    assert '"characters/cyra/' in done.stdout and '"characters/ada/' not in done.stdout
    bad = run_child(["run", "--root", str(sample_tree()), "--only", "x*",
                          "--dry-run"])
    assert bad.returncode == 2 and "--only x*: matches no entity" in bad.stderr
