"""Plain values the gateway hands to the rest of chargen-es, and their parsing from replies.

Nothing here calls the network or sees an SDK exception: these are our own parsers, run
*outside* the translation boundary (:mod:`chargen_es.gateway.translation`), so a
``KeyError`` or ``ValueError`` in them is a bug in chargen-es, never a retryable
"transient" error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from google.genai import types

GOOGLE_BASE_URL = "https://generativelanguage.googleapis.com/"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def normalise_sha256(raw: str) -> str:
    """The lowercase hex SHA-256 in any form a server sends it; ``""`` if it is none of them.

    ``File.sha256_hash`` is a proto ``bytes`` field (googleapis
    ``google/ai/generativelanguage/v1beta/file.proto``, read 2026-12-02), so JSON carries
    it as base64; the live service fills those bytes with the *hex text* of the digest, so
    what arrives is base64 of the hex (88 characters). A server following the proto
    literally sends base64 of the raw 32-byte digest (44 characters); a hand-written one
    may send the hex itself. All three are accepted, standard or URL-safe, padded or not.
    """
    raw = (raw or "").strip()
    if _HEX64.fullmatch(raw):
        return raw.lower()
    if not raw:
        return ""
    padded = raw + "=" * (-len(raw) % 4)
    altchars = b"-_" if ("-" in raw or "_" in raw) else None
    try:
        data = base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return ""
    if len(data) == 64 and _HEX64.fullmatch(data.decode("ascii", "replace")):
        return data.decode("ascii").lower()
    if len(data) == 32:
        return data.hex()
    return ""


@dataclass(frozen=True)
class RemoteFile:
    name: str  # files/<id>
    uri: str
    display_name: str
    size: int
    mime: str
    expires: str  # RFC 3339 UTC, "" if unknown
    sha256_hash: str = ""  # as the server sent it (see ``sha256``)
    state: str = ""  # ACTIVE | PROCESSING | FAILED | "" (unspecified)

    @property
    def sha256(self) -> str:
        """The content hash as lowercase hex, whatever form the server used ("" if none)."""
        return normalise_sha256(self.sha256_hash)


@dataclass(frozen=True)
class RemoteJob:
    name: str  # batches/<id>
    display_name: str
    state: str  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED | EXPIRED | UNSPECIFIED | other
    output_file: str = ""
    stats: dict[str, int] = field(default_factory=dict)
    error: str = ""
    input_file: str = ""  # files/<id> it reads; known from the raw get only
    # REST-shaped answers of a job created with inline requests (raw get only), in order
    inline_responses: tuple[dict[str, Any], ...] = ()

    @property
    def done(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")


@dataclass(frozen=True)
class RemoteModel:
    """One entry of ``models.get`` / ``models.list``."""

    name: str  # models/<id>
    display_name: str = ""
    supported_methods: tuple[str, ...] = ()  # e.g. generateContent, batchGenerateContent
    input_token_limit: int = 0
    output_token_limit: int = 0
    # fields of the resource beyond those googleapis' v1beta model.proto defines (read at
    # 99b25248, 2026-12-07): name, baseModelId, version, displayName, description,
    # inputTokenLimit, outputTokenLimit, supportedGenerationMethods, temperature,
    # maxTemperature, topP, topK, thinking. None of them is a lifecycle field: Google's
    # lifecycle metadata (ModelStatus: modelStage, retirementTime, message) travels on each
    # GenerateContentResponse as ``modelStatus`` (google-genai 3.6.1 types.py). Anything
    # else Google starts to send shows up here.
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def model_id(self) -> str:
        return self.name.removeprefix("models/")

    def supports(self, method: str) -> bool:
        return method in self.supported_methods


@dataclass(frozen=True)
class Download:
    path: Path
    sha256: str
    bytes: int
    lines: int


@dataclass(frozen=True)
class Backend:
    """Where to send calls: Google, or a base URL (the emulator, a proxy)."""

    api_key: str
    base_url: str | None = None
    api_version: str = "v1beta"
    timeout_s: float = 600.0
    # Where files live when the URL does not say it: the embedded emulator listens on a new
    # port every time, but its files live in its data folder (``emulator:<folder>``).
    home: str = ""

    @property
    def identity(self) -> str:
        """Which server and account holds the files uploaded through this backend.

        Upload records carry it, and a file is reused only on the backend that holds it: a
        file id from the embedded emulator means nothing to Google, nor one account's to
        another's. The base URL and API version name the server (a proxy or a Vertex-style
        endpoint is a URL of its own); the account is a salted SHA-256 fingerprint of the key,
        16 hex digits, never the key (invariant 7).
        """
        if self.home:
            return self.home
        digest = hashlib.sha256(b"chargen-es backend identity v1\0" + self.api_key.encode("utf-8")).hexdigest()
        # a URL may carry credentials (user:token@, ?key=): only scheme, host, port and path are recorded
        parts = urlsplit(self.root_url)
        host = parts.hostname or ""
        where = f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"
        return f"{where}{self.api_version}#key-{digest[:16]}"

    @staticmethod
    def flags_reaching(identity: str) -> tuple[str, ...]:
        """The command-line flags that reach the backend an :attr:`identity` names: none for
        Google, ``--base-url URL`` for another server, ``--emulator`` for the embedded one (its
        identity is its data folder); the key is the environment's, not a flag."""
        if not identity.startswith(("http://", "https://")):
            return ("--emulator",)
        where = identity.split("#key-", 1)[0]
        base = where[:where.rstrip("/").rfind("/") + 1]  # without the API version segment
        return () if base == GOOGLE_BASE_URL else ("--base-url", base)

    @property
    def root_url(self) -> str:
        """The base URL every call uses, with one trailing slash (Google's when none is set)."""
        return (self.base_url or GOOGLE_BASE_URL).rstrip("/") + "/"

    @property
    def is_loopback(self) -> bool:
        return bool(self.base_url) and re.match(r"https?://(127\.|localhost|\[::1\])", self.base_url or "") is not None

    @property
    def is_google(self) -> bool:
        """True when calls go to a Google host (no proxy, no emulator in between)."""
        host = re.sub(r"^https?://", "", self.root_url).split("/", 1)[0].split(":", 1)[0]
        return host == "googleapis.com" or host.endswith(".googleapis.com")


