"""Privacy by default: every request chargen-es sends carries ``store: false`` unless the
workspace says ``store: true``, checked on the wire by the emulator for batch lines, live
calls and doctor's roundtrip.

Why it matters: since 2026-10-26 Google keeps Generate Content requests (batch included:
prompts, images, answers) in the project's logs for 55 days by default on paid projects
created from that day, and a request's own ``store`` overrides the project setting
(https://ai.google.dev/gemini-api/docs/changelog, 2026-10-26; .../logs-datasets; read
2026-12-07). The emulator stores by default too, so a request without ``store`` shows up
as logged.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.planner import sample_tree
from tests.engine import inproc
from tests.engine.harness import API_KEY
from tests.procs import run_child


def _tree(tmp_path: Path, store: bool | None = None) -> Path:
    root = Path(shutil.copytree(sample_tree(), tmp_path / "tree"))
    if store is not None:
        with (root / "chargen.yaml").open("a", encoding="utf-8") as f:
            f.write(f"store: {'true' if store else 'false'}\n")
    return root


def test_batch_lines_carry_store_false_by_default(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    with Emulator(EmulatorConfig()) as emu:
        done = inproc.run(root, emu.base_url, chunk_size=500)
        stats = emu.stats()
    tasks = len(done.recorder.model.tasks)
    assert done.outcome == "completed" and tasks > 0
    assert stats["store"] == {"false": tasks, "true": 0, "absent": 0}
    assert stats["logged_requests"] == 0
    (requests,) = done.recorder.journal.run_dir.rglob("requests-*.jsonl")
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    assert len(lines) == tasks and all(line["request"]["store"] is False for line in lines)


def test_live_calls_carry_store_false_by_default(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    with Emulator(EmulatorConfig()) as emu:
        done = inproc.run(root, emu.base_url, runner="live", chunk_size=500)
        stats = emu.stats()
    tasks = len(done.recorder.model.tasks)
    assert done.outcome == "completed"
    assert stats["calls"] == tasks and stats["store"] == {"false": tasks, "true": 0, "absent": 0}
    assert stats["logged_requests"] == 0


def test_store_true_in_chargen_yaml_lets_google_keep_them(tmp_path: Path) -> None:
    root = _tree(tmp_path, store=True)
    with Emulator(EmulatorConfig()) as emu:
        done = inproc.run(root, emu.base_url, chunk_size=500)
        stats = emu.stats()
    tasks = len(done.recorder.model.tasks)
    assert stats["store"] == {"false": 0, "true": tasks, "absent": 0} and stats["logged_requests"] == tasks
    assert done.recorder.model.run.config["store"] is True


def test_doctor_roundtrip_carries_the_trees_store_and_says_what_google_keeps(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")},
           "GEMINI_API_KEY": API_KEY}
    with Emulator(EmulatorConfig()) as emu:
        done = run_child(["doctor", "--roundtrip", "--poll-interval", "0.05", "--base-url", emu.base_url,
                          "--root", str(tmp_path)], env=env, timeout=120)
        stats = emu.stats()
    assert done.returncode == 0, done.stdout + done.stderr
    assert stats["store"] == {"false": 1, "true": 0, "absent": 0}
    privacy = [line for line in done.stdout.splitlines() if line.startswith("privacy: ok")]
    assert privacy and "store: false" in privacy[0] and "55 days" in privacy[0]


def test_the_dry_run_says_what_google_keeps(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    out = run_child(["run", "--dry-run", "--root", str(root)], timeout=60)
    assert out.returncode == 0, out.stderr
    assert "  privacy:  requests carry store: false: Google keeps none of them" in out.stdout
    out = run_child(["run", "--dry-run", "--store", "--json", "--root", str(root)], timeout=60)
    assert json.loads(out.stdout)["summary"]["store"] is True
    (root / "chargen.yaml").write_text("store: yes please\n", encoding="utf-8")
    out = run_child(["run", "--dry-run", "--root", str(root)], timeout=60)
    assert out.returncode == 1 and "chargen.yaml:1: store must be true or false" in out.stderr
