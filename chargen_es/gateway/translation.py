"""The one translation boundary: SDK and ``httpx2`` exceptions become the project's errors.

:func:`translated` wraps *only* SDK and HTTP calls. Our own code (building a request,
parsing a reply) runs outside it, so a ``KeyError`` or ``ValueError`` of ours surfaces as
the bug it is instead of being retried as a "transient" error. Inside the boundary:

- ``genai_errors.APIError`` (any HTTP status the SDK saw) goes through :func:`classify`;
- ``httpx2`` timeouts and transport errors are transient;
- the SDK's own ``ValueError`` checks (bad arguments, e.g. a Vertex-only call) are
  permanent, except its two "upload not finalised" checks, which describe a reply;
- ``KeyError``/``IndexError``/``JSONDecodeError`` raised by the SDK mean the reply lacked
  what the SDK needs (a missing upload URL, a pager's empty later page): transient.

How 429s are told apart (Google's texts read on 2026-12-02):

- **Rate limits** carry ``google.rpc.QuotaFailure`` and/or ``google.rpc.RetryInfo``
  (quota ids like ``GenerateRequestsPerMinutePerProjectPerModel-FreeTier``) and a message
  beginning "You exceeded your current quota, please check your plan and billing
  details" (e.g. discuss.ai.google.dev/t/114413, pages quoting Google's bodies). The words
  "plan and billing" are therefore *not* a billing signal. A QuotaFailure naming a per-day
  quota is :class:`DailyQuotaExhausted`.
- **Billing**: prepaid credit exhausted ("Your prepayment credits are depleted. Please go
  to AI Studio ... billing#prepay", a 429 RESOURCE_EXHAUSTED without details, quoted in
  many discuss.ai.google.dev threads of 2026-06, until Google moved it to HTTP 402:
  discuss.ai.google.dev/t/183654 "Depleted prepay credits now return HTTP 402 instead of
  429"), the billing account's monthly tier cap ("Your billing account has exceeded its
  monthly spending cap. Please go to AI Studio ...", quoted by help.apiyi.com), a project
  spend cap set in AI Studio (launched 2026-03, "Spend" tab), billing disabled
  (``ErrorInfo.reason`` ``BILLING_DISABLED``). No waiting frees these: they are
  :class:`BillingError`. 402 is always billing; a 429 only when it carries no
  QuotaFailure/RetryInfo and its message names credits, a spend cap or the billing
  account. Google's rolling 10-minute *spend-based rate limits*
  (ai.google.dev/gemini-api/docs/rate-limits, "Spend-based rate limits") are rate limits
  and stay :class:`RateLimited`.
- A 429 on ``batches.create`` (too many concurrent batch jobs, or the model's
  enqueued-token limit: docs/rate-limits, "Batch API") is made a
  :class:`BatchCapacityExceeded` by the gateway, which knows the call; Google's body for
  it is the generic "You exceeded your current quota" with only a ``Help`` detail
  (langchain4j/langchain4j#3942, 2026-01), so the body alone cannot say so.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx2
from google.genai import errors as genai_errors

from chargen_es.errors import (
    BillingError,
    DailyQuotaExhausted,
    GeminiError,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
    is_local_io,
)

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})

# Messages that name a money problem rather than a rate. "check your plan and billing
# details" is deliberately absent: every ordinary rate-limit 429 says it.
_BILLING_TEXT = re.compile(
    r"prepayment credits|credits are depleted|credit balance|spend(?:ing)? cap"
    r"|billing account (?:has exceeded|is (?:closed|suspended|not active|disabled))"
    r"|billing (?:is )?(?:disabled|not enabled)|enable billing",
    re.IGNORECASE,
)
_BILLING_REASONS = frozenset({"BILLING_DISABLED", "BILLING_NOT_ACTIVE", "BILLING_ACCOUNT_CLOSED"})
# the SDK's ValueErrors that describe the upload's reply, not our arguments (_api_client.py)
_UPLOAD_REPLY_CHECKS = ("Failed to upload file", "All content has been uploaded")


def _parse_delay(text: str) -> float | None:
    m = re.fullmatch(r"\s*([0-9.]+)s\s*", text or "")
    return float(m.group(1)) if m else None


def classify(status: int, body: Any, message: str = "") -> GeminiError:
    """Turn an HTTP status and a google.rpc error body into the project's error tree."""
    err = body.get("error", body) if isinstance(body, dict) else {}
    if not isinstance(err, dict):
        err = {}
    msg = str(err.get("message") or message or f"HTTP {status}")
    reason = str(err.get("status") or "")
    retry_after: float | None = None
    per_day = False
    quota_detail = False
    info_reasons: set[str] = set()
    for detail in err.get("details") or []:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.rpc.RetryInfo"):
            quota_detail = True
            retry_after = _parse_delay(str(detail.get("retryDelay", "")))
        elif kind.endswith("google.rpc.QuotaFailure"):
            quota_detail = True
            for violation in detail.get("violations") or []:
                if not isinstance(violation, dict):
                    continue
                quota_id = str(violation.get("quotaId", "")) + str(violation.get("quotaMetric", ""))
                if "perday" in quota_id.lower().replace("_", "").replace("-", ""):
                    per_day = True
        elif kind.endswith("google.rpc.ErrorInfo"):
            info_reasons.add(str(detail.get("reason", "")))
    text = f"{status} {reason}: {msg}".strip() if reason else f"{status}: {msg}"
    billing_words = _BILLING_TEXT.search(msg) is not None
    if status == 402 or info_reasons & _BILLING_REASONS:
        return BillingError(text, status=status, reason=reason or "BILLING")
    if status == 429 and not quota_detail and billing_words:
        return BillingError(text, status=status, reason=reason or "BILLING")
    if status in (400, 403) and billing_words:
        return BillingError(text, status=status, reason=reason or "BILLING")
    if status == 429 and per_day:
        return DailyQuotaExhausted(text, status=status, reason=reason, retry_after=retry_after)
    if status == 429:
        return RateLimited(text, status=status, reason=reason, retry_after=retry_after)
    if status in TRANSIENT_STATUS or status >= 500:
        return TransientError(text, status=status, reason=reason, retry_after=retry_after)
    if status == 404:
        return NotFound(text, status=status, reason=reason)
    return PermanentError(text, status=status, reason=reason)


