"""Files API through the unmodified SDK: upload (incl. chunked), get, list, delete, download."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import time

import httpx2
import pytest
from google import genai
from google.genai import errors

from chargen_es.emulator import Emulator, EmulatorConfig

from .helpers import make_client, sdk_client, upload_bytes


def test_upload_get_roundtrip(client: genai.Client) -> None:
    data = b"hello emulator"
    f = upload_bytes(client, data, "image/png", "ref-1")
    assert f.name.startswith("files/") and f.name[6:].isalnum()
    assert f.size_bytes == len(data)
    assert f.mime_type == "image/png"
    assert f.display_name == "ref-1"
    # base64 of the hex digest, as Google sends it (googleapis/js-genai#381)
    assert f.sha256_hash == base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
    assert f.state.name == "ACTIVE" and f.source.name == "UPLOADED"
    assert f.uri.startswith("https://generativelanguage.googleapis.com/")
    assert f.create_time is not None and f.expiration_time is not None
    assert abs((f.expiration_time - f.create_time).total_seconds() - 48 * 3600) < 1
    got = client.files.get(name=f.name)
    assert got.name == f.name and got.sha256_hash == f.sha256_hash


def test_chunked_9mib_upload(emu: Emulator) -> None:
    client = make_client(emu)
    data = bytes(range(256)) * (9 * 1024 * 4)  # 9 MiB: two chunks, 8 MiB + 1 MiB
    f = upload_bytes(client, data, "application/octet-stream", "big")
    assert f.size_bytes == 9 * 1024 * 1024
    assert client.files.download(file=f.name) == data
    assert emu.stats()["operations"]["files.upload_chunk"] == 2


def test_empty_upload(client: genai.Client) -> None:
    f = upload_bytes(client, b"", "text/plain")
    assert f.size_bytes == 0 or f.size_bytes is None
    assert client.files.download(file=f.name) == b""


def test_upload_with_chosen_name_and_conflict(client: genai.Client) -> None:
    f = client.files.upload(file=io.BytesIO(b"a"), config={"name": "files/mine1", "mime_type": "text/plain"})
    assert f.name == "files/mine1"
    with pytest.raises(errors.ClientError) as info:
        client.files.upload(file=io.BytesIO(b"b"), config={"name": "mine1", "mime_type": "text/plain"})
    assert info.value.code == 409


def test_jsonl_mime_from_config(client: genai.Client) -> None:
    f = upload_bytes(client, b'{"key": "a"}\n', "jsonl")
    assert f.mime_type == "jsonl"


def test_list_pagination_several_pages(client: genai.Client) -> None:
    names = {upload_bytes(client, f"f{i}".encode(), "text/plain").name for i in range(7)}
    pager = client.files.list(config={"page_size": 3})
    assert len(pager.page) == 3
    seen = [f.name for f in pager]
    assert sorted(seen) == sorted(names) and len(seen) == 7
    assert {f.name for f in client.files.list()} == names  # default page size 10


def test_list_exact_multiple_has_no_empty_trailing_page(client: genai.Client) -> None:
    for i in range(4):
        upload_bytes(client, f"g{i}".encode(), "text/plain")
    assert len(list(client.files.list(config={"page_size": 2}))) == 4


def test_list_empty(client: genai.Client) -> None:
    assert list(client.files.list()) == []


def test_delete_then_get_is_404(emu: Emulator, client: genai.Client) -> None:
    f = upload_bytes(client, b"bye", "text/plain")
    client.files.delete(name=f.name)
    with pytest.raises(errors.ClientError) as info:
        client.files.get(name=f.name)
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    with pytest.raises(errors.ClientError):
        client.files.delete(name=f.name)
    assert emu.stats()["deletes"] == 1


def test_missing_file_download_is_404(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        client.files.download(file="files/nothere")
    assert info.value.code == 404


def test_expiry_hides_files() -> None:
    with Emulator(EmulatorConfig(file_ttl_s=0.3)) as emu:
        client = make_client(emu)
        f = upload_bytes(client, b"short-lived", "text/plain")
        assert client.files.get(name=f.name).name == f.name
        time.sleep(0.4)
        with pytest.raises(errors.ClientError) as info:
            client.files.get(name=f.name)
        assert info.value.code == 404
        assert list(client.files.list()) == []


def test_api_key_required_except_on_chunks(emu: Emulator) -> None:
    with httpx2.Client(base_url=emu.base_url) as http:
        r = http.get("/v1beta/files")
        assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
        start = http.post("/upload/v1beta/files", headers={"x-goog-api-key": "k",
                                                           "x-goog-upload-protocol": "resumable",
                                                           "x-goog-upload-command": "start"},
                          json={"file": {"display_name": "raw", "mime_type": "text/plain", "size_bytes": 3}})
        assert start.status_code == 200 and start.headers["x-goog-upload-status"] == "active"
        url = start.headers["x-goog-upload-url"]
        assert url.startswith(emu.base_url)
        done = http.post(url, content=b"abc", headers={"x-goog-upload-command": "upload, finalize",
                                                       "x-goog-upload-offset": "0"})
        assert done.status_code == 200 and done.headers["x-goog-upload-status"] == "final"
        body = done.json()["file"]
        assert body["displayName"] == "raw" and body["sizeBytes"] == "3"
        assert http.get("/v1beta/files?key=k").json()["files"][0]["name"] == body["name"]


def test_base_url_prefix_is_kept(emu: Emulator) -> None:
    client = sdk_client(emu.base_url + "/gw/", "v1beta")
    f = upload_bytes(client, b"prefixed", "text/plain")
    assert client.files.get(name=f.name).name == f.name
    assert client.files.download(file=f.name) == b"prefixed"


def test_docs_download_path_and_metadata_without_alt(emu: Emulator, client: genai.Client) -> None:
    f = upload_bytes(client, b"doc-form", "text/plain")
    fid = f.name.removeprefix("files/")
    with httpx2.Client(base_url=emu.base_url, headers={"x-goog-api-key": "k"}) as http:
        assert http.get(f"/download/v1beta/files/{fid}:download?alt=media").content == b"doc-form"
        assert http.get(f"/v1beta/files/{fid}:download").json()["name"] == f.name


def test_async_client_roundtrip(emu: Emulator) -> None:
    async def go() -> None:
        client = make_client(emu, "v1beta").aio
        try:
            f = await client.files.upload(file=io.BytesIO(b"async bytes"), config={"mime_type": "text/plain"})
            assert (await client.files.get(name=f.name)).size_bytes == 11
            assert await client.files.download(file=f.name) == b"async bytes"
            assert [x.name async for x in await client.files.list()] == [f.name]
            await client.files.delete(name=f.name)
        finally:
            await client.aclose()

    asyncio.run(go())
