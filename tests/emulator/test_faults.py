"""Every fault kind, seen through the unmodified SDK."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import errors

from chargen_es.emulator import Emulator, EmulatorConfig, FaultError

from .helpers import answer_part, image_request, jsonl, make_client, upload_bytes


def _job_lines(client: genai.Client, lines: list[dict[str, Any]], name: str = "j") -> dict[str, Any]:
    src = upload_bytes(client, jsonl(lines), "jsonl")
    job = client.batches.create(model="gemini-3-pro-image", src=src.name, config={"display_name": name})
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    out = client.files.download(file=job.dest.file_name).decode().splitlines()
    return {item["key"]: item for item in map(json.loads, out)}


def test_status_by_count(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"op": "batches.create", "kind": "status", "status": 503, "count": 2}])
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    for _ in range(2):
        with pytest.raises(errors.ServerError) as info:
            client.batches.create(model="gemini-3-pro-image", src=src.name)
        assert info.value.code == 503 and info.value.status == "UNAVAILABLE"
    client.batches.create(model="gemini-3-pro-image", src=src.name)
    assert len(list(client.batches.list())) == 1


def test_status_by_rate_and_429_details(emu: Emulator, client: genai.Client) -> None:
    f = upload_bytes(client, b"abc", "text/plain")
    emu.set_faults([{"op": "files.get", "kind": "status", "status": 429, "rate": 0.5}])
    failures = 0
    for _ in range(30):
        try:
            client.files.get(name=f.name)
        except errors.ClientError as exc:
            assert exc.code == 429
            types = [d["@type"] for d in exc.details["error"]["details"]]
            assert "type.googleapis.com/google.rpc.RetryInfo" in types
            failures += 1
    assert 5 < failures < 25


def test_sdk_retry_options_recover_from_503(emu: Emulator) -> None:
    client = make_client(emu, retry_options={"attempts": 3, "initial_delay": 0.01, "max_delay": 0.02,
                                             "jitter": 0.0})
    emu.set_faults([{"op": "files.list", "kind": "status", "status": 503, "count": 2}])
    assert list(client.files.list()) == []
    assert emu.stats()["operations"]["files.list"] == 3


def test_chunk_status_fails_fast(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"op": "files.upload_chunk", "kind": "status", "status": 500, "count": 1}])
    started = time.monotonic()
    with pytest.raises(errors.ServerError) as info:
        upload_bytes(client, b"payload", "text/plain", "chunky")
    assert info.value.code == 500
    assert time.monotonic() - started < 0.9  # no 1+2+4 s re-sends
    assert emu.stats()["operations"]["files.upload_chunk"] == 1
    upload_bytes(client, b"payload", "text/plain", "chunky")


def test_drop_is_a_transport_error(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"op": "files.list", "kind": "drop", "count": 1}])
    with pytest.raises(httpx2.TransportError):
        list(client.files.list())
    assert list(client.files.list()) == []


def test_latency(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"op": "files.list", "kind": "latency", "seconds": 0.3}])
    started = time.monotonic()
    list(client.files.list())
    assert time.monotonic() - started >= 0.3


def test_drop_after_commit_on_create(emu: Emulator, client: genai.Client) -> None:
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    emu.set_faults([{"op": "batches.create", "kind": "drop_after_commit", "count": 1}])
    with pytest.raises(httpx2.TransportError):
        client.batches.create(model="gemini-3-pro-image", src=src.name, config={"display_name": "once"})
    jobs = list(client.batches.list())
    assert [j.display_name for j in jobs] == ["once"]
    assert emu.stats()["by_display_name"]["once"]["jobs_created"] == 1


def test_drop_after_commit_on_upload(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"op": "files.upload_chunk", "kind": "drop_after_commit", "count": 1}])
    with pytest.raises(httpx2.TransportError):
        upload_bytes(client, b"committed", "text/plain", "ghost")
    assert [f.display_name for f in client.files.list()] == ["ghost"]
    counts = emu.stats()["by_display_name"]["ghost"]
    assert counts["uploads_started"] == counts["uploads_completed"] == 1


@pytest.mark.parametrize("kind", ["error", "safety", "image_safety", "text_only"])
def test_line_faults_in_batch(emu: Emulator, client: genai.Client, kind: str) -> None:
    emu.set_faults([{"kind": "line", "line_kind": kind, "key_contains": "bad", "code": 8}])
    by_key = _job_lines(client, [{"key": "good-1", "request": image_request("a")},
                                 {"key": "bad-1", "request": image_request("b")}])
    good = by_key["good-1"]["response"]["candidates"][0]
    assert "inlineData" in answer_part(good["content"]["parts"])
    bad = by_key["bad-1"]
    if kind == "error":
        assert bad["error"]["code"] == 8
    elif kind == "safety":
        assert "candidates" not in bad["response"]
        assert bad["response"]["promptFeedback"]["blockReason"] == "SAFETY"
    elif kind == "image_safety":
        cand = bad["response"]["candidates"][0]
        assert cand["finishReason"] == "IMAGE_SAFETY" and "parts" not in cand["content"]
    else:
        answer = answer_part(bad["response"]["candidates"][0]["content"]["parts"])
        assert "text" in answer and "inlineData" not in answer


def test_line_fault_by_count_and_in_generate_content(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"op": "models.generateContent", "kind": "line", "line_kind": "safety", "count": 1},
                    {"op": "models.generateContent", "kind": "line", "line_kind": "error", "code": 13,
                     "key_contains": "explode"}])
    blocked = client.models.generate_content(model="gemini-3-pro-image", contents="p")
    assert not blocked.candidates and blocked.prompt_feedback.block_reason.name == "SAFETY"
    assert client.models.generate_content(model="gemini-3-pro-image", contents="p").candidates
    with pytest.raises(errors.ServerError) as info:
        client.models.generate_content(model="gemini-3-pro-image", contents="please explode")
    assert info.value.code == 500


@pytest.mark.parametrize("state", ["FAILED", "EXPIRED"])
def test_job_fault_final_states(emu: Emulator, client: genai.Client, state: str) -> None:
    emu.set_faults([{"kind": "job", "job_state": state, "display_name_contains": "doomed"}])
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    ok = client.batches.create(model="gemini-3-pro-image", src=src.name, config={"display_name": "fine"})
    bad = client.batches.create(model="gemini-3-pro-image", src=src.name, config={"display_name": "doomed"})
    assert client.batches.get(name=ok.name).state.name == "JOB_STATE_SUCCEEDED"
    got = client.batches.get(name=bad.name)
    assert got.state.name == f"JOB_STATE_{state}" and got.done and got.dest is None


def test_job_fault_pending_forever(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"kind": "job", "job_state": "PENDING", "count": 1}])
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    job = client.batches.create(model="gemini-3-pro-image", src=src.name)
    for _ in range(3):
        assert client.batches.get(name=job.name).state.name == "JOB_STATE_PENDING"


def test_faults_endpoint(emu: Emulator) -> None:
    with httpx2.Client(base_url=emu.base_url) as http:
        r = http.post("/_emulator/faults", json=[{"op": "files.list", "kind": "status", "status": 500,
                                                  "count": 1}])
        assert r.status_code == 200 and r.json()["faults"][0]["remaining"] == 1
        assert http.get("/v1/files", headers={"x-goog-api-key": "k"}).status_code == 500
        assert http.get("/v1/files", headers={"x-goog-api-key": "k"}).status_code == 200
        assert http.post("/_emulator/faults", json=[{"kind": "nonsense"}]).status_code == 400
        assert http.get("/_emulator/stats").json()["operations"]["files.list"] == 2


def test_bad_rule_is_rejected() -> None:
    with pytest.raises(FaultError):
        Emulator(EmulatorConfig(faults=[{"kind": "line", "line_kind": "meteor"}])).start()
