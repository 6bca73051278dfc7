"""The gateway: the only module that talks to Gemini (through google-genai) or sees its errors.

Why one module: the SDK has traps (gemini-wire-protocol.md): the default API version is
``v1``, ``.jsonl`` has no known mime type, create and upload start are not idempotent,
``BatchJob`` hides ``batchStats`` and the job error, ``files.download`` returns the whole
file in memory, and transport errors arrive as raw ``httpx2`` exceptions. All of that is
handled here, once, and the rest of chargen-es sees plain values and the project's own
error tree (``chargen_es.errors.GeminiError``).

What goes through the SDK: uploads, file list/delete, batch create/list/cancel/delete and
``generateContent``. What goes through plain HTTP with the same base URL and key, because
the SDK cannot do it: the streamed download of a results file (constant memory whatever
its size) and the raw ``batches.get`` (for ``batchStats`` and the job error).

Retries: the SDK's own retries stay off (it has none by default). Reads are retried by
:func:`chargen_es.engine.retry` under the project's policy; create and upload start are
never retried blindly: the engine settles them by listing first.

Every method here is blocking; the engine runs them in worker threads
(``trio.to_thread.run_sync``) under a ``CapacityLimiter``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from chargen_es.errors import (
    ConfigError,
    DailyQuotaExhausted,
    GeminiError,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
)

GOOGLE_BASE_URL = "https://generativelanguage.googleapis.com/"
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_DOWNLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    name: str  # files/<id>
    uri: str
    display_name: str
    size: int
    mime: str
    expires: str  # RFC 3339 UTC, "" if unknown
    sha256_hash: str = ""


@dataclass(frozen=True)
class RemoteJob:
    name: str  # batches/<id>
    display_name: str
    state: str  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED | EXPIRED | UNSPECIFIED | other
    output_file: str = ""
    stats: dict[str, int] = field(default_factory=dict)
    error: str = ""
    input_file: str = ""  # files/<id> it reads; known from the raw get only

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

    @property
    def is_loopback(self) -> bool:
        return bool(self.base_url) and re.match(r"https?://(127\.|localhost|\[::1\])", self.base_url or "") is not None


def resolve_api_key(explicit: str | None = None) -> str | None:
    """The key from the flag or the environment (GOOGLE_API_KEY wins, as in the SDK)."""
    return explicit or os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")


def _rfc3339(value: datetime | None) -> str:
    """UTC with milliseconds and ``Z``; a naive datetime is taken as UTC."""
    if value is None:
        return ""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _state_name(raw: str) -> str:
    for prefix in ("BATCH_STATE_", "JOB_STATE_"):
        if raw.startswith(prefix):
            return raw[len(prefix):]
    return raw or "UNSPECIFIED"


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
    for detail in err.get("details") or []:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.rpc.RetryInfo"):
            retry_after = _parse_delay(str(detail.get("retryDelay", "")))
        elif kind.endswith("google.rpc.QuotaFailure"):
            for violation in detail.get("violations") or []:
                quota_id = str(violation.get("quotaId", "")) + str(violation.get("quotaMetric", ""))
                if "perday" in quota_id.lower().replace("_", "").replace("-", ""):
                    per_day = True
    text = f"{status} {reason}: {msg}".strip() if reason else f"{status}: {msg}"
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
    """The one place SDK and transport exceptions become project errors."""
    if isinstance(exc, GeminiError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        return classify(int(exc.code or 0), exc.details if isinstance(exc.details, dict) else {}, exc.message or "")
    if isinstance(exc, httpx2.TimeoutException):
        return TransientError(f"timed out ({type(exc).__name__})", reason="TIMEOUT")
    if isinstance(exc, httpx2.TransportError):
        return TransientError(f"connection failed ({type(exc).__name__}: {exc})", reason="TRANSPORT")
    if isinstance(exc, httpx2.HTTPError | httpx2.StreamError):
        return TransientError(f"unexpected reply ({type(exc).__name__}: {exc})", reason="PROTOCOL")
    if isinstance(exc, OSError):
        return PermanentError(f"local I/O failed ({exc})", reason="LOCAL_IO")
    if isinstance(exc, UnicodeError):
        return PermanentError(f"cannot send the request ({exc})", reason="ENCODING")
    if isinstance(exc, KeyError | ValueError | json.JSONDecodeError):
        return TransientError(f"unexpected reply ({type(exc).__name__}: {exc})", reason="PROTOCOL")
    raise exc


class Gateway:
    """Blocking calls to one backend. Thread-safe: the SDK client and httpx2 client are."""

    def __init__(self, backend: Backend) -> None:
        if not backend.api_key:
            raise ConfigError(
                "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass --emulator to run against "
                "the embedded emulator"
            )
        self.backend = backend
        options: dict[str, Any] = {"api_version": backend.api_version, "timeout": int(backend.timeout_s * 1000)}
        if backend.base_url:
            options["base_url"] = backend.base_url
        if backend.is_loopback:
            options["client_args"] = {"trust_env": False}
        self._client = genai.Client(api_key=backend.api_key, http_options=types.HttpOptions(**options))
        base = (backend.base_url or GOOGLE_BASE_URL).rstrip("/")
        self._rest = f"{base}/{backend.api_version}"
        self._http = httpx2.Client(
            timeout=httpx2.Timeout(backend.timeout_s, connect=30.0),
            headers={"x-goog-api-key": backend.api_key},
            trust_env=not backend.is_loopback,
            verify=base.startswith("https://"),  # plain http (the emulator) needs no CA bundle loaded
            follow_redirects=False,  # the key header would follow a redirect to any host
        )

    def close(self) -> None:
        self._http.close()
        self._client.close()

    # -- files ---------------------------------------------------------------------

    def upload(self, path: Path, mime: str, display_name: str) -> RemoteFile:
        """Upload a local file (resumable, chunked by the SDK). Not idempotent: settle first."""
        try:
            # a file object, not a path: the SDK copies a path's name into an HTTP header,
            # which fails for any non-ASCII file name
            with open(path, "rb") as stream:
                f = self._client.files.upload(file=stream, config=types.UploadFileConfig(
                    mime_type=mime, display_name=display_name))
        except OSError as exc:
            raise PermanentError(f"{path}: cannot read ({exc.strerror})") from exc
        except Exception as exc:
            raise translate(exc) from exc
        return _remote_file(f)

    def list_files(self) -> list[RemoteFile]:
        try:
            return [_remote_file(f) for f in self._client.files.list(config={"page_size": 100})]
        except Exception as exc:
            raise translate(exc) from exc

    def delete_file(self, name: str) -> None:
        _gone_is_fine(self._client.files.delete, name)

    def download(self, name: str, dest: Path, on_bytes: Callable[[int], None] | None = None) -> Download:
        """Stream ``files/<id>`` into ``dest`` and fsync it: memory stays flat.

        ``dest`` should be a temp name; making it visible (rename, folder fsync) is the
        caller's business, so a half-downloaded file never looks like a result.
        """
        file_id = name.split("/", 1)[1] if name.startswith("files/") else name
        digest = hashlib.sha256()
        total = 0
        lines = 0
        try:
            with self._open_download(f"{self._rest}/files/{file_id}:download?alt=media") as r:
                if r.status_code != 200:
                    raise classify(r.status_code, _json_or_empty(r.read()), r.reason_phrase)
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
                try:
                    for chunk in r.iter_bytes(_DOWNLOAD_CHUNK):
                        digest.update(chunk)
                        total += len(chunk)
                        lines += chunk.count(b"\n")
                        if on_bytes is not None:
                            on_bytes(len(chunk))
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view):]
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except GeminiError:
            dest.unlink(missing_ok=True)
            raise
        except Exception as exc:
            dest.unlink(missing_ok=True)
            raise translate(exc) from exc
        return Download(path=dest, sha256=digest.hexdigest(), bytes=total, lines=lines)

    @contextlib.contextmanager
    def _open_download(self, url: str) -> Iterator[httpx2.Response]:
        """GET ``url`` streaming, following redirects by hand: the API key goes only to
        the API's own origin, never to a host a redirect names."""
        origin = httpx2.URL(url).netloc
        for _ in range(5):
            request = self._http.build_request("GET", url)
            if request.url.netloc != origin:
                del request.headers["x-goog-api-key"]
            response = self._http.send(request, stream=True)
            try:
                if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                    url = str(response.url.join(response.headers["location"]))
                    continue
                yield response
                return
            finally:
                response.close()
        raise TransientError(f"too many redirects downloading {url}", reason="REDIRECTS")

    # -- batches -------------------------------------------------------------------

    def create_batch(self, *, model: str, input_file: str, display_name: str) -> RemoteJob:
        """Create a batch job. Not idempotent: the engine lists and adopts before calling."""
        try:
            job = self._client.batches.create(model=model, src=input_file, config={"display_name": display_name})
        except Exception as exc:
            raise translate(exc) from exc
        return RemoteJob(name=job.name or "", display_name=job.display_name or display_name,
                         state=_state_name(job.state.name if job.state else ""))

    def get_batch(self, name: str) -> RemoteJob:
        """Raw GET of the Operation: the SDK's BatchJob drops batchStats and the job error."""
        try:
            r = self._http.get(f"{self._rest}/{name}")
        except Exception as exc:
            raise translate(exc) from exc
        body = _json_or_empty(r.content)
        if r.status_code != 200:
            raise classify(r.status_code, body, r.reason_phrase)
        return _remote_job(body)

    def list_batches(self) -> list[RemoteJob]:
        try:
            return [
                RemoteJob(name=j.name or "", display_name=j.display_name or "",
                          state=_state_name(j.state.name if j.state else ""),
                          output_file=(j.dest.file_name or "") if j.dest else "")
                for j in self._client.batches.list(config={"page_size": 100})
            ]
        except Exception as exc:
            raise translate(exc) from exc

    def cancel_batch(self, name: str) -> None:
        try:
            self._client.batches.cancel(name=name)
        except Exception as exc:
            raise translate(exc) from exc

    def delete_batch(self, name: str) -> None:
        _gone_is_fine(self._client.batches.delete, name)

    # -- models --------------------------------------------------------------------

    def get_model(self, model_id: str) -> RemoteModel:
        """``models.get``: raises ``NotFound`` for a model this key cannot use (or that is shut down)."""
        try:
            m = self._client.models.get(model=model_id)
        except Exception as exc:
            raise translate(exc) from exc
        return _remote_model(m)

    def list_models(self) -> list[RemoteModel]:
        """``models.list``: every model this key can use, all pages."""
        try:
            return [_remote_model(m) for m in self._client.models.list(config={"page_size": 100})]
        except Exception as exc:
            raise translate(exc) from exc

    # -- live calls ----------------------------------------------------------------

    def generate(self, *, model: str, request: dict[str, Any]) -> dict[str, Any]:
        """One ``generateContent`` call from a REST request dict; returns REST-shaped JSON.

        The live runner builds the very same request as a batch line, so both runners share
        one result parser; the SDK response is dumped back to camelCase JSON here.
        """
        try:
            config = types.GenerateContentConfig.model_validate(request.get("generationConfig") or {})
            if request.get("systemInstruction"):
                config.system_instruction = types.Content.model_validate(request["systemInstruction"])
            contents = [types.Content.model_validate(c) for c in request.get("contents") or []]
        except ValueError as exc:  # pydantic's ValidationError: a request the SDK cannot express
            raise PermanentError(f"request rejected by the SDK: {exc}", reason="INVALID_REQUEST") from exc
        try:
            response = self._client.models.generate_content(model=model, contents=contents, config=config)
        except Exception as exc:
            raise translate(exc) from exc
        # python mode keeps image bytes as bytes (json mode would emit URL-safe base64)
        return response.model_dump(by_alias=True, exclude_none=True)


