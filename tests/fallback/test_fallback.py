"""Never stuck (issue 14): a deadline or an EXPIRED job sends a chunk's remaining work live,
each item applied exactly once, whichever path delivers it.

Real parts only: chargen-es child processes, the unmodified SDK over HTTP, the emulator
holding jobs PENDING (``job`` faults) and releasing them on request, real SIGKILLs.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    crash,
    imagery_keys,
    outputs,
    run_args,
    start_process,
)
from tests.shared import once_per_session

HOLD = [{"kind": "job", "job_state": "PENDING"}]  # every job stays PENDING until released
CRASH_DEADLINE = "3s"  # long enough for the jobs to exist first, even on a loaded machine


def run_dir(root: Path) -> Path:
    return root / ".chargen" / "batch" / RUN_ID


def events(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir(root) / "journal.jsonl").read_text().splitlines()]


def report(root: Path) -> dict[str, Any]:
    return json.loads((run_dir(root) / "report.json").read_text())


def applied_once(root: Path) -> Counter[str]:
    """Every planned key applied exactly once in the journal, one imagery.yaml entry per key."""
    evs = events(root)
    planned = {e["task"]["key"] for e in evs if e["type"] == "task.planned"}
    applied = Counter(e["key"] for e in evs if e["type"] == "line.applied")
    assert set(applied) == planned and set(applied.values()) == {1}, applied
    for name, keys in imagery_keys(root).items():
        assert len(keys) == len(set(keys)), f"{name} holds a key twice"
    return applied


def assert_once_everywhere(root: Path, stats: dict[str, Any], reference: dict[str, str] | None = None) -> None:
    """The harness's exactly-once checks, except that a chunk may have gone live before its
    job was ever created (the deadline came first on a slow machine): no batch input is
    submitted twice, but there may be none."""
    assert_exactly_once(root, stats, reference, batch_inputs_required=False)
    applied_once(root)


def post(base_url: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(base_url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as reply:  # noqa: S310 - the loopback emulator
        return json.loads(reply.read())


@pytest.mark.slow  # the quick loop has it on virtual time: tests/fallback/test_deadline_inproc.py
def test_a_stuck_job_reaches_the_deadline_and_finishes_live(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=HOLD)) as emu:
        done = chargen(root, emu.base_url, *run_args("--deadline", CRASH_DEADLINE))
        assert done.returncode == 0, done.stdout + done.stderr
        stats = emu.stats()
        assert_exactly_once(root, stats)
    applied_once(root)
    rep = report(root)
    assert rep["phase"] == "completed"
    assert rep["delivery"]["by_path"] == {"batch": 0, "live": 17}
    assert [f["reason"] for f in rep["delivery"]["fallbacks"]] == ["deadline"] * 3
    assert {row["via"] for row in rep["items"]} == {"live"} and len(rep["items"]) == 17
    assert rep["cost"]["actual_usd"] == rep["delivery"]["all_live_usd"] > rep["delivery"]["all_batch_usd"] > 0
    evs = events(root)
    kinds = [e["type"] for e in evs]
    assert kinds.count("job.cancelling") == kinds.count("job.cancel_confirmed") == 3  # cancelled before going live
    assert stats["operations"]["batches.cancel"] == 3
    assert {e["state"] for e in evs if e["type"] == "job.cancel_confirmed"} == {"CANCELLED"}
    policy = next(e for e in evs if e["type"] == "fallback.policy")
    started = next(e for e in evs if e["type"] == "run.started")
    # decided once, in the plan's own group commit: the run's start plus the duration
    assert policy["at"] == started["at"] and policy["duration_s"] == 3.0
    assert (datetime.fromisoformat(policy["deadline"]) - datetime.fromisoformat(started["at"])).total_seconds() == 3.0


def test_an_expired_job_falls_back_while_the_other_chunks_stay_batch(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    expire = [{"kind": "job", "job_state": "EXPIRED", "display_name_contains": f"{RUN_ID}:1:"}]
    with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=expire)) as emu:
        done = chargen(root, emu.base_url, *run_args("--fallback", "live"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "batches.cancel" not in emu.stats()["operations"]  # an EXPIRED job has nothing to cancel
    applied_once(root)
    rep = report(root)
    assert [(f["chunk"], f["reason"]) for f in rep["delivery"]["fallbacks"]] == [(1, "expired")]
    vias = {row["key"]: (row["chunk"], row["via"]) for row in rep["items"]}
    assert {via for chunk, via in vias.values() if chunk == 1} == {"live"}
    assert {via for chunk, via in vias.values() if chunk != 1} == {"batch"}


def test_without_a_fallback_an_expired_job_still_fails_the_run(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    expire = [{"kind": "job", "job_state": "EXPIRED", "display_name_contains": f"{RUN_ID}:1:"}]
    with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=expire)) as emu:
        done = chargen(root, emu.base_url, *run_args())
    assert done.returncode != 0 and "EXPIRED" in done.stderr
    assert not any(e["type"] == "chunk.fallback" for e in events(root))


def test_keep_batch_first_delivery_wins_and_duplicates_are_reported(tmp_path: Path) -> None:
    """The held job is released once half of the live calls are applied: the batch delivers
    the rest, its lines for the keys live already applied are paid duplicates."""
    root = copy_sample(tmp_path / "tree")
    slow_live = [*HOLD, {"op": "models.generateContent", "kind": "latency", "seconds": 0.4}]
    with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=slow_live)) as emu:
        proc = start_process(root, emu.base_url, *run_args("--deadline", CRASH_DEADLINE, "--keep-batch", "--workers", "1",
                                                           "--chunk-size", "20"))
        journal = run_dir(root) / "journal.jsonl"
        limit = time.monotonic() + 120
        while proc.poll() is None and (not journal.exists() or journal.read_bytes().count(b'"via":"live"') < 8):
            assert time.monotonic() < limit, "the live fallback made no progress"
            time.sleep(0.01)
        released = post(emu.base_url, "/_emulator/release", {})["released"]
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
        assert released, "the job had finished before it was released"
    applied = applied_once(root)
    rep = report(root)
    live_first = {e["key"] for e in events(root) if e["type"] == "line.applied" and e.get("via") == "live"}
    dups = [i for i in rep["ignored"] if i["reason"] == "already_applied"]
    assert len(live_first) >= 8 and rep["delivery"]["by_path"]["batch"] >= 1
    assert sum(rep["delivery"]["by_path"].values()) == len(applied) == 17
    # every key live applied before the batch arrived comes back from the batch as a paid duplicate
    assert {i["key"] for i in dups if i["via"] == "batch"} >= live_first - {i["key"] for i in dups if i["via"] == "live"}
    assert rep["delivery"]["duplicates"] == len(dups) and rep["delivery"]["duplicates_usd"] > 0
    assert not any(e["type"] == "job.cancelling" for e in events(root))


def test_max_cost_refuses_the_fallback_and_pauses_resumably(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=HOLD)) as emu:
        # the plan fits at batch prices ($1.24); its live fallback ($2.47 more) does not
        paused = chargen(root, emu.base_url, *run_args("--deadline", "0.5s", "--max-cost", "2"))
        assert paused.returncode != 0
        assert "above --max-cost $2.0000" in paused.stderr and "resume" in paused.stderr, paused.stderr
        evs = events(root)
        assert evs[-1]["type"] == "run.paused" and evs[-1]["reason"] == "max_cost"
        assert not any(e["type"] in ("chunk.fallback", "job.cancelling", "call.started") for e in evs)
        assert report(root)["phase"] == "paused"
        again = chargen(root, emu.base_url, "resume", RUN_ID, "--max-cost", "10")
        assert again.returncode == 0, again.stdout + again.stderr
    applied_once(root)
    assert report(root)["delivery"]["by_path"]["live"] == 17


CRASH_POINTS = [
    *(f"{when}:append:{kind}" for kind in ("chunk.fallback", "job.cancelling",
                                           "job.cancel_confirmed") for when in ("before", "after")),
    "before:job.cancel", "after:job.cancel", "before:call#2", "after:call#5", "after:append:line.applied#4",
]


@pytest.fixture(scope="module")
def deadline_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The outputs of one uninterrupted run past its deadline (one per session: ``tests.shared``)."""
    def make(folder: Path) -> dict[str, str]:
        root = copy_sample(folder / "tree")
        with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=HOLD)) as emu:
            done = chargen(root, emu.base_url, *run_args("--deadline", CRASH_DEADLINE))
            assert done.returncode == 0, done.stderr
        return outputs(root)

    return once_per_session(tmp_path_factory, "fallback-reference", make)  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sigkill_at_each_fallback_boundary_then_resume_converges(point: str, tmp_path: Path,
                                                                 deadline_reference: dict[str, str]) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=HOLD)) as emu:
        crash(root, emu.base_url, point, *run_args("--deadline", CRASH_DEADLINE))
        again = chargen(root, emu.base_url, "resume", RUN_ID)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_once_everywhere(root, emu.stats(), deadline_reference)
    evs = events(root)
    assert all(e["state"] == "CANCELLED" for e in evs if e["type"] == "job.cancel_confirmed")
    assert not any(e["type"] == "job.cancelling" and not any(
        c["type"] == "job.cancel_confirmed" and c["chunk"] == e["chunk"] for c in evs) for e in evs)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before:download", "after:download", "after:append:results.downloaded",
                                   "before:imagery.write"])
