"""The gateway over real HTTP: the unmodified SDK into the emulator, a scripted Google, a proxy."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.errors import BatchCapacityExceeded, BillingError, RateLimited, TransientError
from chargen_es.gateway import Backend, Gateway, normalise_sha256

from .servers import RecordingProxy, Reply, ScriptedServer

KEY = "test-key-not-secret"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(job_seconds=0.0)) as e:
        yield e


@pytest.fixture
def gateway(emu: Emulator) -> Iterator[Gateway]:
    g = Gateway(Backend(api_key=KEY, base_url=emu.base_url))
    try:
        yield g
    finally:
        g.close()


def test_vertex_switch_in_the_environment_is_ignored(emu: Emulator, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """GOOGLE_GENAI_USE_VERTEXAI=true would make the SDK refuse uploads (a ValueError).

    The SDK reads the switch when a client is built (``BaseApiClient.__init__``), so the
    environment is set before the Gateway is made, as a user's shell would have it."""
    src = tmp_path / "ref.png"
    src.write_bytes(b"\x89PNG fake")
    for name, value in (("GOOGLE_GENAI_USE_VERTEXAI", "true"), ("GOOGLE_GENAI_USE_ENTERPRISE", "true"),
                        ("GOOGLE_CLOUD_PROJECT", "some-project"), ("GOOGLE_CLOUD_LOCATION", "us-central1")):
        monkeypatch.setenv(name, value)
    g = Gateway(Backend(api_key="k", base_url=emu.base_url))
    try:
        f = g.upload(src, "image/png", "chargen-es:vertex-env")
    finally:
        g.close()
    assert f.name.startswith("files/") and f.state == "ACTIVE"


def test_the_sdk_and_the_raw_calls_share_one_client(gateway: Gateway) -> None:
    assert gateway._client._api_client._httpx_client is gateway._http


def test_upload_reports_the_hex_sha256_and_state(gateway: Gateway, tmp_path: Path) -> None:
    data = os.urandom(3000)
    path = tmp_path / "Ünïcode name.png"
    path.write_bytes(data)
    f = gateway.upload(path, "image/png", "chargen-es:abc")
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    assert f.state == "ACTIVE" and f.size == 3000
    assert gateway.get_file(f.name).sha256 == f.sha256


def test_sha256_in_every_form_a_server_sends_it() -> None:
    digest = hashlib.sha256(b"chargen").digest()
    hexd = digest.hex()
    assert normalise_sha256(hexd) == hexd
    assert normalise_sha256(hexd.upper()) == hexd
    assert normalise_sha256(base64.b64encode(hexd.encode()).decode()) == hexd  # the live service
    assert normalise_sha256(base64.b64encode(digest).decode()) == hexd  # the proto's bytes
    assert normalise_sha256(base64.urlsafe_b64encode(digest).decode().rstrip("=")) == hexd
    assert normalise_sha256("not a hash") == "" and normalise_sha256("") == ""
    assert normalise_sha256(base64.b64encode(b"short").decode()) == ""


def test_upload_chunks_go_through_a_proxy(emu: Emulator, tmp_path: Path) -> None:
    """The upload URL names the upstream host; every chunk must still pass the proxy."""
    data = os.urandom(9 * 1024 * 1024)  # more than the SDK's 8 MiB chunk: two chunks
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    with RecordingProxy(emu.base_url) as proxy:
        g = Gateway(Backend(api_key=KEY, base_url=proxy.base_url))
        try:
            f = g.upload(path, "application/octet-stream", "chargen-es:big")
            g.list_files()
        finally:
            g.close()
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    stats = emu.stats()["operations"]
    chunks = [p for m, p in proxy.seen if "upload_id=" in p]
    assert len(chunks) == stats["files.upload_chunk"] == 2
    assert sum(n for n in stats.values()) == len(proxy.seen)


def test_batch_create_429_is_batch_capacity_with_its_delay(gateway: Gateway, emu: Emulator) -> None:
    emu.set_faults([{"op": "batches.create", "kind": "status", "status": 429, "count": 1}])
    with pytest.raises(BatchCapacityExceeded) as info:
        gateway.create_inline_batch(model="gemini-3.5-flash", texts=["hi"], display_name="chargen-es:t:1:1")
    assert isinstance(info.value, RateLimited) and info.value.retry_after == 7.0


