"""The result decoder on bodies shaped like Google's recorded answers (our own fixtures).

Each body below mirrors one public recording of a real answer (the source is named beside
it; bytes are ours, small, and the signatures are stand-ins of the recorded kinds), so the
decoder is held to what Google sends rather than to what our emulator happens to send.
"""

from __future__ import annotations

import base64
import json

import pytest

from chargen_es.emulator import jpeg
from chargen_es.engine.results import RESPONSE_DECODER, answer_from_line, answer_from_response, decode_line

JPEG = jpeg.render(b"\x01\x02\x03\x04", 1408, 768)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SIGNATURE = base64.b64encode(b"\x0a\x5c" * 4096).decode()  # real ones: 0.6-2.9 million characters


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def usage(prompt: int, image: int = 0, extra: int = 0, thoughts: int | None = None) -> dict:
    out = {"promptTokenCount": prompt, "candidatesTokenCount": image + extra,
           "totalTokenCount": prompt + image + extra + (thoughts or 0),
           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if image:
        out["candidatesTokensDetails"] = [{"modality": "IMAGE", "tokenCount": image}]
    if thoughts is not None:
        out["thoughtsTokenCount"] = thoughts
    return out


def answer(raw: dict) -> object:
    return answer_from_response(RESPONSE_DECODER.decode(json.dumps(raw).encode()))


# gemini-3-pro-image-preview with TEXT+IMAGE, no includeThoughts (pydantic-ai cassette
# test_google_image_generation_with_text, 2025-11-27): a text part, then a JPEG; both final
# parts signed; no thought parts; IMAGE alone itemised.
TEXT_THEN_JPEG = {
    "candidates": [{"content": {"parts": [
        {"text": "Here is a cat in a hat.", "thoughtSignature": SIGNATURE},
        {"inlineData": {"mimeType": "image/jpeg", "data": b64(JPEG)}, "thoughtSignature": SIGNATURE}],
        "role": "model"}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": usage(12, 1120, 163, thoughts=174), "modelVersion": "gemini-3-pro-image-preview",
    "responseId": "AbCdEfGhIjKlMnOpQrStUv"}

# gemini-3.1-flash-lite-image, IMAGE only, 1:8 at 1K (pydantic-ai cassette, 2026-08-12):
# one signed JPEG part, and no thoughtsTokenCount although it is signed.
IMAGE_ONLY = {
    "candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/jpeg", "data": b64(JPEG)},
                                           "thoughtSignature": SIGNATURE}], "role": "model"},
                    "finishReason": "STOP", "index": 0}],
    "usageMetadata": usage(9, 1120, 0), "modelVersion": "gemini-3.1-flash-lite-image", "responseId": "x"}

