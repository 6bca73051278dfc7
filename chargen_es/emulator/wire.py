"""Wire-level helpers: spelling-tolerant field access, timestamps, ids, google.rpc errors.

The SDK sends some nested objects with Python (snake_case) field names and Google's own
examples mix both spellings, so every read of a request field goes through :func:`field`,
which accepts either. We never rewrite request keys wholesale: the keys under a schema's
``properties`` or a request's ``metadata`` are user data and must stay as they are.
"""

from __future__ import annotations

import base64
import datetime as _dt
import re
import secrets
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()
_SORTED_ENCODER = msgspec.json.Encoder(order="sorted")
_DECODER = msgspec.json.Decoder()

_SNAKE_RE = re.compile(r"(?<!^)(?=[A-Z])")

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# Canonical google.rpc codes for the HTTP statuses above (used in per-line Status objects).
RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 499: 1, 500: 13, 501: 12, 502: 14,
             503: 14, 504: 4}


def encode(obj: Any) -> bytes:
    """Compact JSON, the way Google sends it."""
    return _ENCODER.encode(obj)


def canonical(obj: Any) -> bytes:
    """Key-sorted JSON with camelCase keys: equal requests in either spelling hash alike."""
    return _SORTED_ENCODER.encode(camel_keys(obj))


def decode(data: bytes) -> Any:
    return _DECODER.decode(data)


def snake(name: str) -> str:
    return _SNAKE_RE.sub("_", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def camel_keys(obj: Any) -> Any:
    """Recursively camelCase dict keys (for hashing only, never for interpretation)."""
    if isinstance(obj, dict):
        return {camel(str(k)): camel_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [camel_keys(v) for v in obj]
    return obj


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` in camelCase or snake_case spelling; *name* is given in camelCase."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    alt = snake(name)
    if alt in obj:
        return obj[alt]
    return default


def rfc3339(ts: float) -> str:
    """RFC 3339 UTC with microseconds and ``Z``, as rule 4 of the protocol asks."""
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id(length: int = 12) -> str:
    """A resource id from ``[a-z0-9]``: the SDK cuts URIs at the first other character."""
    return base64.b32encode(secrets.token_bytes(length)).decode("ascii")[:length].lower()


def duration(seconds: float) -> str:
    """A protobuf Duration string: ``"7s"``, or ``"0.25s"`` for sub-second windows."""
    ms = max(0, int(-(-seconds * 1000 // 1)))
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms / 1000:.3f}".rstrip("0") + "s"


class ApiError(Exception):
    """An HTTP error reply with a google.rpc body; raised by handlers, rendered by the server."""

    def __init__(self, http: int, message: str, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.http = http
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.http, "message": self.message,
                               "status": STATUS_NAMES.get(self.http, "UNKNOWN")}
        if self.details:
            err["details"] = self.details
        return {"error": err}


def line_status(code: int, message: str) -> dict[str, Any]:
    """A google.rpc.Status for one batch line: numeric canonical code, no HTTP status."""
    return {"code": code, "message": message, "details": []}


def quota_details(per_day: bool, model: str, limit: int, retry_s: float) -> list[dict[str, Any]]:
    """The details of a generateContent 429, in the shapes recorded from Google.

    Per minute (a free-tier capture of gemini-3-flash, 2026-02-11): Help, QuotaFailure
    (metric, id, dimensions, value as a string), RetryInfo with **whole seconds** (``"58s"``;
    the message has the precise figure). Per day per model (a gemini-3-pro-image-preview
    capture pasted into a support report, 2026-01-31): a QuotaFailure with metric and id only
    and **no RetryInfo** at all: a client cannot count on ``retryDelay``.
    """
    if per_day:
        return [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model_per_day",
                                 "quotaId": "GenerateRequestsPerDayPerProjectPerModel"}]}]
    return [
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                         "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                         "quotaDimensions": {"location": "global", "model": model},
                         "quotaValue": str(limit)}]},
        # whole seconds, as Google sends; the emulator's own sub-second test windows keep theirs
        {"@type": "type.googleapis.com/google.rpc.RetryInfo",
         "retryDelay": f"{int(retry_s)}s" if retry_s >= 1 else duration(retry_s)},
    ]


def quota_message(model: str, limit: int, retry_s: float) -> str:
    """The per-minute 429's message: the quota named, and the precise wait."""
    return ("You exceeded your current quota, please check your plan and billing details. For more information "
            "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n"
            f"* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_requests, "
            f"limit: {limit}, model: {model}\nPlease retry in {retry_s:.9f}s.")
