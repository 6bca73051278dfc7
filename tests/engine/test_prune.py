"""``chargen-es prune``: finished runs give back their disk, and keep everything read later.

A closed run keeps its journal and projections (``replay --check``, ``inspect`` and
``stats`` answer the same before and after); its results files, request files and
``failed/`` details go. A run that is not finished is never touched. A SIGKILL in the
middle of a prune loses nothing, and the next prune finishes the job.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine.harness import RUN_ID, chargen, copy_sample, run_args
from tests.procs import run_child
from tests.shared import sweep

SAFETY = [{"kind": "line", "line_kind": "safety", "key_contains": "map-room"}]  # one failed item: a failed/ detail
KEPT = ("journal.jsonl", "state.json", "report.json", "plan.json", "files-cache.json")


def finished_run(tmp_path: Path, *extra: str) -> Path:
    """A completed run that kept its results (``--keep-results``) and has a failed/ detail."""
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.0, seed=7, faults=SAFETY)) as emu:
        done = chargen(root, emu.base_url, *run_args("--keep-results", *extra))
        assert done.returncode in (0, 3), done.stdout + done.stderr
    return root


def run_dir(root: Path) -> Path:
    return root / ".chargen" / "batch" / RUN_ID


def leftovers(root: Path) -> list[str]:
    folder = run_dir(root)
    return sorted(p.relative_to(folder).as_posix() for pattern in ("results-*", "requests-*", "failed/*")
                  for p in folder.glob(pattern))


def kept(root: Path) -> dict[str, bytes]:
    return {name: (run_dir(root) / name).read_bytes() for name in KEPT}


def cli(root: Path, *args: str) -> str:
    done = run_child([*args, "--root", str(root)])
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def readers(root: Path) -> tuple[str, str, str]:
    """What the offline commands answer about the run."""
    cli(root, "replay", RUN_ID, "--check")
    stats = json.loads(cli(root, "stats", "--json"))
    return cli(root, "inspect", RUN_ID), cli(root, "inspect", RUN_ID, "--events"), json.dumps(stats, sort_keys=True)


def test_prune_removes_what_a_finished_run_no_longer_needs(tmp_path: Path) -> None:
    root = finished_run(tmp_path)
    before_files, before_readers = kept(root), readers(root)
    found = leftovers(root)
    assert any(n.startswith("results-") for n in found) and any(n.startswith("requests-") for n in found)
    assert any(n.startswith("failed/") for n in found)

    listed = cli(root, "prune", "--dry-run")
    assert "would remove" in listed and leftovers(root) == found, "a dry run removes nothing"
    assert "nothing to prune" in cli(root, "prune", "--older-than", "30d")
    assert leftovers(root) == found

    out = cli(root, "prune")
    assert "freed" in out
    assert leftovers(root) == [] and not (run_dir(root) / "failed").exists()
    assert kept(root) == before_files
    assert readers(root) == before_readers
    assert "nothing to prune" in cli(root, "prune")


def test_an_unfinished_run_is_not_pruned(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=3600.0)) as emu:
        done = chargen(root, emu.base_url, *run_args("--detach"))
        assert done.returncode == 0, done.stdout + done.stderr
    found = leftovers(root)
    assert found, "a detached run has its request files"
    assert "nothing to prune" in cli(root, "prune")
    assert leftovers(root) == found


# the sample's run leaves 7 files (failed/ first in path order): #7 is a kill after the last
# one, with failed/ empty and still there
@pytest.mark.parametrize("point", sweep(["before:prune.remove", "after:prune.remove", "after:prune.remove#3",
                                         "before:prune.remove#5", "after:prune.remove#7"]))
def test_a_kill_during_prune_loses_nothing(tmp_path: Path, point: str) -> None:
    root = finished_run(tmp_path)
    before_files, before_readers = kept(root), readers(root)
    found = leftovers(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    killed = run_child(["prune", "--root", str(root)], env={**env, "CHARGEN_ES_CRASH_AT": point})
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert kept(root) == before_files
    assert readers(root) == before_readers
    assert set(leftovers(root)) <= set(found)
    cli(root, "prune")
    assert leftovers(root) == [] and not (run_dir(root) / "failed").exists()
    assert kept(root) == before_files and readers(root) == before_readers
