"""Remote things that run out: results files, referenced files, job slots, half-made uploads.

Each test drives real chargen-es processes over the unmodified SDK into the emulator and
changes the remote side the way time or another client would (a results file deleted, a
reference gone, an empty file under our display name), then checks that the run says so
and that ``resume`` finishes the work.
"""

from __future__ import annotations

import hashlib
import io
import json
import signal
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.engine.retry import RetryPolicy
from chargen_es.journal import read_events
from tests.emulator.helpers import sdk_client
from tests.engine import inproc
from tests.engine.harness import API_KEY, RUN_ID, chargen, copy_sample, imagery_keys, outputs, run_args


def run_dir(root: Path) -> Path:
    return root / ".chargen" / "batch" / RUN_ID


def journal(root: Path) -> list[ev.Event]:
    return list(read_events(run_dir(root) / "journal.jsonl"))


def tagged(root: Path, tag: str) -> list[Any]:
    return [e for e in journal(root) if ev.type_name(e) == tag]


def client(base_url: str) -> genai.Client:
    return sdk_client(base_url, "v1beta", api_key=API_KEY)


def planned_outputs(root: Path) -> int:
    return sum(1 for e in journal(root) if ev.type_name(e) == "task.planned")


def assert_every_task_done_once(root: Path, before: dict[str, str]) -> None:
    keys = [k for found in imagery_keys(root).values() for k in found]
    assert len(keys) == len(set(keys))
    applied = {e.key for e in tagged(root, "line.applied")}
    assert len(applied) == planned_outputs(root) and applied <= set(keys)
    assert len(set(outputs(root)) - set(before)) == planned_outputs(root)


def test_a_lost_results_file_fails_its_items_retryably_and_resume_runs_them_again(tmp_path: Path) -> None:
    """A --detach'ed run resumed after its results file expired: items fail, the run does not."""
    root = copy_sample(tmp_path / "tree")
    before = outputs(root)
    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        detached = chargen(root, emu.base_url, *run_args("--detach", "--chunk-size", "100"))
        assert detached.returncode == 0, detached.stdout + detached.stderr
        sdk = client(emu.base_url)
        (job,) = [j for j in sdk.batches.list() if RUN_ID in (j.display_name or "")]
        done = sdk.batches.get(name=job.name or "")  # done on the first get (job_seconds 0)
        assert done.dest is not None and done.dest.file_name
        sdk.files.delete(name=done.dest.file_name)  # what 48 h would do to it

        later = chargen(root, emu.base_url, "resume", RUN_ID)
        assert later.returncode == 1, later.stdout + later.stderr
        assert "results_lost" in later.stderr and f"chargen-es resume {RUN_ID}" in later.stderr
        failures = json.loads((run_dir(root) / "report.json").read_text())["failures"]
        assert failures and {f["code"] for f in failures} == {"results_lost"}
        assert all(f["retryable"] for f in failures)
        assert done.dest.file_name in failures[0]["message"]
        assert tagged(root, "run.paused")[-1].reason == "retry"
        assert outputs(root) == before

        again = chargen(root, emu.base_url, "resume", RUN_ID)
        assert again.returncode == 0, again.stdout + again.stderr
    (reopened,) = tagged(root, "items.reopened")
    assert len(reopened.keys) == planned_outputs(root) and reopened.attempt == 1
    assert [e.attempt for e in tagged(root, "job.submitting")] == [1, 2]
    assert_every_task_done_once(root, before)
    assert tagged(root, "run.completed")[-1].failed == 0


