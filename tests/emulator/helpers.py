"""Helpers shared by the emulator contract tests (SDK clients, JSONL, requests)."""

from __future__ import annotations

import io
import json
from typing import Any

from google import genai

from chargen_es.emulator import Emulator
from chargen_es.gateway.transport import sdk_tls_args


def sdk_client(base_url: str, api_version: str = "v1", *, api_key: str = "test", **http: Any) -> genai.Client:
    """The unmodified SDK, over loopback, with no retries (the SDK default), handed the
    process's one TLS context as chargen-es hands it (left to itself the SDK loads two CA
    bundles per client, about 40 ms of CPU, and the suite makes hundreds of clients)."""
    return genai.Client(api_key=api_key, http_options={"base_url": base_url, "api_version": api_version,
                                                       "async_client_args": sdk_tls_args(base_url), **http})


def make_client(emu: Emulator, api_version: str = "v1", **http: Any) -> genai.Client:
    """:func:`sdk_client` for an in-process emulator."""
    return sdk_client(emu.base_url, api_version, **http)


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def upload_bytes(client: genai.Client, data: bytes, mime: str = "application/octet-stream",
                 name: str | None = None) -> Any:
    config: dict[str, Any] = {"mime_type": mime}
    if name is not None:
        config["display_name"] = name
    return client.files.upload(file=io.BytesIO(data), config=config)


def image_request(prompt: str, ratio: str = "1:1", *, thoughts: bool = False, size: str | None = None,
                  modalities: tuple[str, ...] = ("IMAGE",)) -> dict[str, Any]:
    """An image request; ``thoughts`` asks for thought parts (``includeThoughts``)."""
    image_config: dict[str, Any] = {"aspectRatio": ratio, **({"imageSize": size} if size else {})}
    config: dict[str, Any] = {"responseModalities": list(modalities), "imageConfig": image_config}
    if thoughts:
        config["thinkingConfig"] = {"includeThoughts": True}
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}], "generationConfig": config}


def answer_part(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The last part not marked ``thought``: the answer, after any thought text and drafts."""
    answers = [p for p in parts if not p.get("thought")]
    assert answers, f"no answer part among {[sorted(p) for p in parts]}"
    return answers[-1]


def sdk_answer_part(response: Any) -> Any:
    """The same through the SDK's types: the last ``Part`` whose ``thought`` is not set."""
    answers = [p for p in response.candidates[0].content.parts if not p.thought]
    assert answers
    return answers[-1]
