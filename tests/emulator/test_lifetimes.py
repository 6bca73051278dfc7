"""The emulator's clock and Google's lifetimes: files, jobs and results files expire."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from google import genai
from google.genai import errors

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.emulator.clock import ManualClock

from .helpers import image_request, jsonl, make_client, upload_bytes

HOUR = 3600.0


def _advance(emu: Emulator, seconds: float) -> dict[str, float]:
    """From outside, like a test in another process would."""
    r = httpx2.post(f"{emu.base_url}/_emulator/clock", json={"advance_s": seconds})
    assert r.status_code == 200
    return dict(r.json())


def _job(client: genai.Client, name: str = "j") -> str:
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    job = client.batches.create(model="gemini-3-pro-image", src=src.name, config={"display_name": name})
    assert job.name
    return job.name


def _state(client: genai.Client, name: str) -> str:
    return client.batches.get(name=name).state.name.removeprefix("JOB_STATE_")


def test_clock_endpoint_moves_and_reports_time(emu: Emulator) -> None:
    before = httpx2.get(f"{emu.base_url}/_emulator/clock").json()["now_s"]
    assert _advance(emu, 5 * HOUR)["now_s"] >= before + 5 * HOUR
    r = httpx2.post(f"{emu.base_url}/_emulator/clock", json={"set": "2030-01-01T00:00:00Z"})
    assert r.json()["now"].startswith("2030-01-01T00:00:00")
    for bad in ({"advance_s": -1}, {"advance_s": "soon"}, {"set": "tomorrow"}, {"jump": 1}):
        r = httpx2.post(f"{emu.base_url}/_emulator/clock", json=bad)
        assert r.status_code == 400 and "/_emulator/clock" in r.json()["error"]["message"]


def test_files_expire_after_48_hours(emu: Emulator, client: genai.Client) -> None:
    f = upload_bytes(client, b"ref", "image/png")
    assert f.name
    _advance(emu, 47 * HOUR)
    assert client.files.get(name=f.name).name == f.name
    _advance(emu, 1 * HOUR)
    with pytest.raises(errors.ClientError) as info:
        client.files.get(name=f.name)
    assert info.value.code == 404
    assert list(client.files.list()) == []


def test_job_runs_on_the_clock_and_its_results_file_expires() -> None:
    with Emulator(EmulatorConfig(job_seconds=HOUR)) as emu:
        client = make_client(emu, "v1beta")
        name = _job(client)
        assert _state(client, name) == "PENDING"
        _advance(emu, HOUR / 2)
        assert _state(client, name) == "RUNNING"
        _advance(emu, 3 * 24 * HOUR)  # the client comes back three days later
        job = client.batches.get(name=name)
        assert job.state.name == "JOB_STATE_SUCCEEDED" and job.dest is not None and job.dest.file_name
        with pytest.raises(errors.ClientError) as info:
            client.files.download(file=job.dest.file_name)
        assert info.value.code == 404


def test_results_file_lives_48_hours_from_the_job_end() -> None:
    with Emulator(EmulatorConfig(job_seconds=HOUR)) as emu:
        client = make_client(emu, "v1beta")
        name = _job(client)
        _advance(emu, HOUR + 47 * HOUR)
        job = client.batches.get(name=name)
        assert job.dest is not None and job.dest.file_name
        (line,) = client.files.download(file=job.dest.file_name).splitlines()
        assert json.loads(line)["key"] == "a"


def test_held_job_expires_after_48_hours(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"kind": "job", "job_state": "PENDING"}])
    name = _job(client)
    _advance(emu, 47 * HOUR)
    assert _state(client, name) == "PENDING"
    _advance(emu, 1 * HOUR)
    job = client.batches.get(name=name)
    assert job.state.name == "JOB_STATE_EXPIRED" and job.end_time is not None


def test_held_job_released_late_or_expired_on_demand(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"kind": "job", "job_state": "PENDING"}])
    a, b = _job(client, "chunk-a"), _job(client, "chunk-b")
    _advance(emu, 5 * HOUR)
    assert _state(client, a) == _state(client, b) == "PENDING"
    r = httpx2.post(f"{emu.base_url}/_emulator/release", json={"display_name_contains": "chunk-a"})
    assert r.json() == {"released": [a]}
    assert _state(client, a) == "SUCCEEDED" and _state(client, b) == "PENDING"
    r = httpx2.post(f"{emu.base_url}/_emulator/release", json={"name": b, "state": "EXPIRED"})
    assert r.json() == {"released": [b]} and _state(client, b) == "EXPIRED"
    bad = httpx2.post(f"{emu.base_url}/_emulator/release", json={"state": "DONE"})
    assert bad.status_code == 400


def test_late_delivery(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"kind": "job", "job_state": "SUCCEEDED", "delay_s": 600, "display_name_contains": "slow"}])
    slow, quick = _job(client, "slow-1"), _job(client, "quick-1")
    assert _state(client, quick) == "SUCCEEDED" and _state(client, slow) == "PENDING"
    _advance(emu, 300)
    assert _state(client, slow) == "RUNNING"
    _advance(emu, 300)
    assert _state(client, slow) == "SUCCEEDED"


def test_injected_clock_and_a_job_longer_than_its_lifetime() -> None:
    clock = ManualClock()
    with Emulator(EmulatorConfig(clock=clock, job_seconds=60 * HOUR)) as emu:
        client = make_client(emu, "v1beta")
        name = _job(client)
        assert client.batches.get(name=name).create_time is not None
        clock.advance(48 * HOUR)
        assert _state(client, name) == "EXPIRED"


def test_clock_shift_survives_a_restart(tmp_path: Path) -> None:
    cfg = EmulatorConfig(data_dir=tmp_path / "emu")
    with Emulator(cfg) as emu:
        client = make_client(emu, "v1beta")
        f = upload_bytes(client, b"ref", "image/png")
        _advance(emu, 49 * HOUR)
    with Emulator(cfg) as emu:
        client = make_client(emu, "v1beta")
        with pytest.raises(errors.ClientError) as info:
            client.files.get(name=str(f.name))
        assert info.value.code == 404
