"""models.get / models.list in Google's shapes, and the 404 a shut-down or unknown model gets."""

from __future__ import annotations

import httpx2
import pytest
from google import genai
from google.genai import errors

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.emulator.catalog import DEFAULT_MODELS, DEFAULT_SHUT_DOWN

from .helpers import image_request, jsonl, make_client, upload_bytes

GONE = "gemini-3-pro-image-preview"


def _not_found(info: pytest.ExceptionInfo[errors.ClientError], model: str, method: str, version: str) -> None:
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert info.value.message == (
        f"models/{model} is not found for API version {version}, or is not supported for {method}. "
        "Call ListModels to see the list of available models and their supported methods.")


def test_get_has_google_fields(client: genai.Client) -> None:
    m = client.models.get(model="gemini-3-pro-image")
    assert m.name == "models/gemini-3-pro-image"
    assert m.display_name and m.version and m.input_token_limit and m.output_token_limit
    assert m.supported_actions is not None
    assert {"generateContent", "countTokens", "batchGenerateContent"} <= set(m.supported_actions)
    assert client.models.get(model="models/gemini-3.5-flash").name == "models/gemini-3.5-flash"


def test_raw_resource_uses_proto_field_names(emu: Emulator) -> None:
    body = httpx2.get(f"{emu.base_url}/v1beta/models/gemini-3.5-flash", headers={"x-goog-api-key": "k"}).json()
    assert body["name"] == "models/gemini-3.5-flash" and body["baseModelId"] == "gemini-3.5-flash"
    assert {"version", "displayName", "inputTokenLimit", "outputTokenLimit",
            "supportedGenerationMethods"} <= set(body)


def test_list_pages_through_every_served_model(client: genai.Client, emu: Emulator) -> None:
    names = [m.name for m in client.models.list(config={"page_size": 3})]
    assert names == [f"models/{s.id}" for s in DEFAULT_MODELS]
    assert emu.stats()["operations"]["models.list"] == -(-len(DEFAULT_MODELS) // 3)
    assert not any(n.removeprefix("models/") in DEFAULT_SHUT_DOWN for n in names)


def test_list_raw_page_token(emu: Emulator) -> None:
    key = {"x-goog-api-key": "k"}
    first = httpx2.get(f"{emu.base_url}/v1beta/models", params={"pageSize": 2}, headers=key).json()
    assert len(first["models"]) == 2 and first["nextPageToken"]
    rest = httpx2.get(f"{emu.base_url}/v1beta/models", params={"pageSize": 100, "pageToken": first["nextPageToken"]},
                      headers=key).json()
    assert "nextPageToken" not in rest
    assert len(first["models"]) + len(rest["models"]) == len(DEFAULT_MODELS)


@pytest.mark.parametrize("model", [GONE, "gemini-2.5-flash-image", "no-such-model"])
def test_shut_down_and_unknown_models_are_404_everywhere(client: genai.Client, api_version: str,
                                                          model: str) -> None:
    with pytest.raises(errors.ClientError) as info:
        client.models.get(model=model)
    _not_found(info, model, "getModel", api_version)
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=model, contents="a fox")
    _not_found(info, model, "generateContent", api_version)
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model=model, src=src.name)
    _not_found(info, model, "batchGenerateContent", api_version)
    assert list(client.batches.list()) == []


def test_model_set_is_configurable() -> None:
    models = [{"id": "my-image", "display_name": "Mine", "image": True, "draft_images": 1,
               "methods": ["generateContent"]}]
    with Emulator(EmulatorConfig(models=models, shut_down=["gemini-3.5-flash"])) as emu:
        client = make_client(emu, "v1beta")
        assert [m.name for m in client.models.list()] == ["models/my-image"]
        client.models.generate_content(model="my-image", contents="x")
        src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
        with pytest.raises(errors.ClientError) as info:  # the method is not in the list
            client.batches.create(model="my-image", src=src.name)
        _not_found(info, "my-image", "batchGenerateContent", "v1beta")


def test_models_control_endpoint_shuts_a_model_down(emu: Emulator, client: genai.Client) -> None:
    r = httpx2.post(f"{emu.base_url}/_emulator/models", json={"shut_down": ["gemini-3.5-flash"]})
    assert r.status_code == 200 and "gemini-3.5-flash" in r.json()["shut_down"]
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-3.5-flash", contents="q")
    assert info.value.code == 404
    assert client.models.get(model="gemini-3-pro-image").name == "models/gemini-3-pro-image"
    bad = httpx2.post(f"{emu.base_url}/_emulator/models", json={"models": [{"id": "x", "colour": 1}]})
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["message"]
