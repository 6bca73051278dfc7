"""A billing refusal (prepaid credit used up, a spend cap) pauses the run, resumably, in both runners."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine.harness import RUN_ID, chargen, copy_sample, run_args


@pytest.mark.parametrize(("runner", "preset", "op"), [
    ("batch", "prepay_depleted", "batches.create"),
    ("live", "spend_cap", "models.generateContent"),
])
def test_billing_pauses_names_billing_and_resume_finishes(runner: str, preset: str, op: str, tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    faults = [{"kind": "preset", "preset": preset, "op": op, "count": 1}]
    with Emulator(EmulatorConfig(job_seconds=0.05, faults=faults)) as emu:
        first = chargen(root, emu.base_url, *run_args("--runner", runner, "--workers", "1"))
        assert first.returncode == 1, first.stdout + first.stderr
        assert "billing" in first.stderr and f"chargen-es resume {RUN_ID}" in first.stderr
        events = read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")
        paused = [e for e in events if isinstance(e, ev.RunPaused)]
        assert [p.reason for p in paused] == ["billing"]
        assert not any(isinstance(e, ev.RunFailed | ev.ItemFailed) for e in events)
        if runner == "live":  # tried once, never retried into the refusal
            assert [e.kind for e in events if isinstance(e, ev.CallFailed)] == ["billing"]
        second = chargen(root, emu.base_url, "resume", RUN_ID)
        assert second.returncode == 0, second.stdout + second.stderr
    done = read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")
    assert sum(isinstance(e, ev.LineApplied) for e in done) == 17
