"""generateContent: images (Gemini 3: JPEG at real dimensions) that are pure functions of the request,
schema objects, quota 429s."""

from __future__ import annotations

import re
import struct
import time
import zlib
from typing import Any

import pydantic
import pytest
from google import genai
from google.genai import errors

from chargen_es.emulator import Emulator, EmulatorConfig, jpeg
from chargen_es.emulator import png as png_mod

from .helpers import make_client, sdk_answer_part, upload_bytes

IMAGE_CONFIG = {"response_modalities": ["IMAGE"], "image_config": {"aspect_ratio": "16:9"}}


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Walk a PNG, checking every CRC; returns (type, data) pairs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        out.append((kind, body))
        pos += 12 + length
    assert out[0][0] == b"IHDR" and out[-1][0] == b"IEND"
    return out


def _image(response: Any) -> bytes:
    data = sdk_answer_part(response).inline_data.data
    assert isinstance(data, bytes)
    return data


def test_gemini_3_images_are_jpeg_deterministic_and_sized_like_the_recordings(client: genai.Client) -> None:
    a = _image(client.models.generate_content(model="gemini-3-pro-image", contents="a fox",
                                              config=IMAGE_CONFIG))
    b = _image(client.models.generate_content(model="gemini-3-pro-image", contents="a fox",
                                              config=IMAGE_CONFIG))
    c = _image(client.models.generate_content(model="gemini-3-pro-image", contents="a wolf",
                                              config=IMAGE_CONFIG))
    assert a == b and a != c
    # JFIF header, then an APP11 JUMBF segment of about 6 KB labelled c2pa, no EXIF (APP1)
    assert a[:4] == b"\xff\xd8\xff\xe0" and a[6:11] == b"JFIF\x00"
    app11 = a.index(b"\xff\xeb")
    (length,) = struct.unpack(">H", a[app11 + 2:app11 + 4])
    assert 6000 < length < 7000 and b"c2pa" in a[app11:app11 + length] and b"\xff\xe1" not in a[:app11]
    assert jpeg.size_of(a) == (1376, 768)  # 16:9 at 1K, as recorded


@pytest.mark.parametrize(("ratio", "size", "expected"), [
    (None, None, (1408, 768)), ("1:1", None, (1024, 1024)), ("16:9", "1K", (1376, 768)),
    ("16:9", "2K", (2752, 1536)), ("16:9", "4K", (5504, 3072)), ("1:8", "1K", (352, 2928)),
    ("1:1", "512", (512, 512))])
def test_dimensions_follow_image_size_and_aspect_ratio(client: genai.Client, ratio: str | None, size: str | None,
                                                       expected: tuple[int, int]) -> None:
    image_config = {**({"aspect_ratio": ratio} if ratio else {}), **({"image_size": size} if size else {})}
    data = _image(client.models.generate_content(model="gemini-nano-banana-2.1", contents="dims",
                                                 config={"response_modalities": ["IMAGE"],
                                                         "image_config": image_config}))
    assert jpeg.size_of(data) == expected


def test_a_png_model_still_makes_small_pngs() -> None:
    models = [{"id": "old-image", "image": True, "image_format": "png"}]
    with Emulator(EmulatorConfig(models=models)) as emu:
        client = make_client(emu)
        data = _image(client.models.generate_content(model="old-image", contents="x", config=IMAGE_CONFIG))
    chunks = dict(_chunks(data))
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2) and width > height


@pytest.mark.parametrize(("ratio", "wide"), [("1:1", None), ("9:16", False), ("21:9", True)])
def test_aspect_ratios(ratio: str, wide: bool | None) -> None:
    width, height = png_mod.size_for(ratio)
    if wide is None:
        assert width == height == 64
    else:
        assert (width > height) == wide


def test_padding_to_image_bytes() -> None:
    with Emulator(EmulatorConfig(image_bytes=200_000)) as emu:
        client = make_client(emu)
        data = _image(client.models.generate_content(model="gemini-3-pro-image", contents="big"))
        assert 190_000 <= len(data) <= 210_000
        assert data.count(b"\xff\xeb") >= 4  # a large C2PA manifest spans several APP11 segments


def test_image_model_reply_has_usage(client: genai.Client) -> None:
    r = client.models.generate_content(model="gemini-3-pro-image", contents="usage")
    assert r.usage_metadata.total_token_count > 0
    assert r.candidates[0].finish_reason.name == "STOP"


class Verdict(pydantic.BaseModel):
    label: str
    score: float
    tags: list[str]
    kind: str | None = None


