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
from chargen_es.emulator.faults import Faults
from chargen_es.emulator.wire import canonical, field, line_status

_FILE_ID_RE = re.compile(r"files/([a-z0-9-]+)")


@dataclass(frozen=True)
class LineFault:
    """A per-line failure drawn from a ``line`` rule; stored with a batch so it survives restarts."""

    line_kind: str
    code: int = 13
    message: str | None = None

    @classmethod
    def draw(cls, faults: Faults, key: str, live: bool) -> LineFault | None:
        rule = faults.take_line(key, live)
        return None if rule is None else cls(rule.line_kind, rule.code, rule.message)

    def to_json(self) -> dict[str, Any]:
        return {"line_kind": self.line_kind, "code": self.code, "message": self.message}

    @classmethod
    def from_json(cls, raw: Any) -> LineFault | None:
        return None if not raw else cls(str(raw["line_kind"]), int(raw["code"]), raw.get("message"))


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


def _wants_image(model: str, gen: Any) -> bool:
    modalities = field(gen, "responseModalities")
    if isinstance(modalities, list) and modalities:
        return any(str(m).upper() == "IMAGE" for m in modalities)
    return "image" in model.lower()


def _usage(prompt: str, n_parts: int, out_tokens: int) -> dict[str, Any]:
    prompt_tokens = len(prompt) // 4 + 1 + 258 * n_parts
    return {"promptTokenCount": prompt_tokens, "candidatesTokenCount": out_tokens,
            "totalTokenCount": prompt_tokens + out_tokens}


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
             live_file_sha: Callable[[str], str | None], image_bytes: int) -> Outcome:
    """Answer one request, applying the line *fault* drawn for it by the caller.

    ``live_file_sha`` gives the SHA-256 of a live file by id, or None when it does not
    exist or has expired (that line then fails with a Status).
    """
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
    base: dict[str, Any] = {"modelVersion": short_model,
                            "responseId": seed.hex()[:20]}
    if kind == "safety":
        return Outcome(response={**base, "promptFeedback": {"blockReason": "SAFETY"},
                                 "usageMetadata": _usage(prompt, n_parts, 0)})
    parts, finish, out_tokens = _parts(short_model, field(request, "generationConfig") or {}, kind, seed,
                                       prompt, image_bytes)
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "finishReason": finish,
                                 "index": 0}
    if not parts:
        candidate["content"] = {"role": "model"}
    return Outcome(response={"candidates": [candidate], **base,
                             "usageMetadata": _usage(prompt, n_parts, out_tokens)})


def _parts(model: str, gen: Any, kind: str | None, seed: bytes, prompt: str,
           image_bytes: int) -> tuple[list[dict[str, Any]], str, int]:
    """The candidate's parts, finish reason and output token count: schema, image or text."""
    json_schema = field(gen, "responseJsonSchema")
    oa_schema = field(gen, "responseSchema")
    mime = str(field(gen, "responseMimeType") or "")
    parts: list[dict[str, Any]]
    finish = "STOP"
    if json_schema is not None or oa_schema is not None or mime == "application/json":
        obj = schema.instance(json_schema if json_schema is not None else oa_schema, seed)
        parts = [{"text": json.dumps(obj, ensure_ascii=False)}]
        out_tokens = len(parts[0]["text"]) // 4 + 1
    elif _wants_image(model, gen) and kind != "text_only":
        if kind == "image_safety":
            parts, finish, out_tokens = [], "IMAGE_SAFETY", 0
        else:
            ratio = field(field(gen, "imageConfig") or {}, "aspectRatio")
            width, height = png.size_for(ratio if isinstance(ratio, str) else None)
            data = png.render(seed, width, height, image_bytes)
            parts = [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(data).decode()}}]
            out_tokens = 1290
    else:
        text = f"Emulated reply {seed.hex()[:12]} to: {prompt[:120]}"
        parts = [{"text": text}]
        out_tokens = len(text) // 4 + 1
    return parts, finish, out_tokens
