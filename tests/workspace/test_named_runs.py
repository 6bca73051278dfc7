"""Named batches: ``run --name`` (or a batch file's ``name:``) is journaled with the run and
shown by inspect, stats and the dashboard's rows; a name is checked like a run id."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.batchfile.helpers import BATCH, copy_batch
from tests.engine.harness import RUN_ID, chargen, copy_sample, run_args
from tests.procs import run_child


def test_a_named_run_is_shown_by_inspect_and_stats(tmp_path: Path) -> None:
    tree = copy_sample(tmp_path / "tree")
    batch = copy_batch(tmp_path / "batch")
    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        done = chargen(tree, emu.base_url, *run_args("--name", "harbor-art"))
        assert done.returncode == 0, done.stderr
        from_file = chargen(batch, emu.base_url, "run", "--batch-file", str(batch / BATCH), "--yes", "--run-id", RUN_ID)
        assert from_file.returncode == 0, from_file.stderr
    for root, name in ((tree, "harbor-art"), (batch, "harbor-postcards")):
        listed = run_child(["inspect", "--root", str(root)])
        assert re.search(rf"{RUN_ID} \({name}\)", listed.stdout), listed.stdout
        stats = json.loads(run_child(["stats", "--json", "--root", str(root)]).stdout)
        assert [r["name"] for r in stats["runs"]] == [name]
        assert stats["totals"]["name"] == ""
        journal = (root / ".chargen" / "batch" / RUN_ID / "journal.jsonl").read_text()
        assert f'"name":"{name}"' in journal or f'"batch_name":"{name}"' in journal


def test_a_name_is_one_safe_segment(tmp_path: Path) -> None:
    tree = copy_sample(tmp_path / "tree")
    for bad in ("../x", "a/b", ".hidden", ""):
        refused = run_child(["run", "--dry-run", "--name", bad, "--root", str(tree)])
        assert refused.returncode == 2 and "--name" in refused.stderr, (bad, refused.stderr)
