"""finishReason variants and the drafts-only answer, in batch lines and live calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google import genai

from chargen_es.emulator import Emulator

from .helpers import image_request, jsonl, upload_bytes


def _batch_candidate(client: genai.Client, model: str, request: dict[str, Any]) -> dict[str, Any]:
    src = upload_bytes(client, jsonl([{"key": "bad-1", "request": request}]), "jsonl")
    job = client.batches.get(name=client.batches.create(model=model, src=src.name).name)
    assert job.dest is not None and job.dest.file_name
    (line,) = [json.loads(raw) for raw in client.files.download(file=job.dest.file_name).splitlines()]
    return dict(line["response"]["candidates"][0])


@pytest.mark.parametrize(("kind", "finish"), [("image_safety", "IMAGE_SAFETY"), ("no_image", "NO_IMAGE")])
def test_no_image_answers(emu: Emulator, client: genai.Client, kind: str, finish: str) -> None:
    emu.set_faults([{"kind": "line", "line_kind": kind}])
    cand = _batch_candidate(client, "gemini-3-pro-image", image_request("x"))
    assert cand["finishReason"] == finish and "parts" not in cand["content"]
    live = client.models.generate_content(model="gemini-3-pro-image", contents="x",
                                          config={"response_modalities": ["IMAGE"]})
    assert live.candidates[0].finish_reason.name == finish and not live.candidates[0].content.parts


def test_normal_answer_is_stop(client: genai.Client) -> None:
    assert _batch_candidate(client, "gemini-3-pro-image", image_request("x"))["finishReason"] == "STOP"


def test_max_tokens(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"kind": "line", "line_kind": "max_tokens"}])
    image = _batch_candidate(client, "gemini-3-pro-image", image_request("x", thoughts=True))
    assert image["finishReason"] == "MAX_TOKENS"
    assert all(p.get("thought") for p in image["content"]["parts"])  # drafts, no final image
    plain = _batch_candidate(client, "gemini-3-pro-image", image_request("y"))
    assert plain["finishReason"] == "MAX_TOKENS" and plain["content"] == {"role": "model"}
    text = client.models.generate_content(model="gemini-3.5-flash", contents="a long story please")
    assert text.candidates[0].finish_reason.name == "MAX_TOKENS"
    answer = [p for p in text.candidates[0].content.parts if not p.thought]
    assert answer and answer[-1].text


def test_drafts_only(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"kind": "line", "line_kind": "drafts_only", "op": "batches.line"},
                    {"kind": "line", "line_kind": "drafts_only", "finish_reason": "NO_IMAGE",
                     "op": "models.generateContent"}])
    cand = _batch_candidate(client, "gemini-3-pro-image", image_request("x"))
    parts = cand["content"]["parts"]
    assert cand["finishReason"] == "STOP"
    assert [p["thought"] for p in parts] == [True, True, True]
    assert ["inlineData" in p for p in parts] == [False, True, True]
    live = client.models.generate_content(model="gemini-3-pro-image", contents="x",
                                          config={"response_modalities": ["IMAGE"]})
    assert live.candidates[0].finish_reason.name == "NO_IMAGE"
    assert all(p.thought for p in live.candidates[0].content.parts)
    assert any(p.inline_data for p in live.candidates[0].content.parts)
