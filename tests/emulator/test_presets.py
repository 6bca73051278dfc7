"""Google's real error bodies as fault presets: batch-create quota 429s vs billing 429s."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors

from chargen_es.emulator import Emulator, FaultError
from chargen_es.emulator.presets import PREPAY_MESSAGE, QUOTA_MESSAGE, SPEND_CAP_MESSAGE

from .helpers import image_request, jsonl, upload_bytes

RETRY = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA = "type.googleapis.com/google.rpc.QuotaFailure"


def _create(client: genai.Client) -> errors.ClientError:
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model="gemini-3-pro-image", src=src.name)
    return info.value


@pytest.mark.parametrize(("preset", "quota_id"), [("batch_concurrency", "BatchConcurrentJobsPerProject"),
                                                  ("enqueued_tokens", "BatchEnqueuedTokensPerProjectPerModel")])
def test_batch_create_quota_429_has_retry_info(emu: Emulator, client: genai.Client, preset: str,
                                               quota_id: str) -> None:
    emu.set_faults([{"kind": "preset", "preset": preset, "count": 1, "retry_delay_s": 90}])
    exc = _create(client)
    assert exc.code == 429 and exc.status == "RESOURCE_EXHAUSTED" and exc.message == QUOTA_MESSAGE
    details = {d["@type"]: d for d in exc.details["error"]["details"]}
    assert details[RETRY]["retryDelay"] == "90s"
    violation = details[QUOTA]["violations"][0]
    assert violation["quotaId"] == quota_id and violation["quotaDimensions"]["model"] == "gemini-3-pro-image"
    assert client.models.generate_content(model="gemini-3.5-flash", contents="q").text  # create-only
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    client.batches.create(model="gemini-3-pro-image", src=src.name)  # count 1: the next one works


@pytest.mark.parametrize(("preset", "message"), [("prepay_depleted", PREPAY_MESSAGE),
                                                 ("spend_cap", SPEND_CAP_MESSAGE)])
def test_billing_429_has_no_details(emu: Emulator, client: genai.Client, preset: str, message: str) -> None:
    src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl")
    emu.set_faults([{"kind": "preset", "preset": preset}])
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model="gemini-3-pro-image", src=src.name)
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    assert info.value.message == message and "details" not in info.value.details["error"]
    with pytest.raises(errors.ClientError) as live:
        client.models.generate_content(model="gemini-3.5-flash", contents="q")
    assert live.value.code == 429 and live.value.message == message


def test_unknown_preset_is_refused(emu: Emulator) -> None:
    with pytest.raises(FaultError, match="unknown preset 'nope'"):
        emu.set_faults([{"kind": "preset", "preset": "nope"}])
