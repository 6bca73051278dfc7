"""The batch pipeline under the faults the emulator can inject.

Faults that only cost retries run in-process on the virtual clock (``tests.engine.inproc``:
production backoff, no wall time); those whose point is a CLI exit or a resume in a new
process run as child processes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine import inproc
from tests.engine.harness import RUN_ID, assert_exactly_once, chargen, copy_sample, imagery_keys, run_args


def run_dir(root: Path) -> Path:
    return root / ".chargen" / "batch" / RUN_ID


def report(root: Path) -> dict[str, Any]:
    return json.loads((run_dir(root) / "report.json").read_text())


def types_of(root: Path) -> list[str]:
    return [e.__struct_config__.tag for e in read_events(run_dir(root) / "journal.jsonl")]  # type: ignore[misc]


def test_drop_after_commit_on_create_and_upload_needs_no_crash(tmp_path: Path) -> None:
    """The server commits, the reply is lost: adopted by listing, never done twice."""
    root = copy_sample(tmp_path / "tree")
    faults = [
        {"op": "batches.create", "kind": "drop_after_commit", "count": 2},
        {"op": "files.upload_chunk", "kind": "drop_after_commit", "count": 3},
    ]
    with Emulator(EmulatorConfig(job_seconds=0.0, faults=faults)) as emu:
        done = inproc.run(root, emu.base_url)  # retries back off on the virtual clock
        assert done.outcome == "completed"
        stats = emu.stats()
        assert_exactly_once(root, stats)
        assert stats["operations"]["batches.create"] == 3  # one create per chunk, two of them answered by nobody
    events = read_events(run_dir(root) / "journal.jsonl")
    assert sum(1 for e in events if getattr(e, "adopted", False) and e.__struct_config__.tag == "job.submitted") == 2  # type: ignore[attr-defined]
    assert sum(1 for e in events if getattr(e, "adopted", False) and e.__struct_config__.tag == "upload.completed") == 3  # type: ignore[attr-defined]


def test_fault_mix_transient_reads_and_every_line_failure(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    faults = [
        {"op": "batches.get", "kind": "status", "status": 503, "rate": 0.4},
        {"op": "files.download", "kind": "status", "status": 429, "count": 2, "retry_delay_s": 0},
        {"op": "files.list", "kind": "status", "status": 503, "count": 1},
        {"op": "batches.line", "kind": "line", "line_kind": "error", "code": 13, "key_contains": "ada/map-room"},
        {"op": "batches.line", "kind": "line", "line_kind": "safety", "key_contains": "bram/"},
        {"op": "batches.line", "kind": "line", "line_kind": "image_safety", "key_contains": "storm-breaks"},
        {"op": "batches.line", "kind": "line", "line_kind": "text_only", "key_contains": "customs-gate"},
    ]
    with Emulator(EmulatorConfig(job_seconds=0.0, faults=faults, seed=3)) as emu:
        done = inproc.run(root, emu.base_url)  # retries back off on the virtual clock
        assert done.outcome == "completed" and done.recorder.model.outcome_counts()[1] > 0  # with failed items
        assert_exactly_once(root, emu.stats())
    failures = report(root)["failures"]
    codes = {f["code"] for f in failures}
    assert {"rpc_13", "SAFETY", "IMAGE_SAFETY", "no_image"} <= codes, failures
    for failure in failures:
        detail = json.loads((run_dir(root) / failure["detail_path"]).read_text())
        assert detail["task"]["key"] == failure["key"]
        assert detail["raw_line"], "the server's line is kept"
    failed_keys = {f["key"] for f in failures}
    recorded = {k for keys in imagery_keys(root).values() for k in keys}
    assert not failed_keys & recorded, "a failed item must not appear in imagery.yaml"


def test_failed_job_keeps_uploads_and_resume_resubmits_only_that_chunk(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    faults = [{"kind": "job", "job_state": "FAILED", "display_name_contains": f"{RUN_ID}:1:1"}]
    with Emulator(EmulatorConfig(job_seconds=0.1, faults=faults)) as emu:
        first = chargen(root, emu.base_url, *run_args())
        assert first.returncode == 1, first.stdout + first.stderr
        assert f"chargen-es resume {RUN_ID}" in first.stderr
        uploads_before = dict(emu.stats()["uploads_by_sha256"])
        second = chargen(root, emu.base_url, "resume", RUN_ID)
        assert second.returncode == 0, second.stdout + second.stderr
        stats = emu.stats()
        assert stats["uploads_by_sha256"] == uploads_before, "the failed job's uploads were reused"
        assert stats["operations"]["batches.create"] == 4  # three chunks, one of them twice
    state = json.loads((run_dir(root) / "state.json").read_text())
    assert state["phase"] == "completed"
    attempts = {c["chunk"]: c["attempt"] for c in state["chunks"]}
    assert attempts == {0: 1, 1: 2, 2: 1}


def test_expired_cached_file_is_uploaded_again(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    margin = ["--reuse-margin-hours", "0"]
    with Emulator(EmulatorConfig(job_seconds=0.1, file_ttl_s=2.0)) as emu:
        first = chargen(root, emu.base_url, *run_args(*margin))
        assert first.returncode == 0, first.stderr
        counts = dict(emu.stats()["uploads_by_sha256"])
        time.sleep(2.2)  # every uploaded reference has expired now
        second = chargen(root, emu.base_url, *run_args("--force", *margin, run_id="2030-01-02T00-00-00Z"))
        assert second.returncode == 0, second.stdout + second.stderr
        again = emu.stats()["uploads_by_sha256"]
    references = [sha for sha, n in counts.items() if n == 1 and again.get(sha) == 2]
    assert references, "the expired references were uploaded a second time"
    events = read_events(root / ".chargen" / "batch" / "2030-01-02T00-00-00Z" / "journal.jsonl")
    assert not any(e.__struct_config__.tag == "upload.reused" for e in events)  # type: ignore[attr-defined]
