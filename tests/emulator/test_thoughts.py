"""Thought parts as Gemini 3 sends them: none unless the request asks (``includeThoughts``);
asked, thought text, draft images, then the signed final image. Recorded answers of Gemini 3
image models called without ``includeThoughts`` carry no thought part at all (pydantic-ai
cassettes of gemini-3-pro-image(-preview), 2025-11 and 2026-07); with it, the cookbook's
saved output shows thought text, a thought image, thought text (2025-11-20)."""

from __future__ import annotations

import base64
import json
from typing import Any

from google import genai

from chargen_es.emulator import Emulator, EmulatorConfig

from .helpers import image_request, jsonl, make_client, upload_bytes

IMAGE = {"response_modalities": ["IMAGE"], "image_config": {"aspect_ratio": "1:1"},
         "thinking_config": {"include_thoughts": True}}


def _batch_parts(client: genai.Client, model: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    src = upload_bytes(client, jsonl([{"key": "k", "request": request}]), "jsonl")
    job = client.batches.get(name=client.batches.create(model=model, src=src.name).name)
    assert job.dest is not None and job.dest.file_name
    (line,) = [json.loads(raw) for raw in client.files.download(file=job.dest.file_name).splitlines()]
    return list(line["response"]["candidates"][0]["content"]["parts"])


def _check_image_order(parts: list[dict[str, Any]], drafts: int) -> bytes:
    """thought text, ``drafts`` thought images, then one final image with a signature."""
    assert parts[0]["thought"] is True and isinstance(parts[0]["text"], str)
    images = parts[1:]
    assert len(images) == drafts + 1
    for draft in images[:-1]:
        assert draft["thought"] is True and draft["inlineData"]["mimeType"] == "image/jpeg"
    final = images[-1]
    assert "thought" not in final and final["thoughtSignature"]
    finals = base64.b64decode(final["inlineData"]["data"])
    drafts_bytes = [base64.b64decode(d["inlineData"]["data"]) for d in images[:-1]]
    assert all(d.startswith(b"\xff\xd8") and d != finals for d in drafts_bytes)
    assert len(set(drafts_bytes)) == len(drafts_bytes)
    return finals


def test_pro_image_batch_line_has_two_drafts_then_final(client: genai.Client) -> None:
    parts = _batch_parts(client, "gemini-3-pro-image", image_request("a fox", thoughts=True))
    _check_image_order(parts, 2)


def test_flash_image_has_one_draft(client: genai.Client) -> None:
    _check_image_order(_batch_parts(client, "gemini-3.1-flash-image", image_request("a fox", thoughts=True)), 1)


def test_live_matches_batch_byte_for_byte(client: genai.Client) -> None:
    batch = _check_image_order(_batch_parts(client, "gemini-3-pro-image", image_request("a fox", thoughts=True)), 2)
    response = client.models.generate_content(model="gemini-3-pro-image", contents="a fox",
                                              config={**IMAGE, "image_config": {"aspect_ratio": "1:1"}})
    parts = response.candidates[0].content.parts
    assert [bool(p.thought) for p in parts] == [True, True, True, False]
    assert parts[0].text and parts[1].inline_data and parts[2].inline_data
    assert isinstance(parts[-1].thought_signature, bytes) and parts[-1].thought_signature
    assert parts[-1].inline_data.data == batch
    assert parts[1].inline_data.data != batch
    usage = response.usage_metadata
    assert usage.thoughts_token_count and usage.thoughts_token_count > 0
    assert usage.total_token_count == (usage.prompt_token_count + usage.candidates_token_count
                                       + usage.thoughts_token_count)


def test_drafts_and_final_are_pure_functions_of_the_request(client: genai.Client) -> None:
    a = _batch_parts(client, "gemini-3-pro-image", image_request("a fox", thoughts=True))
    b = _batch_parts(client, "gemini-3-pro-image", image_request("a fox", thoughts=True))
    assert a == b


def test_final_image_is_the_same_with_thoughts_off(client: genai.Client) -> None:
    with_thoughts = _check_image_order(_batch_parts(client, "gemini-3-pro-image", image_request("owl", thoughts=True)), 2)
    with Emulator(EmulatorConfig(thoughts=False)) as plain:
        parts = _batch_parts(make_client(plain, "v1beta"), "gemini-3-pro-image", image_request("owl", thoughts=True))
    assert len(parts) == 1 and "thought" not in parts[0]
    assert base64.b64decode(parts[0]["inlineData"]["data"]) == with_thoughts


THOUGHTS = {"thinkingConfig": {"includeThoughts": True}}


def test_without_include_thoughts_no_thought_part_comes_but_thinking_is_counted(client: genai.Client) -> None:
    parts = _batch_parts(client, "gemini-3-pro-image", image_request("a fox"))
    assert len(parts) == 1 and "thought" not in parts[0] and parts[0]["thoughtSignature"]
    with_thoughts = _check_image_order(_batch_parts(client, "gemini-3-pro-image",
                                                    image_request("a fox", thoughts=True)), 2)
    assert base64.b64decode(parts[0]["inlineData"]["data"]) == with_thoughts  # same final image
    response = client.models.generate_content(model="gemini-3.5-flash", contents="hi")
    assert [bool(p.thought) for p in response.candidates[0].content.parts] == [False]
    assert response.usage_metadata.thoughts_token_count


def test_text_models_think_first(client: genai.Client) -> None:
    parts = _batch_parts(client, "gemini-3.5-flash", {"contents": [{"parts": [{"text": "hi"}]}],
                                                       "generationConfig": THOUGHTS})
    assert [p.get("thought", False) for p in parts] == [True, False]
    assert parts[1]["text"].startswith("Emulated reply") and parts[1]["thoughtSignature"]
    schema = {"contents": [{"parts": [{"text": "tags"}]}],
              "generationConfig": {"responseMimeType": "application/json",
                                   "responseJsonSchema": {"type": "object", "properties": {"n": {"type": "integer"}},
                                                          "required": ["n"]}}}
    live = client.models.generate_content(model="gemini-3.5-flash", contents="tags",
                                          config={"thinking_config": {"include_thoughts": True},
                                                  "response_mime_type": "application/json",
                                                  "response_json_schema": schema["generationConfig"][
                                                      "responseJsonSchema"]})
    parts_live = live.candidates[0].content.parts
    assert parts_live[0].thought and not parts_live[1].thought
    assert isinstance(json.loads(parts_live[1].text)["n"], int)


def test_older_text_models_do_not(client: genai.Client) -> None:
    parts = _batch_parts(client, "gemini-2.5-flash", {"contents": [{"parts": [{"text": "hi"}]}]})
    assert len(parts) == 1 and "thought" not in parts[0] and "thoughtSignature" not in parts[0]


def test_thoughts_configurable_per_model() -> None:
    models = [{"id": "img", "image": True, "draft_images": 0, "thought_text": False}]
    with Emulator(EmulatorConfig(models=models)) as emu:
        parts = _batch_parts(make_client(emu, "v1beta"), "img", image_request("x", thoughts=True))
    assert len(parts) == 1 and "inlineData" in parts[0]
