"""Recommendations are a pure fold of what happened: each rule from a small history, and
the end of a real run (a safety block on the emulator) names the item in the report and on
the terminal."""

from __future__ import annotations

import json
from pathlib import Path

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from projections import project, recommendations
from tests.core.strategies import stamp
from tests.engine.harness import RUN_ID, chargen, copy_sample, run_args
from tests.procs import run_child

START = ev.RunStarted(run_id="r1", tool_version="0", mode="generate", runner="live")
KEYS = [f"characters/ada/s{n}@sha256:{n:016x}" for n in range(4)]


def task(key: str) -> ev.Task:
    return ev.Task(key=key, kind="generate", entity_type="characters", slug="ada", scene=key[15:17], prompt="p",
                   model="m", output_dir="characters/ada/images", output_stem="s")


def advice(*events: ev.Event) -> dict[str, dict]:
    model = project(stamp([START, *(ev.TaskPlanned(task=task(k)) for k in KEYS), *events]))
    return {a["code"]: a for a in recommendations(model)}


def failed(key: str, code: str, retryable: bool) -> ev.ItemFailed:
    return ev.ItemFailed(key=key, stage="result", code=code, message=code, retryable=retryable, chunk=0)


def test_a_clean_run_gets_no_advice() -> None:
    assert advice(*(ev.LineApplied(key=k, chunk=0) for k in KEYS), ev.RunCompleted(ok=4, failed=0, skipped=0)) == {}


def test_safety_blocks_are_named_to_rephrase_not_retried() -> None:
    got = advice(failed(KEYS[0], "IMAGE_SAFETY", False), failed(KEYS[1], "PROHIBITED_CONTENT", False),
                 failed(KEYS[2], "NO_IMAGE", True), ev.RunCompleted(ok=1, failed=3, skipped=0))
    assert got["rephrase_blocked"]["keys"] == KEYS[:2]
    assert "characters/ada/s0" in got["rephrase_blocked"]["message"]
    assert got["retry_failed"]["keys"] == [KEYS[2]] and "NO_IMAGE" in got["retry_failed"]["message"]
    assert "resume" not in got


def test_lost_files_and_pauses_say_resume() -> None:
    got = advice(failed(KEYS[0], "file_missing", True), ev.RunPaused(reason="retry", message="m"))
    assert got["resume"]["keys"] == [KEYS[0]] and "chargen-es resume r1" in got["resume"]["message"]
    assert "retry_failed" not in got  # resume runs them: not a second piece of advice
    assert "resume" in advice(ev.RunPaused(reason="daily_quota", message="m"))


def test_many_429s_advise_fewer_workers() -> None:
    calls = [ev.CallStarted(key=KEYS[n % 4], attempt=n // 4 + 1) for n in range(20)]
    limited = [ev.CallFailed(key=KEYS[0], attempt=n + 1, kind="rate_limit", status=429, message="quota")
               for n in range(4)]
    assert "fewer_workers" in advice(*calls, *limited)
    assert "fewer_workers" not in advice(*calls, *limited[:1])


def test_an_unavailable_model_advises_updating_chargen_yaml() -> None:
    got = advice(ev.RunFailed(code="model_unavailable", message="gemini-x is shut down; use gemini-y"))
    assert "chargen.yaml" in got["update_model"]["message"] and "gemini-y" in got["update_model"]["message"]


def test_a_run_with_a_blocked_item_ends_with_the_advice(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    faults = [{"kind": "line", "line_kind": "safety", "key_contains": "map-room"}]
    with Emulator(EmulatorConfig(job_seconds=0.0, faults=faults)) as emu:
        done = chargen(root, emu.base_url, *run_args())
    assert done.returncode == 3, done.stdout + done.stderr
    report = json.loads((root / ".chargen" / "batch" / RUN_ID / "report.json").read_text())
    [blocked] = [a for a in report["recommendations"] if a["code"] == "rephrase_blocked"]
    assert [k.split("@")[0] for k in blocked["keys"]] == ["character/ada/map-room"]
    assert "recommendations:" in done.stdout and "rephrase them: characters/ada/map-room" in done.stdout
    shown = run_child(["inspect", RUN_ID, "--root", str(root)])
    assert "recommendations:" in shown.stdout and "rephrase them: characters/ada/map-room" in shown.stdout