def rfc3339(value: datetime | None) -> str:
    """UTC with milliseconds and ``Z``; a naive datetime is taken as UTC."""
    if value is None:
        return ""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def state_name(raw: str) -> str:
    for prefix in ("BATCH_STATE_", "JOB_STATE_"):
        if raw.startswith(prefix):
            return raw[len(prefix):]
    return raw or "UNSPECIFIED"


def _enum_name(value: Any) -> str:
    text = str(getattr(value, "value", value) or "")
    return "" if text in ("", "STATE_UNSPECIFIED", "None") else text


def remote_file(f: types.File) -> RemoteFile:
    return RemoteFile(
        name=f.name or "",
        uri=f.uri or "",
        display_name=f.display_name or "",
        size=int(f.size_bytes or 0),
        mime=f.mime_type or "",
        expires=rfc3339(f.expiration_time),
        sha256_hash=f.sha256_hash or "",
        state=_enum_name(f.state),
    )


MODEL_FIELDS = frozenset({"name", "baseModelId", "version", "displayName", "description", "inputTokenLimit",
                          "outputTokenLimit", "supportedGenerationMethods", "temperature", "maxTemperature",
                          "topP", "topK", "thinking"})


def remote_model_json(m: dict[str, Any]) -> RemoteModel:
    """A Model resource as the REST API sends it, keeping the fields the proto does not define."""
    extra = tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in m.items() if k not in MODEL_FIELDS))
    return RemoteModel(
        name=str(m.get("name") or ""), display_name=str(m.get("displayName") or ""),
        supported_methods=tuple(str(x) for x in m.get("supportedGenerationMethods") or ()),
        input_token_limit=int(m.get("inputTokenLimit") or 0), output_token_limit=int(m.get("outputTokenLimit") or 0),
        extra=extra,
    )


def remote_model(m: types.Model) -> RemoteModel:
    return RemoteModel(
        name=m.name or "",
        display_name=m.display_name or "",
        supported_methods=tuple(m.supported_actions or ()),
        input_token_limit=int(m.input_token_limit or 0),
        output_token_limit=int(m.output_token_limit or 0),
    )


def remote_job_from_sdk(j: types.BatchJob) -> RemoteJob:
    return RemoteJob(name=j.name or "", display_name=j.display_name or "",
                     state=state_name(j.state.name if j.state else ""),
                     output_file=(j.dest.file_name or "") if j.dest else "")


def remote_job(body: dict[str, Any]) -> RemoteJob:
    """The raw Operation of ``batches.get`` (protocol: ``metadata`` holds the job)."""
    meta = body.get("metadata") or {}
    output = meta.get("output") or (body.get("response") or {})
    stats = {k: int(v) for k, v in (meta.get("batchStats") or {}).items() if str(v).isdigit()}
    error = body.get("error") or {}
    inlined = (output.get("inlinedResponses") or {}).get("inlinedResponses") or []
    return RemoteJob(
        name=str(body.get("name") or meta.get("name") or ""),
        display_name=str(meta.get("displayName") or ""),
        state=state_name(str(meta.get("state") or "")),
        output_file=str(output.get("responsesFile") or ""),
        stats=stats,
        error=str(error.get("message") or "") if isinstance(error, dict) else "",
        input_file=str((meta.get("inputConfig") or {}).get("fileName") or ""),
        inline_responses=tuple(r for r in inlined if isinstance(r, dict)),
    )
