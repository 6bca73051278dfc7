"""Wire details checked with a plain HTTP client: what the SDK never exercises, but Google allows."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from chargen_es.emulator import Emulator

KEY = {"x-goog-api-key": "k"}


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=emu.base_url, trust_env=False) as client:
        yield client


def _start(http: httpx2.Client, size: int, name: str = "raw") -> str:
    r = http.post("/upload/v1beta/files", headers={**KEY, "x-goog-upload-protocol": "resumable",
                                                   "x-goog-upload-command": "start"},
                  json={"file": {"displayName": name, "mimeType": "text/plain", "sizeBytes": size}})
    assert r.status_code == 200
    return r.headers["x-goog-upload-url"]


def _chunk(http: httpx2.Client, url: str, data: bytes, offset: int, final: bool) -> httpx2.Response:
    command = "upload, finalize" if final else "upload"
    return http.post(url, content=data, headers={"x-goog-upload-command": command,
                                                 "x-goog-upload-offset": str(offset)})


def test_resent_chunk_is_idempotent(http: httpx2.Client) -> None:
    url = _start(http, 6)
    assert _chunk(http, url, b"abc", 0, False).headers["x-goog-upload-status"] == "active"
    assert _chunk(http, url, b"abc", 0, False).status_code == 200  # the SDK re-sends on a lost reply
    done = _chunk(http, url, b"def", 3, True)
    assert done.headers["x-goog-upload-status"] == "final"
    fid = done.json()["file"]["name"]
    assert http.get(f"/v1/{fid}:download?alt=media", headers=KEY).content == b"abcdef"


def test_bad_offset_and_size_fail_with_final_status(http: httpx2.Client) -> None:
    url = _start(http, 6)
    r = _chunk(http, url, b"abc", 3, False)
    assert r.status_code == 400 and r.headers["x-goog-upload-status"] == "final"
    r = _chunk(http, url, b"abc", 0, True)
    assert r.status_code == 400 and r.headers["x-goog-upload-status"] == "final"
    r = _chunk(http, url, b"abc", 0, True)  # the session is gone after a failed finalize
    assert r.status_code == 404 and r.headers["x-goog-upload-status"] == "final"


def test_query_and_cancel(http: httpx2.Client) -> None:
    url = _start(http, 6)
    _chunk(http, url, b"abcd", 0, False)
    r = http.post(url, headers={"x-goog-upload-command": "query"})
    assert r.headers["x-goog-upload-size-received"] == "4"
    assert http.post(url, headers={"x-goog-upload-command": "cancel"}).status_code == 200
    assert _chunk(http, url, b"ef", 4, True).status_code == 404


def test_errors_are_google_rpc_shaped(http: httpx2.Client) -> None:
    r = http.get("/v1/nowhere", headers=KEY)
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    r = http.post("/v1/models/gemini-3.5-flash:batchGenerateContent", headers=KEY, content=b"{oops")
    assert r.status_code == 400 and r.json()["error"]["code"] == 400
    r = http.post("/v1/models/gemini-3.5-flash:batchGenerateContent", headers=KEY, json={"batch": {}})
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_batch_delete_post_form_and_inline_snake_case(http: httpx2.Client) -> None:
    body = {"batch": {"display_name": "snake", "input_config": {"requests": {"requests": [
        {"request": {"contents": [{"parts": [{"text": "hi"}]}]}, "metadata": {"key": "k1"}}]}}}}
    op = http.post("/v1beta/models/gemini-3.5-flash:batchGenerateContent", headers=KEY, json=body).json()
    assert op["metadata"]["displayName"] == "snake" and op["metadata"]["state"] == "BATCH_STATE_PENDING"
    assert op["metadata"]["batchStats"] == {"requestCount": "1", "pendingRequestCount": "1"}
    done = http.get(f"/v1beta/{op['name']}", headers=KEY).json()
    inlined = done["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
    assert inlined[0]["metadata"] == {"key": "k1"} and "response" in inlined[0]
    assert done["response"]["@type"].endswith("GenerateContentBatchOutput")
    assert http.post(f"/v1beta/{op['name']}:delete", headers=KEY).json() == {}
    assert http.get(f"/v1beta/{op['name']}", headers=KEY).status_code == 404


def test_stats_shape(emu: Emulator, http: httpx2.Client) -> None:
    stats = http.get("/_emulator/stats").json()
    for key in ("operations", "by_display_name", "uploads_by_sha256", "batch_inputs_by_sha256",
                "calls", "downloads", "deletes"):
        assert key in stats
    assert stats == emu.stats()


def test_prefixed_control_and_api_paths(http: httpx2.Client) -> None:
    assert http.get("/gw/v1beta/files", headers=KEY).json() == {}
    assert "operations" in http.get("/gw/_emulator/stats").json()


def test_default_and_max_page_sizes(emu: Emulator, http: httpx2.Client) -> None:
    for i in range(105):
        assert _chunk(http, _start(http, 1, f"f{i}"), b"x", 0, True).status_code == 200
    first = http.get("/v1/files", headers=KEY).json()
    assert len(first["files"]) == 10 and first["nextPageToken"]
    big = http.get("/v1/files?pageSize=1000", headers=KEY).json()
    assert len(big["files"]) == 100
    last = http.get(f"/v1/files?pageSize=1000&pageToken={big['nextPageToken']}", headers=KEY).json()
    assert len(last["files"]) == 5 and "nextPageToken" not in last
