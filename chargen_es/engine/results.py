"""Result lines and live responses, parsed into one outcome type both runners apply.

A batch output line is ``{"key": ..., "response": GenerateContentResponse}`` or
``{"key": ..., "error": Status}``; a live call returns the same response JSON. msgspec
decodes only the fields we use (image bytes arrive base64-decoded by the decoder itself),
so a 1.5 MB image line costs one pass. Nothing from the server names a path.

Thought parts: Gemini 3 image models send one or two interim draft images (parts with
``"thought": true``) before the final one, and thinking text models may send thought
text first. Only parts that are not thoughts are output: Google's own examples skip
``part.thought`` before reading ``inlineData`` (google-gemini/cookbook
quickstarts-js/Image_out.js, ``if (part.thought) continue;``; ``Part.thought``,
"Indicates if the part is thought from the model", googleapis
google/ai/generativelanguage/v1beta/content.proto; both read 2026-12-02). An answer with
drafts but no final image is the failure ``NO_IMAGE``, never a success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec


class _Struct(msgspec.Struct, forbid_unknown_fields=False):
    pass


class InlineData(_Struct):
    mimeType: str = ""  # noqa: N815 - wire names
    mime_type: str = ""
    data: bytes = b""


class Part(_Struct):
    text: str | None = None
    inlineData: InlineData | None = None  # noqa: N815
    inline_data: InlineData | None = None
    thought: bool = False


class Content(_Struct):
    parts: list[Part] = []


class Candidate(_Struct):
    content: Content | None = None
    finishReason: str = ""  # noqa: N815


class PromptFeedback(_Struct):
    blockReason: str = ""  # noqa: N815
    blockReasonMessage: str = ""  # noqa: N815


class UsageMetadata(_Struct):
    promptTokenCount: int = 0  # noqa: N815
    candidatesTokenCount: int = 0  # noqa: N815
    thoughtsTokenCount: int = 0  # noqa: N815 - billed as output by the thinking models
    totalTokenCount: int = 0  # noqa: N815


class Response(_Struct):
    candidates: list[Candidate] = []
    promptFeedback: PromptFeedback | None = None  # noqa: N815
    usageMetadata: UsageMetadata | None = None  # noqa: N815


class Status(_Struct):
    code: int = 0
    message: str = ""


class ResultLine(_Struct):
    key: str = ""
    response: Response | None = None
    error: Status | None = None


LINE_DECODER = msgspec.json.Decoder(ResultLine)
RESPONSE_DECODER = msgspec.json.Decoder(Response)

# google.rpc canonical codes worth retrying in a new attempt
_RETRYABLE_RPC = frozenset({4, 8, 10, 13, 14})
# finishReason values (googleapis generative_service.proto Candidate.FinishReason, read
# 2026-12-02) after which a new attempt may well succeed: no policy decided against the
# content, the model just stopped short or drew nothing
RETRYABLE_FINISH = frozenset({"MAX_TOKENS", "OTHER", "IMAGE_OTHER", "NO_IMAGE"})


@dataclass(frozen=True)
class Image:
    mime: str
    data: bytes


@dataclass(frozen=True)
class Outcome:
    """What one item produced: images and text, or the reason it produced nothing usable."""

    images: tuple[Image, ...] = ()
    text: str = ""
    usage: tuple[int, int, int] = (0, 0, 0)
    error_code: str = ""
    error_message: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return not self.error_code


def from_response(response: Response) -> Outcome:
    """Classify a response: images/text, or a safety block, a bad finish, no content."""
    usage = response.usageMetadata or UsageMetadata()
    tokens = (usage.promptTokenCount, usage.candidatesTokenCount + usage.thoughtsTokenCount, usage.totalTokenCount)
    if not response.candidates:
        feedback = response.promptFeedback or PromptFeedback()
        reason = feedback.blockReason or "NO_CANDIDATES"
        return Outcome(usage=tokens, error_code=reason,
                       error_message=f"no candidates: blocked ({reason}) {feedback.blockReasonMessage}".strip())
    candidate = response.candidates[0]
    images: list[Image] = []
    texts: list[str] = []
    drafts = 0
    for part in (candidate.content.parts if candidate.content else []):
        data = part.inlineData or part.inline_data
        if part.thought:  # a draft image or thinking text: never output
            drafts += data is not None and bool(data.data)
            continue
        if data is not None and data.data:
            images.append(Image(data.mimeType or data.mime_type or "application/octet-stream", data.data))
        elif part.text:
            texts.append(part.text)
    text = "".join(texts)
    if candidate.finishReason not in ("", "STOP"):
        return Outcome(usage=tokens, text=text, error_code=candidate.finishReason,
                       error_message=f"finishReason {candidate.finishReason}, no usable output",
                       retryable=candidate.finishReason in RETRYABLE_FINISH)
    if drafts and not images:
        return Outcome(usage=tokens, text=text, error_code="NO_IMAGE", retryable=True,
                       error_message=f"only {drafts} draft (thought) image(s), no final image")
    return Outcome(images=tuple(images), text=text, usage=tokens)


def from_line(line: ResultLine) -> Outcome:
    if line.error is not None:
        return Outcome(error_code=f"rpc_{line.error.code}", error_message=line.error.message or "error",
                       retryable=line.error.code in _RETRYABLE_RPC)
    if line.response is None:
        return Outcome(error_code="empty_line", error_message="result line has neither response nor error")
    return from_response(line.response)


def decode_line(raw: bytes) -> ResultLine:
    """Decode one output line; raises ``msgspec.DecodeError`` on garbage."""
    return LINE_DECODER.decode(raw)


def parse_analysis(text: str) -> dict[str, Any] | None:
    """The analysis object, or None when the model's text is not a JSON object."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
