"""Batch API through the unmodified SDK: a full file batch, inline jobs, the clock, list, cancel, delete."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import errors

from chargen_es.emulator import Emulator, EmulatorConfig, jpeg

from .helpers import answer_part, image_request, jsonl, make_client, sdk_answer_part, upload_bytes


def _run_batch(client: genai.Client, lines: list[dict[str, Any]], name: str = "job",
               model: str = "gemini-3-pro-image") -> tuple[Any, dict[str, dict[str, Any]]]:
    src = upload_bytes(client, jsonl(lines), "jsonl", f"{name}-input")
    job = client.batches.create(model=model, src=src.name, config={"display_name": name})
    assert job.state.name == "JOB_STATE_PENDING"
    for _ in range(100):
        job = client.batches.get(name=job.name)
        if job.done:
            break
        time.sleep(0.02)
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    raw = client.files.download(file=job.dest.file_name)
    by_key = {}
    for line in raw.decode().splitlines():
        item = json.loads(line)
        by_key[item["key"]] = item
    return job, by_key


def test_full_batch_with_references(emu: Emulator, client: genai.Client) -> None:
    ref = upload_bytes(client, b"\x89PNG fake reference", "image/png", "ref")
    classify = {"contents": [{"role": "user", "parts": [
        {"fileData": {"fileUri": ref.uri, "mimeType": "image/png"}}, {"text": "Classify."}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseSchema": {
            "type": "OBJECT", "required": ["label", "score"],
            "properties": {"label": {"type": "STRING", "enum": ["cat", "dog"]},
                           "score": {"type": "NUMBER"}}}}}
    snake = {"contents": [{"parts": [{"file_data": {"file_uri": ref.uri, "mime_type": "image/png"}},
                                     {"text": "again"}]}],
             "generation_config": {"responseMimeType": "application/json",
                                   "responseSchema": {"type": "OBJECT", "properties": {
                                       "ok": {"type": "BOOLEAN"}}}}}
    lines = [{"key": f"img-{i}", "request": image_request(f"picture {i}", "16:9")} for i in range(5)]
    lines += [{"key": "cls-1", "request": classify}, {"key": "cls-2", "request": snake},
              {"key": "gone", "request": {"contents": [{"parts": [
                  {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/nope",
                                "mimeType": "image/png"}}]}]}}]
    job, by_key = _run_batch(client, lines, "full")
    assert set(by_key) == {f"img-{i}" for i in range(5)} | {"cls-1", "cls-2", "gone"}
    assert jpeg.size_of(_png_of(by_key["img-0"])) == (1376, 768)  # Gemini 3 at 16:9, 1K (recorded)
    assert json.loads(_text_of(by_key["cls-1"]))["label"] in ("cat", "dog")
    assert isinstance(json.loads(_text_of(by_key["cls-2"]))["ok"], bool)
    assert by_key["gone"]["error"]["code"] in (3, 5)
    raw = _raw_get(emu, job.name)
    assert raw["done"] is True
    assert raw["metadata"]["batchStats"] == {"requestCount": "8", "successfulRequestCount": "7",
                                             "failedRequestCount": "1"}
    assert raw["response"]["responsesFile"] == job.dest.file_name
    stats = emu.stats()
    assert stats["by_display_name"]["full"]["jobs_created"] == 1
    assert sum(stats["batch_inputs_by_sha256"].values()) == 1


def test_output_is_shuffled_but_deterministic(client: genai.Client) -> None:
    lines = [{"key": f"k{i:02d}", "request": {"contents": [{"parts": [{"text": f"t{i}"}]}]}} for i in range(20)]
    _, by_key = _run_batch(client, lines, "shuffle", model="gemini-3.5-flash")
    job = list(client.batches.list())[0]
    order = [json.loads(x)["key"] for x in client.files.download(file=job.dest.file_name).decode().splitlines()]
    assert sorted(order) == [f"k{i:02d}" for i in range(20)] and order != sorted(order)
    _, again = _run_batch(client, lines, "shuffle-2", model="gemini-3.5-flash")
    assert again == by_key  # same requests, same responses


def test_unshuffled_keeps_order() -> None:
    with Emulator(EmulatorConfig(shuffle=False)) as emu:
        client = make_client(emu)
        lines = [{"key": f"k{i}", "request": {"contents": [{"parts": [{"text": "x"}]}]}} for i in range(6)]
        job, _ = _run_batch(client, lines, "ordered", model="gemini-3.5-flash")
        raw = client.files.download(file=job.dest.file_name).decode().splitlines()
        assert [json.loads(x)["key"] for x in raw] == [f"k{i}" for i in range(6)]


def test_inline_batch(client: genai.Client) -> None:
    src = [{"contents": [{"parts": [{"text": "a fox"}], "role": "user"}],
            "config": {"response_modalities": ["IMAGE"]}, "metadata": {"key": "fox"}},
           {"contents": [{"parts": [{"text": "hello"}], "role": "user"}]}]
    job = client.batches.create(model="gemini-3.5-flash", src=src, config={"display_name": "inline"})
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    responses = job.dest.inlined_responses
    assert len(responses) == 2
    assert responses[0].metadata == {"key": "fox"}
    assert sdk_answer_part(responses[0].response).inline_data.data.startswith(b"\xff\xd8")  # Gemini 3: JPEG
    assert responses[1].response.text.startswith("Emulated reply")


def test_job_clock_pending_running_succeeded() -> None:
    with Emulator(EmulatorConfig(job_seconds=0.6)) as emu:
        client = make_client(emu, "v1beta")
        src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
        job = client.batches.create(model="gemini-3-pro-image", src=src.name)
        assert client.batches.get(name=job.name).state.name == "JOB_STATE_PENDING"
        time.sleep(0.35)
        assert client.batches.get(name=job.name).state.name == "JOB_STATE_RUNNING"
        time.sleep(0.35)
        done = client.batches.get(name=job.name)
        assert done.state.name == "JOB_STATE_SUCCEEDED" and done.end_time is not None


def test_list_pagination_and_operations_key(emu: Emulator, client: genai.Client) -> None:
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    names = {client.batches.create(model="gemini-3-pro-image", src=src.name,
                                   config={"display_name": f"j{i}"}).name for i in range(5)}
    pager = client.batches.list(config={"page_size": 2})
    assert len(pager.page) == 2
    assert {b.name for b in pager} == names
    with httpx2.Client(base_url=emu.base_url, headers={"x-goog-api-key": "k"}) as http:
        assert "operations" in http.get("/v1beta/batches?pageSize=100").json()


def test_cancel_and_delete() -> None:
    with Emulator(EmulatorConfig(job_seconds=30)) as emu:
        client = make_client(emu)
        src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
        job = client.batches.create(model="gemini-3-pro-image", src=src.name)
        assert client.batches.cancel(name=job.name) is None
        got = client.batches.get(name=job.name)
        assert got.state.name == "JOB_STATE_CANCELLED" and got.done
        assert _raw_get(emu, job.name)["error"]["code"] == 1
        client.batches.delete(name=job.name)
        with pytest.raises(errors.ClientError) as info:
            client.batches.get(name=job.name)
        assert info.value.code == 404
        assert emu.stats()["operations"]["batches.cancel"] == 1


def test_create_from_missing_or_bad_file(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model="gemini-3.5-flash", src="files/absent")
    assert info.value.code == 404
    empty = upload_bytes(client, b"\n", "jsonl")
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model="gemini-3.5-flash", src=empty.name)
    assert info.value.code == 400
    bad = upload_bytes(client, b"{not json\n", "jsonl")
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model="gemini-3.5-flash", src=bad.name)
    assert info.value.code == 400


def test_reference_expired_before_the_job_ran() -> None:
    with Emulator(EmulatorConfig(file_ttl_s=1.0)) as emu:
        client = make_client(emu)
        ref = upload_bytes(client, b"ref", "image/png")
        line = {"key": "late", "request": {"contents": [{"parts": [
            {"fileData": {"fileUri": ref.uri, "mimeType": "image/png"}}]}]}}
        time.sleep(0.5)
        src = upload_bytes(client, jsonl([line]), "jsonl")
        time.sleep(0.6)  # the reference has expired, the input file has not
        job = client.batches.create(model="gemini-3.5-flash", src=src.name)
        client.batches.get(name=job.name)
        raw = _raw_get(emu, job.name)
        assert raw["metadata"]["batchStats"] == {"requestCount": "1", "failedRequestCount": "1"}


def _raw_get(emu: Emulator, name: str) -> dict[str, Any]:
    with httpx2.Client(base_url=emu.base_url, headers={"x-goog-api-key": "k"}) as http:
        r = http.get(f"/v1beta/{name}")
        assert r.status_code == 200
        return dict(r.json())


def _png_of(line: dict[str, Any]) -> bytes:
    import base64

    data = answer_part(line["response"]["candidates"][0]["content"]["parts"])["inlineData"]["data"]
    png = base64.b64decode(data)
    assert png.startswith(b"\xff\xd8\xff\xe0")  # a JFIF JPEG, as Gemini 3 image models answer
    return png


def _text_of(line: dict[str, Any]) -> str:
    return str(answer_part(line["response"]["candidates"][0]["content"]["parts"])["text"])
