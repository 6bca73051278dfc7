"""Gemini 3 image models send thought drafts before the final image: only the final is saved.

The emulator's image models answer the way Gemini 3 does (one or two ``thought`` draft
images, then the final one), in batch lines and live calls alike. Both runners must save
exactly the final image, byte for byte the same, and an answer of drafts only must fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine.harness import RUN_ID, chargen, copy_sample, outputs, run_args

DRAFTS_ONLY = "ada/map-room"


def run_dir(root: Path) -> Path:
    return root / ".chargen" / "batch" / RUN_ID


def final_and_drafts(results: Path) -> dict[str, tuple[str, set[str]]]:
    """Per key: the sha256 of the final image part and of every thought draft, from the raw lines."""
    out = {}
    for raw in results.read_text().splitlines():
        line = json.loads(raw)
        parts = (line.get("response") or {}).get("candidates", [{}])[0].get("content", {}).get("parts", [])
        images = [(bool(p.get("thought")), hashlib.sha256(base64.b64decode(p["inlineData"]["data"])).hexdigest())
                  for p in parts if "inlineData" in p]
        finals = [h for thought, h in images if not thought]
        out[line["key"]] = (finals[0] if finals else "", {h for thought, h in images if thought})
    return out


def test_batch_and_live_save_the_same_final_image_never_a_draft(tmp_path: Path) -> None:
    batch_root, live_root = copy_sample(tmp_path / "batch"), copy_sample(tmp_path / "live")
    before = outputs(batch_root)
    faults = [{"kind": "line", "line_kind": "drafts_only", "key_contains": DRAFTS_ONLY}]
    with Emulator(EmulatorConfig(job_seconds=0.05, faults=faults)) as emu:
        batch = chargen(batch_root, emu.base_url, *run_args("--no-cleanup", "--keep-results"))
        assert batch.returncode == 3, batch.stdout + batch.stderr  # done, one item failed
    faults_live = [{"kind": "line", "line_kind": "drafts_only", "key_contains": "brass dividers"}]
    with Emulator(EmulatorConfig(faults=faults_live)) as emu:
        live = chargen(live_root, emu.base_url, *run_args("--runner", "live"))
        assert live.returncode == 3, live.stdout + live.stderr

    saved_batch = {k: v for k, v in outputs(batch_root).items() if k not in before}
    saved_live = {k: v for k, v in outputs(live_root).items() if k not in before}
    assert saved_batch and saved_batch == saved_live, "both runners save the same bytes"

    answers = {}
    for results in sorted(run_dir(batch_root).glob("results-*.jsonl")):
        answers.update(final_and_drafts(results))
    applied = [e for e in read_events(run_dir(batch_root) / "journal.jsonl") if isinstance(e, ev.LineApplied)]
    assert any(drafts for _, drafts in answers.values()), "the emulator sent thought drafts"
    for event in applied:
        final, drafts = answers[event.key]
        (output,) = event.outputs
        assert output.sha256 == final and final not in drafts
    for root in (batch_root, live_root):
        failed = [e for e in read_events(run_dir(root) / "journal.jsonl") if isinstance(e, ev.ItemFailed)]
        assert [(DRAFTS_ONLY in e.key, e.code, e.retryable) for e in failed] == [(True, "NO_IMAGE", True)]
