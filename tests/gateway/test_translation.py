"""``classify``/``translate`` on real SDK exception objects and real ``httpx2`` exceptions.

Each ``APIError`` is built the way the SDK builds it: ``APIError.raise_for_response`` on an
``httpx2.Response`` carrying Google's JSON body (bodies as Google sends them, sources in
``chargen_es/gateway/translation.py``).
"""

from __future__ import annotations

import json

import httpx2
import pytest
from google import genai
from google.genai import errors as genai_errors

from chargen_es.errors import (
    BillingError,
    DailyQuotaExhausted,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
)
from chargen_es.gateway import classify, translate, translated

URL = "https://generativelanguage.googleapis.com/v1beta/models/gemini-3.5-flash:generateContent"
HELP = {"@type": "type.googleapis.com/google.rpc.Help",
        "links": [{"description": "Learn more about Gemini API quotas",
                   "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]}
PLAN_AND_BILLING = ("You exceeded your current quota, please check your plan and billing details. For more "
                    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.")


def sdk_error(status: int, body: object) -> genai_errors.APIError:
    """The exception the SDK raises for this reply (built by the SDK's own code path)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx2.Response(status, content=content, request=httpx2.Request("POST", URL))
    with pytest.raises(genai_errors.APIError) as info:
        genai_errors.APIError.raise_for_response(response)
    return info.value


def quota_body(quota_id: str, delay: str | None = "22s", message: str = PLAN_AND_BILLING) -> dict:
    details: list[dict] = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                            "violations": [{"quotaMetric": "generativelanguage.googleapis.com/"
                                                           "generate_content_free_tier_requests",
                                            "quotaId": quota_id}]}, HELP]
    if delay:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
    return {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": details}}


def test_a_free_tier_rate_limit_saying_plan_and_billing_is_a_rate_limit_with_its_delay() -> None:
    err = translate(sdk_error(429, quota_body("GenerateRequestsPerMinutePerProjectPerModel-FreeTier")))
    assert type(err) is RateLimited and err.retry_after == 22.0 and err.status == 429
    assert "RESOURCE_EXHAUSTED" in str(err)


def test_a_per_day_quota_is_not_worth_waiting_for() -> None:
    err = translate(sdk_error(429, quota_body("GenerateRequestsPerDayPerProjectPerModel-FreeTier")))
    assert isinstance(err, DailyQuotaExhausted) and not err.retryable


def test_depleted_prepaid_credit_as_429_without_details_is_billing() -> None:
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                      "message": "Your prepayment credits are depleted. Please go to AI Studio at "
                                 "https://ai.studio/projects to manage your project and billing. Learn more at "
                                 "https://ai.google.dev/gemini-api/docs/billing#prepay."}}
    err = translate(sdk_error(429, body))
    assert isinstance(err, BillingError) and not err.retryable and not isinstance(err, RateLimited)


def test_depleted_prepaid_credit_as_402_is_billing() -> None:
    body = {"error": {"code": 402, "status": "RESOURCE_EXHAUSTED",
                      "message": "Your prepayment credits are depleted. Please go to AI Studio."}}
    assert isinstance(translate(sdk_error(402, body)), BillingError)


def test_the_monthly_spending_cap_is_billing() -> None:
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                      "message": "Your billing account has exceeded its monthly spending cap. Please go to AI "
                                 "Studio at https://aistudio.google.com to manage your billing."}}
    assert isinstance(translate(sdk_error(429, body)), BillingError)


def test_billing_words_next_to_a_retry_delay_stay_a_rate_limit() -> None:
    body = quota_body("GenerateRequestsPerMinutePerProjectPerModel",
                      message="Your project is near its spend cap; requests per minute exceeded")
    assert type(translate(sdk_error(429, body))) is RateLimited


def test_a_generic_429_with_only_a_help_link_is_a_rate_limit_not_billing() -> None:
    # Google's batches.create 429 (concurrent jobs / enqueued tokens) looks exactly like this
    body = {"error": {"code": 429, "message": PLAN_AND_BILLING, "status": "RESOURCE_EXHAUSTED", "details": [HELP]}}
    err = translate(sdk_error(429, body))
    assert type(err) is RateLimited and err.retry_after is None


def test_billing_disabled_error_info_is_billing() -> None:
    body = {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "This API method requires billing.",
                      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "BILLING_DISABLED",
                                   "domain": "googleapis.com"}]}}
    assert isinstance(translate(sdk_error(403, body)), BillingError)


def test_a_bad_key_is_permanent_and_a_missing_model_not_found() -> None:
    bad_key = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "API key not valid. Please pass a "
                         "valid API key.", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                        "reason": "API_KEY_INVALID"}]}}
    err = translate(sdk_error(400, bad_key))
    assert type(err) is PermanentError and "API key not valid" in str(err)
    gone = {"error": {"code": 404, "status": "NOT_FOUND",
                      "message": "models/gemini-3-pro-image-preview is not found for API version v1beta"}}
    assert isinstance(translate(sdk_error(404, gone)), NotFound)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_transient(status: int) -> None:
    err = translate(sdk_error(status, {"error": {"code": status, "message": "backend", "status": "UNAVAILABLE"}}))
    assert type(err) is TransientError and err.retryable


def test_a_non_json_error_page_still_classifies() -> None:
    err = translate(sdk_error(502, b"<html>Bad Gateway</html>"))
    assert type(err) is TransientError and err.status == 502


def test_real_httpx2_transport_errors_are_transient() -> None:
    request = httpx2.Request("GET", URL)
    assert translate(httpx2.ConnectError("refused", request=request)).reason == "TRANSPORT"
    assert translate(httpx2.ReadTimeout("slow", request=request)).reason == "TIMEOUT"
    assert translate(httpx2.RemoteProtocolError("cut", request=request)).retryable


def test_an_sdk_argument_check_is_permanent() -> None:
    with pytest.raises(PermanentError) as info, translated():
        genai.Client(api_key="k", vertexai=False, project="p")  # the SDK's own ValueError
    assert info.value.reason == "SDK_REJECTED" and not info.value.retryable
    assert "project/location" in str(info.value)


def test_the_sdk_upload_status_checks_describe_the_reply_and_are_transient() -> None:
    err = translate(ValueError("Failed to upload file: Upload status is not finalized."))
    assert type(err) is TransientError and err.reason == "UPLOAD_INCOMPLETE"


def test_a_pager_index_error_inside_the_boundary_does_not_escape() -> None:
    with pytest.raises(TransientError) as info, translated():
        [][0]  # what pagers.Pager.__next__ does on an empty later page
    assert info.value.reason == "PROTOCOL"


def test_something_unknown_is_not_swallowed() -> None:
    with pytest.raises(ZeroDivisionError), translated():
        1 / 0  # noqa: B018


def test_classify_reads_a_bare_rpc_status_too() -> None:
    err = classify(429, {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED",
                         "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]})
    assert type(err) is RateLimited and err.retry_after == 7.0
