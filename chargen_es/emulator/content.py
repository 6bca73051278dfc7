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

from chargen_es.emulator import describe, jpeg, png, schema
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


def safety_of(request: Any) -> list[str]:
    """The request's ``safetySettings`` as ``CATEGORY=THRESHOLD`` (what a test checks arrived)."""
    out = []
    for setting in field(request, "safetySettings") or []:
        out.append(f"{field(setting, 'category', '')}={field(setting, 'threshold', '')}")
    return out


def _file_refs(request: Any) -> list[str]:
    refs: list[str] = []
    for content in field(request, "contents") or []:
        for part in field(content, "parts") or []:
            data = field(part, "fileData")
            if isinstance(data, dict):
                refs.append(str(field(data, "fileUri", "")))
    return refs


_DERIVE_RE = re.compile(r"(?m)^Derive from the attached image: ")
_COMPOSE_RE = re.compile(r"(?m)^Compose one image from the (\d+) attached images: ")


def _shape_problem(prompt: str, images: int) -> str | None:
    """A derive or compose request (told by its prompt's lead, as chargen-es writes it) must
    carry its references: one image to derive from, or the N images it says it composes.
    Google would answer anyway (from the text alone); the emulator refuses, so a request
    that lost its references is caught in tests instead of yielding a plausible picture."""
    if _DERIVE_RE.search(prompt) and images != 1:
        return f"A derive request must carry exactly one reference image; this one carries {images}."
    m = _COMPOSE_RE.search(prompt)
    if m and (images != int(m.group(1)) or images < 2):
        return f"A compose request of {m.group(1)} images carries {images} reference image(s)."
    return None


def _wants_image(spec: ModelSpec, gen: Any) -> bool:
    modalities = field(gen, "responseModalities")
    if isinstance(modalities, list) and modalities:
        return any(str(m).upper() == "IMAGE" for m in modalities)
    return spec.image


# Output tokens one generated image is billed as, per imageSize (Google Cloud's Gemini 3.1
# Flash Image page, read 2026-12-07; the recorded Gemini 3 answers itemise 1120 at 1K).
IMAGE_TOKENS = {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}


def _usage(prompt: str, n_parts: int, out_tokens: int, thought_tokens: int = 0, image_tokens: int = 0,
           candidates: bool = True) -> dict[str, Any]:
    """``usageMetadata`` in the order Google sends it: counts, then the per-modality details
    (input images listed before text; only IMAGE itemised among candidates, even beside a
    text part), ``thoughtsTokenCount`` only when the model thought. ``candidates=False``:
    nothing was generated (a ``NO_IMAGE`` answer has no ``candidatesTokenCount``)."""
    text_tokens = len(prompt) // 4 + 1
    prompt_tokens = text_tokens + 258 * n_parts
    usage: dict[str, Any] = {"promptTokenCount": prompt_tokens}
    if candidates:
        usage["candidatesTokenCount"] = out_tokens
    usage["totalTokenCount"] = prompt_tokens + (out_tokens if candidates else 0) + thought_tokens
    details = ([{"modality": "IMAGE", "tokenCount": 258 * n_parts}] if n_parts else [])
    usage["promptTokensDetails"] = [*details, {"modality": "TEXT", "tokenCount": text_tokens}]
    if candidates and image_tokens:
        usage["candidatesTokensDetails"] = [{"modality": "IMAGE", "tokenCount": image_tokens}]
    if thought_tokens:
        usage["thoughtsTokenCount"] = thought_tokens
    return usage


