"""Verdicts as events: pick / reject / clear land in the review journal and in imagery.yaml.

A real run on the embedded emulator makes the images (three takes of ada/map-room), then
real ``chargen-es`` children judge them; crash tests SIGKILL a child at each boundary of
the review write and repeat the decision.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.journal import read_events
from tests.engine.harness import _env
from tests.procs import run_child
from tests.shared import read_yaml

NOTE = "too dark; the map should be readable"


def cli(root: Path, *args: str, cwd: Path | None = None, crash_at: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    return run_child([*args, "--root", str(root)], env=_env(crash_at), cwd=cwd)


def takes(root: Path, scene: str) -> list[str]:
    return sorted(f"characters/ada/images/{p.name}" for p in (root / "characters/ada/images").glob(f"{scene}-*"))


def entries(root: Path) -> dict[str, dict]:
    doc = read_yaml((root / "characters/ada/imagery.yaml").read_text())
    return {f"characters/ada/{e['file_path']}": e for e in doc["generated_images"]}


def verdicts(root: Path) -> list[ev.Event]:
    return read_events(root / ".chargen/review/journal.jsonl")


def test_rejecting_all_takes_and_picking_another_scene_land_in_journal_and_imagery(tree: Path) -> None:
    rejected = takes(tree, "map-room")
    assert len(rejected) == 3
    for path in rejected:
        done = cli(tree, "reject", path, "--note", NOTE, cwd=tree)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"rejected {path}"
    (picked,) = takes(tree, "rooftop-survey")
    assert cli(tree, "pick", str(tree / picked)).returncode == 0
    events = verdicts(tree)
    assert [type(e) for e in events] == [ev.ImageRejected] * 3 + [ev.ImagePicked]
    shown = entries(tree)
    assert [(e.path, getattr(e, "note", "")) for e in events] == [(p, NOTE) for p in rejected] + [(picked, "")]
    assert [e.key for e in events] == [shown[p]["task_key"] for p in (*rejected, picked)]
    assert [e.sha256 for e in events] == [shown[p]["sha256"] for p in (*rejected, picked)]
    for path in rejected:
        assert (shown[path]["review"], shown[path]["review_note"]) == ("rejected", NOTE)
    assert shown[picked]["review"] == "picked" and "review_note" not in shown[picked]
    assert (tree / "characters/ada/imagery.yaml").read_text().startswith("# my notes on ada's pictures\n")
    check = cli(tree, "replay", "--review", "--check")
    assert check.returncode == 0, check.stderr


def test_a_verdict_given_again_appends_nothing_and_clear_withdraws_it(tree: Path) -> None:
    (path,) = takes(tree, "rooftop-survey")
    key = entries(tree)[path]["task_key"]
    assert cli(tree, "pick", key).returncode == 0, "a task key names the image too"
    again = cli(tree, "pick", path, cwd=tree)
    assert again.returncode == 0 and "nothing recorded" in again.stdout
    assert len(verdicts(tree)) == 1
    assert cli(tree, "clear", path, cwd=tree).returncode == 0
    assert [type(e) for e in verdicts(tree)] == [ev.ImagePicked, ev.ImageCleared]
    assert "review" not in entries(tree)[path]
    assert cli(tree, "replay", "--review", "--check").returncode == 0


def test_an_image_chargen_es_did_not_make_is_refused_in_one_line(tree: Path) -> None:
    done = cli(tree, "pick", "characters/ada/images/ada-portrait.png")
    assert done.returncode == 2
    assert "no imagery.yaml" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    (path,) = takes(tree, "rooftop-survey")
    (tree / path).write_bytes(b"painted over")
    changed = cli(tree, "reject", path, "--note", "x")
    assert changed.returncode == 2 and "differs from the SHA-256" in changed.stderr
    assert not (tree / ".chargen/review/journal.jsonl").exists()


def test_check_names_an_imagery_entry_that_disagrees_and_replay_fixes_it(tree: Path) -> None:
    (path,) = takes(tree, "rooftop-survey")
    assert cli(tree, "reject", path, "--note", "no").returncode == 0
    imagery = tree / "characters/ada/imagery.yaml"
    imagery.write_text(imagery.read_text().replace("review: rejected", "review: picked"))
    check = cli(tree, "replay", "--review", "--check")
    assert check.returncode == 1 and f"{path}: imagery.yaml shows review picked" in check.stderr
    assert cli(tree, "replay", "--review").returncode == 0
    assert entries(tree)[path]["review"] == "rejected"
    assert cli(tree, "replay", "--review", "--check").returncode == 0


@pytest.mark.parametrize("point", ["before:review.append", "after:review.append", "during:imagery.write",
                                   "after:review.imagery", "during:review.json"])
def test_a_kill_at_the_review_write_loses_and_duplicates_nothing(tree: Path, point: str) -> None:
    (path,) = takes(tree, "rooftop-survey")
    crashed = cli(tree, "reject", path, "--note", NOTE, crash_at=point)
    assert crashed.returncode == -signal.SIGKILL, f"{point} was never reached: {crashed.stderr}"
    again = cli(tree, "reject", path, "--note", NOTE)
    assert again.returncode == 0, again.stderr
    events = verdicts(tree)
    assert [(type(e), e.path, getattr(e, "note", "")) for e in events] == [(ev.ImageRejected, path, NOTE)]
    assert (entries(tree)[path]["review"], entries(tree)[path]["review_note"]) == ("rejected", NOTE)
    assert cli(tree, "replay", "--review", "--check").returncode == 0
    assert not list(tree.rglob("*.chargen-*.tmp"))


def test_a_kill_after_the_append_is_caught_up_by_the_next_writer(tree: Path) -> None:
    """The journal is the truth: a verdict durable before the kill shows up in imagery.yaml
    with the next decision, even on another image."""
    (first,) = takes(tree, "rooftop-survey")
    second = takes(tree, "map-room")[0]
    crashed = cli(tree, "pick", first, crash_at="after:review.append")
    assert crashed.returncode == -signal.SIGKILL
    stale = cli(tree, "replay", "--review", "--check")
    assert stale.returncode == 1 and f"{first}: imagery.yaml shows review none" in stale.stderr
    assert cli(tree, "reject", second).returncode == 0
    assert entries(tree)[first]["review"] == "picked" and entries(tree)[second]["review"] == "rejected"
    assert [type(e) for e in verdicts(tree)] == [ev.ImagePicked, ev.ImageRejected]
    assert cli(tree, "replay", "--review", "--check").returncode == 0
