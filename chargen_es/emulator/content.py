"""Content generation: one GenerateContentRequest in, a response or a line Status out.

Shared by batch lines and the live ``generateContent`` call so both give the same output
for the same request. Everything is a pure function of the canonical request JSON (both
spellings hash alike), except the references to uploaded files, which must be live at
the moment of generation, and the line faults, which are drawn from the fault set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chargen_es.emulator import png, schema
from chargen_es.emulator.catalog import ModelSpec
from chargen_es.emulator.faults import Faults
from chargen_es.emulator.wire import canonical, field, line_status

_FILE_ID_RE = re.compile(r"files/([a-z0-9-]+)")


@dataclass(frozen=True)
class LineFault:
    """A per-line failure drawn from a ``line`` rule; stored with a batch so it survives restarts."""

    line_kind: str
    code: int = 13
    message: str | None = None
    finish_reason: str | None = None

    @classmethod
    def draw(cls, faults: Faults, key: str, live: bool) -> LineFault | None:
        rule = faults.take_line(key, live)
        return None if rule is None else cls(rule.line_kind, rule.code, rule.message, rule.finish_reason)

    def to_json(self) -> dict[str, Any]:
        return {"line_kind": self.line_kind, "code": self.code, "message": self.message,
                "finish_reason": self.finish_reason}

    @classmethod
    def from_json(cls, raw: Any) -> LineFault | None:
        return None if not raw else cls(str(raw["line_kind"]), int(raw["code"]), raw.get("message"),
                                        raw.get("finish_reason"))


@dataclass(frozen=True)
class Outcome:
    """Either ``response`` (a GenerateContentResponse) or ``error`` (a google.rpc.Status)."""

    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def file_id_of(uri: str) -> str | None:
    """The id after ``files/`` in a name or URI, ignoring host and API version."""
    m = _FILE_ID_RE.search(uri)
    return m.group(1) if m else None


def prompt_text(request: Any) -> str:
    """All text parts of all contents, joined: what ``key_contains`` matches for live calls."""
    texts: list[str] = []
    for content in field(request, "contents") or []:
        for part in field(content, "parts") or []:
            text = field(part, "text")
            if isinstance(text, str):
                texts.append(text)
    return "\n".join(texts)


def _file_refs(request: Any) -> list[str]:
    refs: list[str] = []
    for content in field(request, "contents") or []:
        for part in field(content, "parts") or []:
            data = field(part, "fileData")
            if isinstance(data, dict):
                refs.append(str(field(data, "fileUri", "")))
    return refs


def _wants_image(spec: ModelSpec, gen: Any) -> bool:
    modalities = field(gen, "responseModalities")
    if isinstance(modalities, list) and modalities:
        return any(str(m).upper() == "IMAGE" for m in modalities)
    return spec.image


def _usage(prompt: str, n_parts: int, out_tokens: int, thought_tokens: int = 0) -> dict[str, Any]:
    prompt_tokens = len(prompt) // 4 + 1 + 258 * n_parts
    usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": out_tokens,
             "totalTokenCount": prompt_tokens + out_tokens + thought_tokens}
    if thought_tokens:
        usage["thoughtsTokenCount"] = thought_tokens
    return usage


def _by_content(value: Any, shas: dict[str, str]) -> Any:
    """The request with every file URI replaced by its file's SHA-256.

    Outputs are a pure function of what the request *means*: the same prompt over the same
    reference bytes gives the same pixels whether the file was uploaded once or again
    under a new id (a resumed or repeated run must be comparable byte for byte).
    """
    if isinstance(value, dict):
        return {k: (shas.get(v, v) if k in ("fileUri", "file_uri") and isinstance(v, str) else _by_content(v, shas))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_by_content(v, shas) for v in value]
    return value


def generate(model: str, request: Any, *, fault: LineFault | None,
             live_file_sha: Callable[[str], str | None], image_bytes: int,
             spec: ModelSpec | None = None) -> Outcome:
    """Answer one request, applying the line *fault* drawn for it by the caller.

    ``live_file_sha`` gives the SHA-256 of a live file by id, or None when it does not
    exist or has expired (that line then fails with a Status). ``spec`` says how the model
    thinks (draft images, thought text); None is a plain model named ``model``.
    """
    if spec is None:
        spec = ModelSpec(id=model.removeprefix("models/"), display_name=model, image="image" in model.lower())
    if not isinstance(request, dict):
        return Outcome(error=line_status(3, "request must be a GenerateContentRequest object"))
    short_model = model.removeprefix("models/")
    shas: dict[str, str] = {}
    for uri in _file_refs(request):
        fid = file_id_of(uri)
        sha = live_file_sha(fid) if fid is not None else None
        if sha is None:
            return Outcome(error=line_status(5, f"File {uri!r} does not exist or has expired."))
        shas[uri] = f"sha256:{sha}"
    prompt = prompt_text(request)
    kind = fault.line_kind if fault else None
    if fault is not None and kind == "error":
        return Outcome(error=line_status(fault.code, fault.message or "Injected line failure."))
    n_parts = len(_file_refs(request))
    seed = hashlib.sha256(canonical([short_model, _by_content(request, shas)])).digest()
    base: dict[str, Any] = {"modelVersion": spec.answered_by or short_model,
                            "responseId": seed.hex()[:20]}
    if spec.model_status:
        base["modelStatus"] = dict(spec.model_status)
    if kind == "safety":
        return Outcome(response={**base, "promptFeedback": {"blockReason": "SAFETY"},
                                 "usageMetadata": _usage(prompt, n_parts, 0)})
    answer = _parts(spec, field(request, "generationConfig") or {}, fault, seed, prompt, image_bytes)
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": answer.parts},
                                 "finishReason": answer.finish, "index": 0}
    if not answer.parts:
        candidate["content"] = {"role": "model"}
    return Outcome(response={"candidates": [candidate], **base,
                             "usageMetadata": _usage(prompt, n_parts, answer.out_tokens, answer.thought_tokens)})


@dataclass
class _Answer:
    parts: list[dict[str, Any]]
    finish: str = "STOP"
    out_tokens: int = 0
    thought_tokens: int = 0


def _digest(seed: bytes, label: str) -> bytes:
    return hashlib.sha256(seed + label.encode()).digest()


def _thought_text(seed: bytes, prompt: str, image: bool) -> dict[str, Any]:
    what = "the composition" if image else "the answer"
    return {"text": f"**Planning {what}** ({seed.hex()[:8]}): considering {prompt[:60]!r}.", "thought": True}


def _image_part(data: bytes) -> dict[str, Any]:
    return {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(data).decode()}}


def _signed(part: dict[str, Any], seed: bytes) -> dict[str, Any]:
    """Gemini 3 answers carry a ``thoughtSignature`` (bytes, base64 on the wire) on the answer part."""
    return {**part, "thoughtSignature": base64.b64encode(_digest(seed, "signature")).decode()}


def _parts(spec: ModelSpec, gen: Any, fault: LineFault | None, seed: bytes, prompt: str,
           image_bytes: int) -> _Answer:
    """The candidate's parts, finish reason and token counts: schema, image or text.

    Thought parts come first, as the cookbook's saved Nano Banana Pro output shows: a
    ``thought`` text, the interim ``thought`` draft images (each from its own seed, so
    never the final bytes), then the final image with a ``thoughtSignature``. The final
    image is the same pure function of the request whether thoughts are on or not.
    """
    kind = fault.line_kind if fault else None
    json_schema = field(gen, "responseJsonSchema")
    oa_schema = field(gen, "responseSchema")
    mime = str(field(gen, "responseMimeType") or "")
    structured = json_schema is not None or oa_schema is not None or mime == "application/json"
    image = not structured and _wants_image(spec, gen) and kind != "text_only"
    thoughts: list[dict[str, Any]] = []
    if spec.thought_text or (image and spec.draft_images) or kind == "drafts_only":
        thoughts.append(_thought_text(seed, prompt, image))
    thought_tokens = sum(len(p["text"]) // 4 + 1 for p in thoughts)
    if kind in ("image_safety", "no_image"):
        finish = "IMAGE_SAFETY" if kind == "image_safety" else "NO_IMAGE"
        return _Answer([], fault.finish_reason or finish if fault else finish, 0, thought_tokens)
    if image:
        ratio = field(field(gen, "imageConfig") or {}, "aspectRatio")
        width, height = png.size_for(ratio if isinstance(ratio, str) else None)
        drafts = max(spec.draft_images, 1) if kind == "drafts_only" else spec.draft_images
        for i in range(drafts):
            thoughts.append({**_image_part(png.render(_digest(seed, f"draft:{i}"), width, height,
                                                      image_bytes)), "thought": True})
        if kind == "drafts_only":
            return _Answer(thoughts, fault.finish_reason or "STOP" if fault else "STOP", 0, thought_tokens)
        if kind == "max_tokens":
            return _Answer(thoughts, "MAX_TOKENS", 0, thought_tokens)
        final = _image_part(png.render(seed, width, height, image_bytes))
        return _Answer([*thoughts, _signed(final, seed) if spec.thinking else final], "STOP", 1290,
                       thought_tokens)
    if kind == "drafts_only":
        return _Answer(thoughts, fault.finish_reason or "STOP" if fault else "STOP", 0, thought_tokens)
    if structured:
        obj = schema.instance(json_schema if json_schema is not None else oa_schema, seed)
        text = json.dumps(obj, ensure_ascii=False)
    else:
        text = f"Emulated reply {seed.hex()[:12]} to: {prompt[:120]}"
    finish = "STOP"
    if kind == "max_tokens":
        text, finish = text[: max(1, len(text) // 3)], "MAX_TOKENS"
    answer: dict[str, Any] = {"text": text}
    if thoughts and spec.thinking:
        answer = _signed(answer, seed)
    return _Answer([*thoughts, answer], finish, len(text) // 4 + 1, thought_tokens)