def test_a_reference_gone_before_the_job_read_it_is_uploaded_again_by_the_next_attempt(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    before = outputs(root)
    with Emulator(EmulatorConfig(job_seconds=0.05)) as emu:
        crashed = chargen(root, emu.base_url, *run_args(), crash_at="before:job.create")
        assert crashed.returncode != 0
        refs = [e for e in tagged(root, "upload.completed") if e.purpose == "reference"]
        assert refs
        gone = refs[0]
        sdk = client(emu.base_url)
        sdk.files.delete(name=gone.name)  # expired early, or deleted by another client

        first = chargen(root, emu.base_url, "resume", RUN_ID)
        assert first.returncode == 1, first.stdout + first.stderr
        assert "file_missing" in first.stderr
        failures = json.loads((run_dir(root) / "report.json").read_text())["failures"]
        assert failures and {f["code"] for f in failures} == {"file_missing"}
        assert all(f["retryable"] and gone.path in f["message"] for f in failures)
        (lost,) = tagged(root, "upload.lost")
        assert (lost.sha256, lost.name) == (gone.sha256, gone.name)
        uploads_before = emu.stats()["uploads_by_sha256"].get(gone.sha256)

        second = chargen(root, emu.base_url, "resume", RUN_ID)
        assert second.returncode == 0, second.stdout + second.stderr
        assert emu.stats()["uploads_by_sha256"][gone.sha256] == uploads_before + 1
    fresh = [e for e in tagged(root, "upload.completed") if e.sha256 == gone.sha256]
    assert len(fresh) == 2 and fresh[1].name != gone.name
    assert_every_task_done_once(root, before)


def test_a_create_refused_with_429_waits_queued_and_never_fails_the_run(tmp_path: Path) -> None:
    """Seven 429s in a row on one chunk's create (old code gave up after five tries), each
    naming a 5-minute wait: the production queue waits them out, on the virtual clock."""
    root = copy_sample(tmp_path / "tree")
    before = outputs(root)
    faults = [{"op": "batches.create", "kind": "status", "status": 429, "count": 7, "retry_delay_s": 300}]
    with Emulator(EmulatorConfig(job_seconds=0.0, faults=faults)) as emu:
        done = inproc.run(root, emu.base_url, chunk_size=100)  # one chunk
        assert done.outcome == "completed"
        assert emu.stats()["operations"]["batches.create"] == 8
    queued = done.tagged("job.queued")
    assert len(queued) == 7
    assert {(q.chunk, q.attempt, q.retry_after) for q in queued} == {(0, 1, 300.0)}
    assert all(q.wait_s >= 300 for q in queued), "RetryInfo is honoured"
    assert queued[-1].wait_s >= 900, "the queue backs off to its 15-minute cap and keeps asking"
    assert done.clock.current_time() >= sum(q.wait_s for q in queued) - 0.01, "the waits went by (virtual clock)"
    assert len(tagged(root, "job.submitted")) == 1
    assert_every_task_done_once(root, before)


def test_the_queue_waits_minutes_and_honours_retry_info() -> None:
    policy = RetryPolicy()
    first = policy.queue_backoff(1)
    assert 60 <= first <= 66
    assert 900 <= policy.queue_backoff(12) <= 990  # capped at 15 minutes, never giving up
    assert policy.queue_backoff(1, retry_after=1800) >= 1800


def test_an_empty_file_under_our_display_name_is_never_adopted(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    before = outputs(root)
    with Emulator(EmulatorConfig(job_seconds=0.05)) as emu:
        crashed = chargen(root, emu.base_url, *run_args(), crash_at="before:upload")
        assert crashed.returncode != 0
        (intent,) = [e for e in tagged(root, "upload.started")][:1]
        assert intent.size > 0
        sdk = client(emu.base_url)
        empty = sdk.files.upload(file=io.BytesIO(b""), config=types.UploadFileConfig(
            mime_type=intent.mime, display_name=intent.display_name))
        done = chargen(root, emu.base_url, "resume", RUN_ID)
        assert done.returncode == 0, done.stdout + done.stderr
    settled = [e for e in tagged(root, "upload.completed") if e.sha256 == intent.sha256]
    assert [(e.adopted, e.name == empty.name) for e in settled] == [(False, False)]
    data = (root / intent.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == intent.sha256
    assert_every_task_done_once(root, before)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before:append:upload.lost", "after:append:upload.lost"])
def test_a_crash_around_upload_lost_still_reruns_the_items(point: str, tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    before = outputs(root)
    with Emulator(EmulatorConfig(job_seconds=0.05)) as emu:
        assert chargen(root, emu.base_url, *run_args(), crash_at="before:job.create").returncode != 0
        gone = [e for e in tagged(root, "upload.completed") if e.purpose == "reference"][0]
        sdk = client(emu.base_url)
        sdk.files.delete(name=gone.name)
        assert chargen(root, emu.base_url, "resume", RUN_ID, crash_at=point).returncode == -signal.SIGKILL
        paused = chargen(root, emu.base_url, "resume", RUN_ID)
        assert paused.returncode == 1 and "file_missing" in paused.stderr, paused.stdout + paused.stderr
        done = chargen(root, emu.base_url, "resume", RUN_ID)
        assert done.returncode == 0, done.stdout + done.stderr
    assert_every_task_done_once(root, before)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before:append:items.reopened", "after:append:items.reopened",
                                   "after:append:job.queued"])
def test_a_crash_around_reopen_or_queue_converges(point: str, tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    before = outputs(root)
    # one refused create, for the queued point: killed right after journaling the wait, the
    # resume asks again at once (a second refusal would wait the production queue's minutes)
    faults = [{"op": "batches.create", "kind": "status", "status": 429, "count": 1, "retry_delay_s": 1}]
    with Emulator(EmulatorConfig(job_seconds=0.0, faults=faults if "queued" in point else [])) as emu:
        detached = chargen(root, emu.base_url, *run_args("--detach", "--chunk-size", "100"),
                           crash_at=point if "queued" in point else None)
        if "queued" in point:
            assert detached.returncode == -signal.SIGKILL
            assert chargen(root, emu.base_url, "resume", RUN_ID, "--detach").returncode == 0
        sdk = client(emu.base_url)
        (job,) = [j for j in sdk.batches.list() if RUN_ID in (j.display_name or "")]
        out = sdk.batches.get(name=job.name or "").dest
        assert out is not None and out.file_name
        sdk.files.delete(name=out.file_name)
        assert chargen(root, emu.base_url, "resume", RUN_ID).returncode == 1
        if "reopened" in point:
            assert chargen(root, emu.base_url, "resume", RUN_ID, crash_at=point).returncode == -signal.SIGKILL
        done = chargen(root, emu.base_url, "resume", RUN_ID)
        assert done.returncode == 0, done.stdout + done.stderr
    assert_every_task_done_once(root, before)