def _gone_is_fine(delete: Any, name: str) -> None:
    """A delete whose target is already gone did what it was asked."""
    try:
        delete(name=name)
    except Exception as exc:
        err = translate(exc)
        if not isinstance(err, NotFound):
            raise err from exc


def _json_or_empty(data: bytes) -> Any:
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return {"error": {"message": data[:200].decode("utf-8", "replace")}}


def _remote_file(f: types.File) -> RemoteFile:
    return RemoteFile(
        name=f.name or "",
        uri=f.uri or "",
        display_name=f.display_name or "",
        size=int(f.size_bytes or 0),
        mime=f.mime_type or "",
        expires=_rfc3339(f.expiration_time),
        sha256_hash=f.sha256_hash or "",
    )


def _remote_model(m: types.Model) -> RemoteModel:
    return RemoteModel(
        name=m.name or "",
        display_name=m.display_name or "",
        supported_methods=tuple(m.supported_actions or ()),
        input_token_limit=int(m.input_token_limit or 0),
        output_token_limit=int(m.output_token_limit or 0),
    )


def _remote_job(body: dict[str, Any]) -> RemoteJob:
    meta = body.get("metadata") or {}
    output = meta.get("output") or (body.get("response") or {})
    stats = {k: int(v) for k, v in (meta.get("batchStats") or {}).items() if str(v).isdigit()}
    error = body.get("error") or {}
    return RemoteJob(
        name=str(body.get("name") or meta.get("name") or ""),
        display_name=str(meta.get("displayName") or ""),
        state=_state_name(str(meta.get("state") or "")),
        output_file=str(output.get("responsesFile") or ""),
        stats=stats,
        error=str(error.get("message") or "") if isinstance(error, dict) else "",
        input_file=str((meta.get("inputConfig") or {}).get("fileName") or ""),
    )
