"""An automatic run id is drawn from the clock when ``run`` plans; another run may seal the
same id before this one claims its keys (two commands started in the same second). The
claim then draws the id again and plans again (output names carry the id's stamp): the
other run's journal is left as it was, and every scene is delivered once, by one run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es import run_folders as runs
from chargen_es.cli.common import note
from chargen_es.cli.execute import EXEC_DEFAULTS, ExecSettings, start_and_drive
from chargen_es.cli.run_cmd import plan_options
from chargen_es.emulator import Emulator
from chargen_es.engine import workspace
from chargen_es.journal import read_events
from chargen_es.planner import build_plan
from projections import workspace as wsp
from tests.engine.harness import API_KEY, chargen, copy_sample, quick_emulator

DRAWN = "2026-01-01T00-00-00Z"  # what `run` drew from the clock when it planned


@pytest.mark.parametrize("marks", [True, False], ids=["with-marks", "without-marks"])
def test_an_automatic_id_another_run_sealed_meanwhile_is_drawn_again(tmp_path: Path, marks: bool,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``run`` hands in the workspace's marks at planning (``seen``), which the other run's
    seal moves on; without them the redraw alone must plan again (the new id's stamp names
    the outputs, and the keys the other run delivered are done)."""
    root = copy_sample(tmp_path / "tree")
    monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
    index = workspace.load(root, write=True, note=note).index
    opts = plan_options(root, DRAWN, index)
    planned = build_plan(opts)  # every scene of the tree, under the drawn id's stamp
    with Emulator(quick_emulator()) as emu:
        # meanwhile another `run` takes the same id, and ada's scenes with it
        other = chargen(root, emu.base_url, "run", "--yes", "--run-id", DRAWN, "--only", "ada")
        assert other.returncode == 0, other.stderr
        theirs = (runs.runs_root(root) / DRAWN / "journal.jsonl").read_bytes()
        settings = ExecSettings(**{**EXEC_DEFAULTS, "use_emulator": False, "base_url": emu.base_url,
                                   "api_version": "v1beta", "emulator_job_seconds": 0.0, "poll_interval": 0.05})
        code = start_and_drive(root, planned, mode="generate", runner="batch", run_id=DRAWN, settings=settings,
                               replan=lambda held, rid: build_plan(replace(opts, held=dict(held),
                                                                           run_stamp=runs.run_stamp(rid))),
                               id_given=False, seen=wsp.marks(index) if marks else None)
    assert code == 0
    ids = runs.list_runs(root)
    assert len(ids) == 2 and DRAWN in ids, ids
    ours = next(i for i in ids if i != DRAWN)
    assert (runs.runs_root(root) / DRAWN / "journal.jsonl").read_bytes() == theirs  # left as it was
    lines = {run_id: [e for e in read_events(runs.runs_root(root) / run_id / "journal.jsonl")
                      if isinstance(e, ev.LineApplied)] for run_id in ids}
    applied = {run_id: [e.key for e in found] for run_id, found in lines.items()}
    for run_id, found in lines.items():  # every picture named with the stamp of the run that made it
        assert all(runs.run_stamp(run_id) in Path(o.path).name for e in found for o in e.outputs), run_id
        assert all(e.outputs for e in found)
    assert {k.split("/")[1] for k in applied[DRAWN]} == {"ada"}  # the other run's: ada's scenes
    assert "ada" not in {k.split("/")[1] for k in applied[ours]}
    assert sorted(applied[DRAWN] + applied[ours]) == sorted(t.key for t in planned.tasks)  # each once
    manifests = "".join(m.read_text() for m in root.glob("*/*/imagery.yaml"))
    for key in applied[ours]:  # recorded once, under our id's stamp
        assert manifests.count(f"task_key: {key}") == 1, key
