"""A retired model Google answers with another one: the answering model (``modelVersion``) is
recorded per result (journal, report.json, inspect, imagery.yaml), the run says so once,
and those items are priced at the answering model's price.

The emulator answers gemini-3.5-flash with ``modelVersion: gemini-3.6-flash``, as Google
has since 2026-10-08 (changelog of that day, read 2026-12-07).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine.harness import RUN_ID, chargen, copy_sample, run_args
from tests.procs import run_child
from tests.shared import read_yaml


def _applied(run_dir: Path) -> list[ev.LineApplied]:
    return [e for e in read_events(run_dir / "journal.jsonl") if isinstance(e, ev.LineApplied)]


def test_a_routed_model_records_and_prices_the_model_that_answered(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig()) as emu:
        done = chargen(root, emu.base_url, *run_args("--mode", "analyze", "--model", "gemini-3.5-flash"))
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = root / ".chargen" / "batch" / RUN_ID
    applied = _applied(run_dir)
    assert applied and {e.model_version for e in applied} == {"gemini-3.6-flash"}
    assert {json.dumps(e.answered_price, sort_keys=True) for e in applied} == {
        json.dumps({"input": 1.5, "output": 7.5, "image_output": 0.0}, sort_keys=True)}
    # said once, with the numbers
    notes = [line for line in done.stdout.splitlines() if line.startswith("note:") and "answered by" in line]
    assert notes == [f"note: {len(applied)} item(s) asked of gemini-3.5-flash were answered by gemini-3.6-flash "
                     "(priced at its price)"]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["answered_by"] == [{"asked": "gemini-3.5-flash", "answered": "gemini-3.6-flash",
                                      "items": len(applied), "priced_at": "gemini-3.6-flash"}]
    # the actual cost is the answering model's: 3.6 Flash's $7.50 output, not 3.5 Flash's $9.00
    tokens_in = sum(e.usage.prompt_tokens for e in applied if e.usage)
    tokens_out = sum(e.usage.output_tokens for e in applied if e.usage)
    # to the report's last digit: it sums item by item, so a total on a half-unit may round either way
    assert report["cost"]["actual_usd"] == pytest.approx((tokens_in * 1.5 + tokens_out * 7.5) / 1e6 * 0.5, abs=1e-6)
    entries = [entry for path in root.rglob("imagery.yaml") if ".chargen" not in path.parts
               for entry in (read_yaml(path.read_text()) or {}).get("analyses") or []]
    assert entries and all(entry["answered_by"] == "gemini-3.6-flash" for entry in entries)
    assert all(entry["model"] == "gemini-3.5-flash" for entry in entries)
    shown = run_child(["inspect", RUN_ID, "--root", str(root)], timeout=60)
    assert "answered by gemini-3.6-flash" in shown.stdout


def test_a_model_answering_as_itself_adds_nothing(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig()) as emu:
        done = chargen(root, emu.base_url, *run_args("--mode", "analyze"))
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = root / ".chargen" / "batch" / RUN_ID
    applied = _applied(run_dir)
    assert applied and {e.model_version for e in applied} == {"gemini-3.8-flash"}
    assert all(e.answered_price is None for e in applied)
    assert "answered_by" not in json.loads((run_dir / "report.json").read_text())
    assert "answered by" not in done.stdout
    raw = (run_dir / "journal.jsonl").read_text()
    assert '"answered_price"' not in raw  # omitted when unset: old readers see the lines they know