def _without_include_thoughts(request: dict[str, Any]) -> dict[str, Any]:
    """The request as the answer depends on it: asking to see the thoughts changes which parts
    come back, never the final answer."""
    gen = field(request, "generationConfig")
    thinking = field(gen, "thinkingConfig") if isinstance(gen, dict) else None
    if not isinstance(thinking, dict) or not ({"includeThoughts", "include_thoughts"} & set(thinking)):
        return request
    rest = {k: v for k, v in thinking.items() if k not in ("includeThoughts", "include_thoughts")}
    gen_key = "generationConfig" if "generationConfig" in request else "generation_config"
    think_key = "thinkingConfig" if "thinkingConfig" in gen else "thinking_config"
    new_gen = {k: v for k, v in gen.items() if k != think_key}
    if rest:
        new_gen[think_key] = rest
    return {**request, gen_key: new_gen}


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
             spec: ModelSpec | None = None, signature_bytes: int = 0,
             file_bytes: Callable[[str], bytes | None] | None = None) -> Outcome:
    """Answer one request, applying the line *fault* drawn for it by the caller.

    ``live_file_sha`` gives the SHA-256 of a live file by id, or None when it does not
    exist or has expired (that line then fails with a Status); ``file_bytes`` its bytes,
    so a structured answer about a picture can name its real colours. ``spec`` says how
    the model thinks (draft images, thought text); None is a plain model named ``model``.
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
    shape = _shape_problem(prompt, len(_file_refs(request)))
    if shape is not None:
        return Outcome(error=line_status(3, shape))
    kind = fault.line_kind if fault else None
    if fault is not None and kind == "error":
        return Outcome(error=line_status(fault.code, fault.message or "Injected line failure."))
    n_parts = len(_file_refs(request))
    seed = hashlib.sha256(canonical([short_model, _by_content(_without_include_thoughts(request), shas)])).digest()
    # top-level keys in the order Google sends them: candidates, usageMetadata, modelVersion,
    # responseId (a retired id answers with the routed model's modelVersion)
    tail: dict[str, Any] = {"modelVersion": spec.answered_by or short_model, "responseId": seed.hex()[:20]}
    if spec.model_status:
        tail["modelStatus"] = dict(spec.model_status)
    if kind == "safety":
        # a blocked prompt: no candidates key at all, only promptFeedback.blockReason (no
        # safetyRatings), as recorded from gemini-3.1-flash-image-preview (2026-08-26)
        return Outcome(response={"promptFeedback": {"blockReason": fault.finish_reason if fault and
                                                    fault.finish_reason else "SAFETY"},
                                 "usageMetadata": _usage(prompt, n_parts, 0, candidates=False), **tail})
    colours = _colours_shown(request, file_bytes)
    answer = _parts(spec, field(request, "generationConfig") or {}, fault, seed, prompt, image_bytes,
                    signature_bytes, colours)
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": answer.parts},
                                 "finishReason": answer.finish, "index": 0}
    if not answer.parts:
        # NO_IMAGE arrives with an empty content object (no parts, no role), recorded 2026-09-17
        candidate["content"] = {} if answer.finish == "NO_IMAGE" else {"role": "model"}
    usage = _usage(prompt, n_parts, answer.out_tokens, answer.thought_tokens, answer.image_tokens,
                   candidates=answer.finish != "NO_IMAGE")
    return Outcome(response={"candidates": [candidate], "usageMetadata": usage, **tail})


@dataclass
class _Answer:
    parts: list[dict[str, Any]]
    finish: str = "STOP"
    out_tokens: int = 0
    thought_tokens: int = 0
    image_tokens: int = 0


def _digest(seed: bytes, label: str) -> bytes:
    return hashlib.sha256(seed + label.encode()).digest()


def _thought_text(seed: bytes, prompt: str, image: bool) -> dict[str, Any]:
    what = "the composition" if image else "the answer"
    return {"text": f"**Planning {what}** ({seed.hex()[:8]}): considering {prompt[:60]!r}.", "thought": True}


def _image_part(data: bytes, mime: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def _signed(part: dict[str, Any], seed: bytes, size: int, label: str) -> dict[str, Any]:
    """A final part with its ``thoughtSignature`` (bytes, base64 on the wire): a 32-byte
    digest, or ``size`` bytes (real ones are 0.45-2.2 MB, 0.6-2.9 million base64 characters)."""
    digest = _digest(seed, f"signature:{label}")
    data = digest if size <= 0 else (digest * (size // len(digest) + 1))[:size]
    return {**part, "thoughtSignature": base64.b64encode(data).decode()}


def _render(spec: ModelSpec, seed: bytes, ratio: Any, size: Any, pad: int) -> tuple[bytes, str]:
    """The image bytes and mime: JPEG at Gemini 3's real dimensions, or a small PNG."""
    if spec.image_format == "png":
        width, height = png.size_for(ratio if isinstance(ratio, str) else None)
        return png.render(seed, width, height, pad), "image/png"
    width, height = jpeg.dimensions(ratio if isinstance(ratio, str) else None, size if isinstance(size, str) else None)
    return jpeg.render(seed, width, height, pad), "image/jpeg"


def _modalities(gen: Any) -> set[str]:
    raw = field(gen, "responseModalities")
    return {str(m).upper() for m in raw} if isinstance(raw, list) else set()


def _colours_shown(request: Any, file_bytes: Callable[[str], bytes | None] | None) -> list[str]:
    """The palette of the first picture the request shows (an uploaded file or inline
    data), or none: a text-only request has no colours to name."""
    for content in field(request, "contents") or []:
        for part in field(content, "parts") or []:
            data = field(part, "fileData")
            if isinstance(data, dict) and file_bytes is not None:
                fid = file_id_of(str(field(data, "fileUri", "")))
                raw = file_bytes(fid) if fid is not None else None
                if raw:
                    return describe.palette(raw)
            inline = field(part, "inlineData")
            text = field(inline, "data") if isinstance(inline, dict) else None
            if isinstance(text, str):  # either base64 alphabet: the SDK sends the URL-safe one
                text = text.replace("-", "+").replace("_", "/")
                try:
                    return describe.palette(base64.b64decode(text + "=" * (-len(text) % 4)))
                except ValueError:
                    return []
    return []