def test_sigkill_while_a_late_batch_result_arrives_keep_batch(point: str, tmp_path: Path) -> None:
    """``--keep-batch``: the held job is released once live has applied 4 items; the process
    is killed while the batch result comes in, resumed, and every key is applied once."""
    root = copy_sample(tmp_path / "tree")
    slow_live = [*HOLD, {"op": "models.generateContent", "kind": "latency", "seconds": 0.4}]
    with Emulator(EmulatorConfig(job_seconds=0.2, seed=7, faults=slow_live)) as emu:
        args = run_args("--deadline", CRASH_DEADLINE, "--keep-batch", "--workers", "1", "--chunk-size", "20")
        proc = start_process(root, emu.base_url, *args, crash_at=point)
        journal = run_dir(root) / "journal.jsonl"
        limit = time.monotonic() + 120
        while proc.poll() is None and (not journal.exists() or journal.read_bytes().count(b'"via":"live"') < 4):
            assert time.monotonic() < limit, "the live fallback made no progress"
            time.sleep(0.01)
        assert post(emu.base_url, "/_emulator/release", {})["released"]
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, f"{point} was never reached: {err[-2000:]}"
        again = chargen(root, emu.base_url, "resume", RUN_ID)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_once_everywhere(root, emu.stats())
    rep = report(root)
    assert rep["phase"] == "completed" and sum(rep["delivery"]["by_path"].values()) == 17
    assert rep["delivery"]["by_path"]["batch"] >= 1 and rep["delivery"]["duplicates"] >= 4