def test_pydantic_response_schema_parses(client: genai.Client) -> None:
    r = client.models.generate_content(model="gemini-3.5-flash", contents="judge",
                                       config={"response_mime_type": "application/json",
                                               "response_schema": Verdict})
    assert isinstance(r.parsed, Verdict)


def test_response_json_schema(client: genai.Client) -> None:
    schema: dict[str, Any] = {"type": "object", "required": ["n", "items", "mode"],
                              "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 5},
                                             "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                                       "items": {"$ref": "#/$defs/Item"}},
                                             "mode": {"enum": ["a", "b"]},
                                             "maybe": {"type": ["string", "null"]}},
                              "$defs": {"Item": {"type": "object", "properties": {"ok": {"type": "boolean"}},
                                                 "required": ["ok"]}}}
    r = client.models.generate_content(model="gemini-3.5-flash", contents="x",
                                       config={"response_mime_type": "application/json",
                                               "response_json_schema": schema})
    obj = r.parsed
    assert isinstance(obj, dict)
    assert 3 <= obj["n"] <= 5 and obj["mode"] in ("a", "b") and len(obj["items"]) == 2
    assert all(isinstance(i["ok"], bool) for i in obj["items"])


def test_plain_text_and_file_reference(client: genai.Client) -> None:
    ref = upload_bytes(client, b"img", "image/png")
    part = genai.types.Part.from_uri(file_uri=ref.uri, mime_type="image/png")
    r = client.models.generate_content(model="gemini-3.5-flash", contents=[part, "describe"])
    assert r.text is not None and r.text.startswith("Emulated reply")
    client.files.delete(name=ref.name)
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-3.5-flash", contents=[part, "describe"])
    assert info.value.code == 404


def test_rpm_quota_429_with_retry_info() -> None:
    with Emulator(EmulatorConfig(rpm=3, quota_window_s=0.5)) as emu:
        client = make_client(emu)
        for _ in range(3):
            client.models.generate_content(model="gemini-3.5-flash", contents="q")
        with pytest.raises(errors.ClientError) as info:
            client.models.generate_content(model="gemini-3.5-flash", contents="q")
        err = info.value
        assert err.code == 429 and err.status == "RESOURCE_EXHAUSTED"
        details = {d["@type"].rsplit(".", 1)[-1]: d for d in err.details["error"]["details"]}
        quota = details["QuotaFailure"]["violations"][0]
        assert quota["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel"
        assert quota["quotaDimensions"]["model"] == "gemini-3.5-flash"
        delay = float(details["RetryInfo"]["retryDelay"].removesuffix("s"))
        assert 0 < delay <= 0.5
        client.models.generate_content(model="gemini-2.5-pro", contents="q")  # quotas are per model
        time.sleep(delay + 0.01)
        client.models.generate_content(model="gemini-3.5-flash", contents="q")
        stats = emu.stats()
        assert stats["calls"] == 5 and stats["calls_rejected"] == 1


def test_the_429s_have_the_recorded_shapes() -> None:
    """Per minute: Help, QuotaFailure, RetryInfo in whole seconds, the precise wait in the message."""
    with Emulator(EmulatorConfig(rpm=1, quota_window_s=90.0)) as emu:
        client = make_client(emu)
        client.models.generate_content(model="gemini-3.5-flash", contents="q")
        with pytest.raises(errors.ClientError) as info:
            client.models.generate_content(model="gemini-3.5-flash", contents="q")
    details = info.value.details["error"]["details"]
    assert [d["@type"].rsplit(".", 1)[-1] for d in details] == ["Help", "QuotaFailure", "RetryInfo"]
    delay = details[2]["retryDelay"]
    assert re.fullmatch(r"\d+s", delay) and 85 <= int(delay[:-1]) <= 90
    assert details[1]["violations"][0]["quotaValue"] == "1"
    message = info.value.details["error"]["message"]
    assert "* Quota exceeded for metric: " in message and re.search(r"Please retry in \d+\.\d{9}s\.$", message)


def test_daily_quota_fault(emu: Emulator, client: genai.Client) -> None:
    emu.set_faults([{"kind": "daily_quota", "count": 1}])
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-3.5-flash", contents="d")
    ids = [v["quotaId"] for d in info.value.details["error"]["details"] for v in d.get("violations", [])]
    assert ids == ["GenerateRequestsPerDayPerProjectPerModel"]
    # as recorded: no RetryInfo at all, and a violation with metric and id only
    assert [d["@type"].rsplit(".", 1)[-1] for d in info.value.details["error"]["details"]] == ["QuotaFailure"]
    client.models.generate_content(model="gemini-3.5-flash", contents="d")