def _parts(spec: ModelSpec, gen: Any, fault: LineFault | None, seed: bytes, prompt: str,
           image_bytes: int, signature_bytes: int = 0, colours: list[str] | None = None) -> _Answer:
    """The candidate's parts, finish reason and token counts: schema, image or text.

    As recorded from Gemini 3 models: thought parts come only when the request asks for
    them (``thinkingConfig.includeThoughts``): a ``thought`` text, the interim ``thought``
    draft images at 1K (each from its own seed, never the final bytes), then the answer.
    Thinking is counted in ``thoughtsTokenCount`` either way. Every final part of a thinking
    model carries a ``thoughtSignature``, the text part too. An image model asked for TEXT
    and IMAGE (or for nothing in particular) sends a short text part before the image; asked
    for IMAGE alone, the image only. The ``drafts_only`` fault sends drafts whatever the
    request asked (reported on Vertex AI, python-genai#2239).
    """
    kind = fault.line_kind if fault else None
    json_schema = field(gen, "responseJsonSchema")
    oa_schema = field(gen, "responseSchema")
    mime = str(field(gen, "responseMimeType") or "")
    structured = json_schema is not None or oa_schema is not None or mime == "application/json"
    image = not structured and _wants_image(spec, gen) and kind != "text_only"
    shown = bool(field(field(gen, "thinkingConfig") or {}, "includeThoughts")) or kind == "drafts_only"
    thinking = spec.thought_text or (image and spec.draft_images > 0) or kind == "drafts_only"
    thought = _thought_text(seed, prompt, image)
    thoughts = [thought] if thinking and shown else []
    thought_tokens = len(thought["text"]) // 4 + 1 if thinking else 0
    if kind in ("image_safety", "no_image"):
        finish = "IMAGE_SAFETY" if kind == "image_safety" else "NO_IMAGE"
        return _Answer([], fault.finish_reason or finish if fault else finish, 0, thought_tokens)
    if image:
        config = field(gen, "imageConfig") or {}
        ratio, size = field(config, "aspectRatio"), field(config, "imageSize")
        drafts = max(spec.draft_images, 1) if kind == "drafts_only" else (spec.draft_images if shown else 0)
        for i in range(drafts):
            data, draft_mime = _render(spec, _digest(seed, f"draft:{i}"), ratio, "1K", 0)
            thoughts.append({**_image_part(data, draft_mime), "thought": True})
        if kind == "drafts_only":
            return _Answer(thoughts, fault.finish_reason or "STOP" if fault else "STOP", 0, thought_tokens)
        if kind == "max_tokens":
            return _Answer(thoughts, "MAX_TOKENS", 0, thought_tokens)
        data, image_mime = _render(spec, seed, ratio, size, image_bytes)
        finals = [_image_part(data, image_mime)]
        modalities = _modalities(gen)
        text_tokens = 0
        if not modalities or "TEXT" in modalities:
            text = f"Here is the picture ({seed.hex()[:8]}) of {prompt[:60]!r}. "
            finals.insert(0, {"text": text})
            text_tokens = len(text) // 4 + 1
        if spec.thinking:
            finals = [_signed(part, seed, signature_bytes, str(i)) for i, part in enumerate(finals)]
        tokens = IMAGE_TOKENS.get(size if isinstance(size, str) else "1K", 1120)
        return _Answer([*thoughts, *finals], "STOP", tokens + text_tokens, thought_tokens, tokens)
    if kind == "drafts_only":
        return _Answer(thoughts, fault.finish_reason or "STOP" if fault else "STOP", 0, thought_tokens)
    if structured:
        obj = schema.instance(json_schema if json_schema is not None else oa_schema, seed, colours)
        text = json.dumps(obj, ensure_ascii=False)
    else:
        text = f"Emulated reply {seed.hex()[:12]} to: {prompt[:120]}"
    finish = "STOP"
    if kind == "max_tokens":
        text, finish = text[: max(1, len(text) // 3)], "MAX_TOKENS"
    answer: dict[str, Any] = {"text": text}
    if thinking and spec.thinking:
        answer = _signed(answer, seed, signature_bytes, "0")
    return _Answer([*thoughts, answer], finish, len(text) // 4 + 1, thought_tokens)
