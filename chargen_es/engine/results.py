"""Result lines and live responses, parsed into one :class:`Answer` both runners write.

A batch output line is ``{"key": ..., "response": GenerateContentResponse}`` or
``{"key": ..., "error": Status}``; a live call returns the same response JSON. msgspec
decodes only the fields we use (image bytes arrive base64-decoded by the decoder itself),
so a 1.5 MB image line costs one pass. Nothing from the server names a path. The wire
structs use Python names with ``rename="camel"``; proto JSON also accepts snake case, so
the two fields seen both ways carry a second, explicitly named spelling.

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

import dataclasses
from dataclasses import dataclass

import msgspec


class _Struct(msgspec.Struct, forbid_unknown_fields=False, rename="camel"):
    """Wire structs: Python names, Google's camelCase JSON names."""


class InlineData(_Struct):
    mime_type: str = ""
    mime_type_snake: str = msgspec.field(default="", name="mime_type")  # proto JSON accepts both spellings
    data: bytes = b""


class Part(_Struct):
    text: str | None = None
    inline_data: InlineData | None = None
    inline_data_snake: InlineData | None = msgspec.field(default=None, name="inline_data")
    thought: bool = False


class Content(_Struct):
    parts: list[Part] = []


class Candidate(_Struct):
    content: Content | None = None
    finish_reason: str = ""


class PromptFeedback(_Struct):
    block_reason: str = ""
    block_reason_message: str = ""


class UsageMetadata(_Struct):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int = 0  # billed as output by the thinking models
    total_token_count: int = 0


class Response(_Struct):
    candidates: list[Candidate] = []
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: str = ""  # the model that answered (a retired id is answered by another)


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
class Answer:
    """What the model answered for one item: images and text, or why nothing is usable."""

    images: tuple[Image, ...] = ()
    text: str = ""
    usage: tuple[int, int, int] = (0, 0, 0)
    error_code: str = ""
    error_message: str = ""
    retryable: bool = False
    model_version: str = ""  # the response's ``modelVersion``

    @property
    def ok(self) -> bool:
        return not self.error_code


def answer_from_response(response: Response) -> Answer:
    """Classify a response: images/text, or a safety block, a bad finish, no content."""
    answer = _classify(response)
    return dataclasses.replace(answer, model_version=response.model_version) if response.model_version else answer


def _classify(response: Response) -> Answer:
    usage = response.usage_metadata or UsageMetadata()
    tokens = (usage.prompt_token_count, usage.candidates_token_count + usage.thoughts_token_count, usage.total_token_count)
    if not response.candidates:
        feedback = response.prompt_feedback or PromptFeedback()
        reason = feedback.block_reason or "NO_CANDIDATES"
        return Answer(usage=tokens, error_code=reason,
                       error_message=f"no candidates: blocked ({reason}) {feedback.block_reason_message}".strip())
    candidate = response.candidates[0]
    images: list[Image] = []
    texts: list[str] = []
    drafts = 0
    for part in (candidate.content.parts if candidate.content else []):
        data = part.inline_data or part.inline_data_snake
        if part.thought:  # a draft image or thinking text: never output
            drafts += data is not None and bool(data.data)
            continue
        if data is not None and data.data:
            images.append(Image(data.mime_type or data.mime_type_snake or "application/octet-stream", data.data))
        elif part.text:
            texts.append(part.text)
    text = "".join(texts)
    if candidate.finish_reason not in ("", "STOP"):
        return Answer(usage=tokens, text=text, error_code=candidate.finish_reason,
                       error_message=f"finish_reason {candidate.finish_reason}, no usable output",
                       retryable=candidate.finish_reason in RETRYABLE_FINISH)
    if drafts and not images:
        return Answer(usage=tokens, text=text, error_code="NO_IMAGE", retryable=True,
                      error_message=f"only {drafts} draft (thought) image(s), no final image")
    return Answer(images=tuple(images), text=text, usage=tokens)


def answer_from_line(line: ResultLine) -> Answer:
    if line.error is not None:
        return Answer(error_code=f"rpc_{line.error.code}", error_message=line.error.message or "error",
                       retryable=line.error.code in _RETRYABLE_RPC)
    if line.response is None:
        return Answer(error_code="empty_line", error_message="result line has neither response nor error")
    return answer_from_response(line.response)


def decode_line(raw: bytes) -> ResultLine:
    """Decode one output line; raises ``msgspec.DecodeError`` on garbage."""
    return LINE_DECODER.decode(raw)
