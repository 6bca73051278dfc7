"""What chargen-es relies on from the Gemini API, checked the same way against every target."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from chargen_es.errors import NotFound
from chargen_es.gateway import RemoteFile

from .conftest import Target

PROMPT = "Reply with the single word: ok"
MISSING_MODEL = "gemini-0.1-never-existed"


def answer_text(response: dict[str, Any]) -> str:
    parts = ((response.get("candidates") or [{}])[0].get("content") or {}).get("parts") or []
    return "".join(p.get("text", "") for p in parts if not p.get("thought")).strip()


def test_models_get_and_list_name_the_cheap_text_model_with_both_methods(target: Target) -> None:
    model = target.gateway.get_model(target.model)
    assert model.model_id == target.model
    assert model.supports("generateContent") and model.supports("batchGenerateContent")
    assert target.model in {m.model_id for m in target.gateway.list_models()}


def test_a_model_that_does_not_exist_is_not_found(target: Target) -> None:
    with pytest.raises(NotFound):
        target.gateway.get_model(MISSING_MODEL)
    with pytest.raises(NotFound):
        target.gateway.generate(model=MISSING_MODEL, request={"contents": [{"role": "user", "parts": [{"text": "x"}]}]})


def test_upload_get_list_delete_with_a_hex_sha256(target: Target, tmp_path: Path) -> None:
    data = b"chargen-es contract " + os.urandom(16)
    path = tmp_path / "contract.txt"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    f = target.gateway.upload(path, "text/plain", f"chargen-es:{digest}")
    try:
        assert f.sha256 == digest and f.size == len(data) and f.expires
        got = target.gateway.get_file(f.name)
        assert got.sha256 == digest and got.state in ("ACTIVE", "PROCESSING")
        listed: dict[str, RemoteFile] = {x.name: x for x in target.gateway.list_files()}
        assert listed[f.name].display_name == f"chargen-es:{digest}" and listed[f.name].sha256 == digest
    finally:
        target.gateway.delete_file(f.name)
    target.gateway.delete_file(f.name)  # already gone: still fine
    with pytest.raises(NotFound):
        target.gateway.get_file(f.name)


def test_generate_content_answers_text(target: Target) -> None:
    response = target.gateway.generate(model=target.model,
                                       request={"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]})
    target.spent("generateContent", response, batch=False)
    assert answer_text(response)
    assert int((response.get("usageMetadata") or {}).get("promptTokenCount") or 0) > 0


def test_inline_batch_create_get_list_and_answer(target: Target) -> None:
    job = target.gateway.create_inline_batch(model=target.model, texts=[PROMPT], display_name="chargen-es:contract:inline")
    try:
        assert job.name.startswith("batches/") and job.state in ("PENDING", "RUNNING", "SUCCEEDED")
        assert job.name in {j.name for j in target.gateway.list_batches()}
        done = target.wait(job)
        assert done.state == "SUCCEEDED", done.error
        assert len(done.inline_responses) == 1
        response = done.inline_responses[0]["response"]
        target.spent("inline batch line", response, batch=True)
        assert answer_text(response)
    finally:
        target.gateway.delete_batch(job.name)


def test_a_cancelled_batch_ends_cancelled(target: Target) -> None:
    job = target.gateway.create_inline_batch(model=target.model, texts=[PROMPT], display_name="chargen-es:contract:cancel")
    try:
        target.gateway.cancel_batch(job.name)
        done = target.wait(target.gateway.get_batch(job.name))
        # a job that had already finished cannot be cancelled any more
        assert done.state in ("CANCELLED", "SUCCEEDED")
        if done.state == "SUCCEEDED" and done.inline_responses:
            target.spent("cancelled-too-late line", done.inline_responses[0].get("response") or {}, batch=True)
    finally:
        target.gateway.delete_batch(job.name)


def test_file_batch_and_streamed_download(target: Target, tmp_path: Path) -> None:
    line = {"key": "contract-1", "request": {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}}
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps(line) + "\n", encoding="utf-8")
    upload = target.gateway.upload(requests, "application/jsonl", "chargen-es:contract:requests")
    job = target.gateway.create_batch(model=target.model, input_file=upload.name,
                                      display_name="chargen-es:contract:file:1")
    try:
        done = target.wait(job)
        assert done.state == "SUCCEEDED", done.error
        assert done.output_file.startswith("files/") and done.input_file == upload.name
        got = target.gateway.download(done.output_file, tmp_path / "results.part")
        data = got.path.read_bytes()
        assert got.sha256 == hashlib.sha256(data).hexdigest() and got.lines == 1
        result = json.loads(data)
        assert result["key"] == "contract-1"
        target.spent("file batch line", result["response"], batch=True)
        assert answer_text(result["response"])
        target.gateway.delete_file(done.output_file)
    finally:
        target.gateway.delete_batch(job.name)
        target.gateway.delete_file(upload.name)