def translate(exc: BaseException) -> GeminiError:
    """Map one exception raised *inside* the boundary; anything unknown is re-raised."""
    if isinstance(exc, GeminiError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        details = exc.details if isinstance(exc.details, dict) else {}
        return classify(int(exc.code or 0), details, exc.message or "")
    if isinstance(exc, httpx2.TimeoutException):
        return TransientError(f"timed out ({type(exc).__name__})", reason="TIMEOUT")
    if isinstance(exc, httpx2.TransportError):
        return TransientError(f"connection failed ({type(exc).__name__}: {exc})", reason="TRANSPORT")
    if isinstance(exc, httpx2.HTTPError | httpx2.StreamError):
        return TransientError(f"unexpected reply ({type(exc).__name__}: {exc})", reason="PROTOCOL")
    if isinstance(exc, json.JSONDecodeError):
        return TransientError(f"the server's reply is not JSON ({exc})", reason="PROTOCOL")
    if isinstance(exc, UnicodeError):
        return PermanentError(f"cannot send the request ({exc})", reason="ENCODING")
    if isinstance(exc, ValueError):
        text = str(exc)
        if text.startswith(_UPLOAD_REPLY_CHECKS):
            return TransientError(f"upload not finalised by the server ({text})", reason="UPLOAD_INCOMPLETE")
        return PermanentError(f"the SDK refused the call: {text}", reason="SDK_REJECTED")
    if isinstance(exc, KeyError | IndexError):
        return TransientError(f"the server's reply lacks what the SDK needs ({type(exc).__name__}: {exc})",
                              reason="PROTOCOL")
    if isinstance(exc, OSError) and not is_local_io(exc):
        return PermanentError(f"local I/O failed ({exc})", reason="LOCAL_IO")
    raise exc  # ours, or a disk full / failing / read-only / refused: named at the run's boundary


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """The boundary: wrap SDK and HTTP calls only; our parsing stays outside."""
    try:
        yield
    except GeminiError:
        raise
    except Exception as exc:
        raise translate(exc) from exc