def test_an_empty_later_page_ends_nothing(tmp_path: Path) -> None:
    """pagers.Pager raises IndexError on an empty page followed by more: we page by hand."""
    def f(i: int) -> dict:
        return {"name": f"files/f{i}", "displayName": f"chargen-es:{i}", "sizeBytes": "1", "state": "ACTIVE"}
    def m(i: str) -> dict:
        return {"name": f"models/{i}", "supportedGenerationMethods": ["generateContent"]}
    with ScriptedServer() as server:
        server.routes[("GET", "/v1beta/files")] = [
            Reply(body={"files": [f(1)], "nextPageToken": "a"}), Reply(body={"nextPageToken": "b"}),
            Reply(body={"files": [f(2)]})]
        server.routes[("GET", "/v1beta/models")] = [
            Reply(body={"models": [m("x")], "nextPageToken": "a"}), Reply(body={"models": [], "nextPageToken": "b"}),
            Reply(body={"models": [m("y")]})]
        server.routes[("GET", "/v1beta/batches")] = [Reply(body={"nextPageToken": "a"}), Reply(body={})]
        g = Gateway(Backend(api_key=KEY, base_url=server.base_url))
        try:
            assert [x.name for x in g.list_files()] == ["files/f1", "files/f2"]
            assert [x.model_id for x in g.list_models()] == ["x", "y"]
            assert g.list_batches() == []
        finally:
            g.close()


def test_a_billing_429_from_generate_is_billing_not_a_rate_limit() -> None:
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                      "message": "Your prepayment credits are depleted. Please go to AI Studio at "
                                 "https://ai.studio/projects to manage your project and billing."}}
    with ScriptedServer() as server:
        server.routes[("POST", "/v1beta/models/gemini-3.5-flash:generateContent")] = [Reply(429, body)]
        g = Gateway(Backend(api_key=KEY, base_url=server.base_url))
        try:
            with pytest.raises(BillingError) as info:
                g.generate(model="gemini-3.5-flash", request={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        finally:
            g.close()
    assert not isinstance(info.value, TransientError) and "prepayment credits" in str(info.value)


def test_our_own_parsing_bug_is_not_a_transient_error() -> None:
    """A reply our parser cannot read raises our bug, outside the translation boundary."""
    with ScriptedServer() as server:
        server.routes[("GET", "/v1beta/batches/b1")] = [Reply(body={"name": "batches/b1",
                                                                   "metadata": {"batchStats": ["odd"]}})]
        g = Gateway(Backend(api_key=KEY, base_url=server.base_url))
        try:
            with pytest.raises(AttributeError):
                g.get_batch("batches/b1")
        finally:
            g.close()


def test_a_closed_port_is_a_transport_error(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        url = server.base_url
    g = Gateway(Backend(api_key=KEY, base_url=url))
    try:
        with pytest.raises(TransientError) as info:
            g.list_models()
    finally:
        g.close()
    assert info.value.reason == "TRANSPORT"


def test_emulator_presets_classify_as_google_means_them(gateway: Gateway, emu: Emulator) -> None:
    """Google's real bodies (emulator presets): queue full waits, money problems pause."""
    line = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    for preset in ("batch_concurrency", "enqueued_tokens"):
        emu.set_faults([{"kind": "preset", "preset": preset, "count": 1}])
        with pytest.raises(BatchCapacityExceeded) as queued:
            gateway.create_inline_batch(model="gemini-3.5-flash", texts=["hi"], display_name="chargen-es:t:1:1")
        assert queued.value.retry_after is not None
    for preset, op in (("prepay_depleted", "models.generateContent"), ("spend_cap", "batches.create")):
        emu.set_faults([{"kind": "preset", "preset": preset, "op": op, "count": 1}])
        with pytest.raises(BillingError):
            if op == "batches.create":
                gateway.create_inline_batch(model="gemini-3.5-flash", texts=["hi"], display_name="chargen-es:t:1:2")
            else:
                gateway.generate(model="gemini-3.5-flash", request=line)