# With includeThoughts (google-gemini/cookbook Get_Started_Nano_Banana, 2025-11-20): thought
# text, a thought image, thought text, then the final parts.
WITH_THOUGHTS = {
    "candidates": [{"content": {"parts": [
        {"text": "**Crafting the scene**", "thought": True},
        {"inlineData": {"mimeType": "image/jpeg", "data": b64(jpeg.render(b"draft", 1024, 1024))}, "thought": True},
        {"text": "**Checking the image**", "thought": True},
        {"inlineData": {"mimeType": "image/jpeg", "data": b64(JPEG)}, "thoughtSignature": SIGNATURE}],
        "role": "model"}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": usage(10, 1120, 0, thoughts=529), "modelVersion": "gemini-3-pro-image-preview"}

# NO_IMAGE (vercel/ai fixture google-image-no-image-live, 2026-09-17): an empty content
# object, no candidatesTokenCount, total equal to the prompt.
NO_IMAGE = {"candidates": [{"content": {}, "finishReason": "NO_IMAGE", "index": 0}],
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7,
                              "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 7}]},
            "modelVersion": "gemini-3.1-flash-image-preview"}

# A blocked prompt (vercel/ai fixture issue-19758-image-prompt-block, 2026-08-26): no
# candidates key at all, only promptFeedback.blockReason, no safetyRatings.
BLOCKED = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
           "usageMetadata": {"promptTokenCount": 30, "totalTokenCount": 30},
           "modelVersion": "gemini-3.1-flash-image-preview"}

# gemini-2.5-flash-image (pydantic-ai cassette, 2025-10-03): a short text, then a PNG,
# unsigned, no thoughtsTokenCount; and asked for no image, a text-only answer.
TEXT_THEN_PNG = {"candidates": [{"content": {"parts": [{"text": "Here's an image of an axolotl for you! "},
                                                       {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}}],
                                             "role": "model"}, "finishReason": "STOP", "index": 0}],
                 "usageMetadata": usage(8, 1290, 0), "modelVersion": "gemini-2.5-flash-image"}
TEXT_ONLY = {"candidates": [{"content": {"parts": [{"text": "Sure, no image then."}], "role": "model"},
                             "finishReason": "STOP", "index": 0}],
             "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 6, "totalTokenCount": 14},
             "modelVersion": "gemini-2.5-flash-image"}


def test_text_then_a_signed_jpeg_is_one_image_and_its_text():
    a = answer(TEXT_THEN_JPEG)
    assert a.ok and [i.mime for i in a.images] == ["image/jpeg"] and a.images[0].data == JPEG
    assert a.text == "Here is a cat in a hat." and a.model_version == "gemini-3-pro-image-preview"
    assert a.usage == (12, 1120 + 163 + 174, 12 + 1120 + 163 + 174)  # thinking billed as output


def test_a_signed_image_alone_without_thinking_count():
    a = answer(IMAGE_ONLY)
    assert a.ok and a.images[0].data == JPEG and a.usage == (9, 1120, 9 + 1120)
    assert jpeg.size_of(a.images[0].data) == (1408, 768)


def test_thought_parts_are_never_output():
    a = answer(WITH_THOUGHTS)
    assert a.ok and len(a.images) == 1 and a.images[0].data == JPEG and a.text == ""


def test_no_image_with_an_empty_content_object_is_a_retryable_failure():
    a = answer(NO_IMAGE)
    assert (a.ok, a.error_code, a.retryable) == (False, "NO_IMAGE", True) and a.usage == (7, 0, 7)


def test_a_blocked_prompt_has_no_candidates_and_names_the_reason():
    a = answer(BLOCKED)
    assert (a.ok, a.error_code) == (False, "PROHIBITED_CONTENT") and "PROHIBITED_CONTENT" in a.error_message
    assert not a.retryable and a.model_version == "gemini-3.1-flash-image-preview"


def test_the_2_5_generation_text_then_png_and_text_only():
    a = answer(TEXT_THEN_PNG)
    assert a.ok and a.images[0].mime == "image/png" and a.text.startswith("Here's an image")
    b = answer(TEXT_ONLY)
    assert b.ok and b.images == () and b.text == "Sure, no image then."  # outputs: no_image for a generate task


@pytest.mark.parametrize("order", [("response", "key"), ("key", "response")])
def test_a_results_file_line_with_the_key_last_and_keys_in_any_order(order):
    """Results-file lines (google-gemini/cookbook Batch_mode, 2025-07): compact JSON,
    ``response`` first and ``key`` last; key order inside ``response`` varies line to line."""
    shuffled = {k: IMAGE_ONLY[k] for k in ("responseId", "usageMetadata", "candidates", "modelVersion")}
    parts = {"response": shuffled, "key": "character/ada/one@sha256:ab"}
    raw = json.dumps({k: parts[k] for k in order}, separators=(",", ":")).encode()
    line = decode_line(raw)
    a = answer_from_line(line)
    assert line.key == "character/ada/one@sha256:ab" and a.ok and a.images[0].data == JPEG
    assert a.model_version == "gemini-3.1-flash-lite-image"


def test_an_error_line_is_a_failure_with_its_rpc_code():
    a = answer_from_line(decode_line(b'{"key":"k","error":{"code":5,"message":"File not found.","details":[]}}'))
    assert (a.ok, a.error_code, a.retryable) == (False, "rpc_5", False)
