"""Result lines in the shapes Gemini 3 sends: thought drafts first, the final image last."""

from __future__ import annotations

import base64
import json

from chargen_es.engine.results import answer_from_line, decode_line

DRAFT_1 = b"\x89PNG draft one"
DRAFT_2 = b"\x89PNG draft two"
FINAL = b"\x89PNG the final image"


def _inline(data: bytes, thought: bool = False) -> dict[str, object]:
    part: dict[str, object] = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(data).decode()}}
    if thought:
        part["thought"] = True
    else:
        part["thoughtSignature"] = base64.b64encode(b"opaque").decode()
    return part


def _line(parts: list[dict[str, object]], finish: str = "STOP") -> bytes:
    return json.dumps({"key": "k1", "response": {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1120, "thoughtsTokenCount": 300,
                          "totalTokenCount": 1430}}}).encode()


def test_the_final_image_is_kept_and_thought_drafts_are_not() -> None:
    outcome = answer_from_line(decode_line(_line([
        {"text": "Composing the harbour scene", "thought": True},
        _inline(DRAFT_1, thought=True),
        {"text": "Refining the light", "thought": True},
        _inline(DRAFT_2, thought=True),
        _inline(FINAL),
    ])))
    assert outcome.ok
    assert [i.data for i in outcome.images] == [FINAL]
    assert outcome.text == ""  # thinking text is not the answer
    assert outcome.usage == (10, 1420, 1430)


def test_drafts_without_a_final_image_are_no_image_not_a_success() -> None:
    outcome = answer_from_line(decode_line(_line([_inline(DRAFT_1, thought=True), _inline(DRAFT_2, thought=True)])))
    assert not outcome.ok
    assert outcome.images == ()
    assert outcome.error_code == "NO_IMAGE"
    assert outcome.retryable
    assert "draft" in outcome.error_message


def test_finish_reason_no_image_is_a_retryable_failure() -> None:
    outcome = answer_from_line(decode_line(_line([_inline(DRAFT_1, thought=True)], finish="NO_IMAGE")))
    assert (outcome.ok, outcome.error_code, outcome.retryable) == (False, "NO_IMAGE", True)
    blocked = answer_from_line(decode_line(_line([], finish="IMAGE_SAFETY")))
    assert (blocked.error_code, blocked.retryable) == ("IMAGE_SAFETY", False)


def test_an_analysis_reads_only_the_answer_text() -> None:
    outcome = answer_from_line(decode_line(_line([
        {"text": '{"draft": "thinking aloud, not the answer"}', "thought": True},
        {"text": '{"mood": "stormy", '},
        {"text": '"palette": ["slate"]}'},
    ])))
    assert outcome.ok
    assert json.loads(outcome.text) == {"mood": "stormy", "palette": ["slate"]}
