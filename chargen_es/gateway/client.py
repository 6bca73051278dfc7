"""``Gateway``: blocking calls to one backend, through google-genai and one shared client.

What goes through the SDK: uploads, file list/delete, batch create/list/cancel/delete,
``models.get``/``list`` and ``generateContent``. What goes through plain HTTP on the same
``httpx2`` client (same base URL, key and options), because the SDK cannot do it: the
streamed download of a results file (constant memory whatever its size; the SDK's
``files.download`` returns the whole file) and the raw ``batches.get`` (the SDK's
``BatchJob`` drops ``batchStats``, the job error and the input file).

SDK traps handled here (google-genai 3.6.1, read 2026-12-02):

- ``GOOGLE_GENAI_USE_VERTEXAI=true`` (or ``GOOGLE_GENAI_USE_ENTERPRISE``) in the
  environment switches a client built without ``vertexai`` to Vertex even with an API key
  (``_api_client.BaseApiClient.__init__``); Vertex refuses ``files.upload`` with a
  ``ValueError``. We always pass ``vertexai=False``.
- Without ``http_options.base_url`` the SDK reads ``GOOGLE_GEMINI_BASE_URL``
  (``_base_url.get_base_url``), which would split the SDK and our raw calls across two
  hosts: the base URL is always passed explicitly.
- The default API version is ``v1``, which lacks the Batch API: ``v1beta`` is passed.
- ``.jsonl`` has no known MIME type, and a path's name goes into an HTTP header (fails on
  non-ASCII names): uploads pass a file object and an explicit MIME type.
- Iterating a ``Pager`` raises ``IndexError`` when a later page comes back empty
  (``pagers.Pager.__next__`` indexes the new page unguarded): lists are paged by hand.
- A per-request timeout of ``None`` means *no* timeout in httpx2, and the SDK passes its
  ``HttpOptions.timeout`` on every request: the SDK gets ``Backend.timeout_s`` too.

Retries: the SDK's own retries stay off (``retry_options`` unset: one attempt). Reads
are retried by the engine under its policy; create and upload start are never retried
blindly: the engine settles them by listing first.

Every method is blocking; the engine runs them in worker threads. The SDK client and the
``httpx2`` client are thread-safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from google import genai
from google.genai import pagers, types

from chargen_es import fsio
from chargen_es.errors import (
    BatchCapacityExceeded,
    ConfigError,
    GeminiError,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
)
from chargen_es.gateway.translation import classify, translated
from chargen_es.gateway.transport import http_client, sdk_tls_args
from chargen_es.gateway.values import (
    Backend,
    Download,
    RemoteFile,
    RemoteJob,
    RemoteModel,
    remote_file,
    remote_job,
    remote_job_from_sdk,
    remote_model,
    remote_model_json,
    state_name,
)

T = TypeVar("T")
_DOWNLOAD_CHUNK = 1 << 20
_DOWNLOAD_POINT = "download"  # the fault hook's name for the download's writes (chargen_es.fsio)
_PAGE_SIZE = 100
_MAX_PAGES = 10_000


def _all_pages(first: pagers.Pager[T]) -> list[T]:
    """Every item of a listing, page by page, tolerating empty pages (call inside the boundary)."""
    pager = first
    items = list(pager.page)
    seen: set[str] = set()
    while token := pager.config.get("page_token"):
        if token in seen or len(seen) >= _MAX_PAGES:
            raise TransientError(f"the server repeated page token {token!r}", reason="PROTOCOL")
        seen.add(token)
        pager.next_page()
        items.extend(pager.page)
    return items


def _as_batch_capacity(err: GeminiError) -> GeminiError:
    """A plain rate limit on ``batches.create`` is the batch queue being full."""
    if type(err) is RateLimited:
        return BatchCapacityExceeded(str(err), status=err.status, reason=err.reason or "BATCH_CAPACITY",
                                     retry_after=err.retry_after)
    return err


class Gateway:
    """Blocking calls to one backend."""

    def __init__(self, backend: Backend) -> None:
        if not backend.api_key:
            raise ConfigError(
                "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass --emulator to run against "
                "the embedded emulator"
            )
        self.backend = backend
        self._http = http_client(backend)
        options = types.HttpOptions(base_url=backend.root_url, api_version=backend.api_version,
                                    timeout=int(backend.timeout_s * 1000), httpx_client=self._http,
                                    async_client_args=sdk_tls_args(backend.root_url))
        with translated():  # the SDK validates its arguments here (ValueError: permanent)
            self._client = genai.Client(api_key=backend.api_key, vertexai=False, http_options=options)
        self._rest = f"{backend.root_url}{backend.api_version}"

    def close(self) -> None:
        self._client.close()  # leaves a client it was given alone
        self._http.close()

    # -- files ---------------------------------------------------------------------

    def upload(self, path: Path, mime: str, display_name: str) -> RemoteFile:
        """Upload a local file (resumable, chunked by the SDK). Not idempotent: settle first."""
        config = types.UploadFileConfig(mime_type=mime, display_name=display_name)
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below; OSError must name the file
        except OSError as exc:
            raise PermanentError(f"{path}: cannot read ({exc.strerror})", reason="LOCAL_IO") from exc
        with stream, translated():
            f = self._client.files.upload(file=stream, config=config)
        return remote_file(f)

    def get_file(self, name: str) -> RemoteFile:
        with translated():
            f = self._client.files.get(name=name)
        return remote_file(f)

    def list_files(self) -> list[RemoteFile]:
        with translated():
            files = _all_pages(self._client.files.list(config={"page_size": _PAGE_SIZE}))
        return [remote_file(f) for f in files]

    def delete_file(self, name: str) -> None:
        self._delete(self._client.files.delete, name)

    def download(self, name: str, dest: Path, on_bytes: Callable[[int], None] | None = None) -> Download:
        """Stream ``files/<id>`` into ``dest`` and fsync it: memory stays flat.

        ``dest`` should be a temp name; making it visible (rename, folder fsync) is the
        caller's business, so a half-downloaded file never looks like a result. When the
        server says the size (``Content-Length``, not compressed) and the disk cannot hold
        it, nothing is written: a disk-full error with the numbers.
        """
        file_id = name.split("/", 1)[1] if name.startswith("files/") else name
        digest = hashlib.sha256()
        total = 0
        lines = 0
        try:
            with translated(), self._open_download(f"{self._rest}/files/{file_id}:download?alt=media") as r:
                if r.status_code != 200:
                    raise classify(r.status_code, _json_or_empty(r.read()), r.reason_phrase)
                size = r.headers.get("content-length")
                if size is not None and size.isdigit() and "content-encoding" not in r.headers:
                    fsio.ensure_room(dest, int(size))  # stop before starting when the disk cannot hold it
                fd = fsio.create(dest, point=_DOWNLOAD_POINT)
                try:
                    for chunk in r.iter_bytes(_DOWNLOAD_CHUNK):
                        digest.update(chunk)
                        total += len(chunk)
                        lines += chunk.count(b"\n")
                        if on_bytes is not None:
                            on_bytes(len(chunk))
                        fsio.write_all(fd, chunk, path=dest, point=_DOWNLOAD_POINT)
                    fsio.fsync(fd, path=dest, point=_DOWNLOAD_POINT)
                finally:
                    os.close(fd)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
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
        """Create a batch job reading ``input_file``. Not idempotent: the engine lists and adopts
        before calling. A 429 here is :class:`BatchCapacityExceeded` (the queue is full)."""
        return self._create(model, input_file, display_name)

    def create_inline_batch(self, *, model: str, texts: Sequence[str], display_name: str,
                            store: bool = False) -> RemoteJob:
        """A small batch job whose requests travel in the create call (one user text each).

        For ``doctor --roundtrip`` and the contract suite: no upload needed. The answers
        come back in order in :attr:`RemoteJob.inline_responses` of :meth:`get_batch`.
        Each request carries ``store`` (false unless asked), like every request we send.
        """
        config = types.GenerateContentConfig(store=store)
        requests = [types.InlinedRequest(contents=[types.Content(role="user", parts=[types.Part(text=t)])],
                                         config=config)
                    for t in texts]
        return self._create(model, requests, display_name)

    def _create(self, model: str, src: Any, display_name: str) -> RemoteJob:
        try:
            with translated():
                job = self._client.batches.create(model=model, src=src, config={"display_name": display_name})
        except GeminiError as err:
            raise _as_batch_capacity(err) from err.__cause__
        return RemoteJob(name=job.name or "", display_name=job.display_name or display_name,
                         state=state_name(job.state.name if job.state else ""))

    def get_batch(self, name: str) -> RemoteJob:
        """Raw GET of the Operation: the SDK's BatchJob drops batchStats and the job error."""
        with translated():
            r = self._http.get(f"{self._rest}/{name}")
        body = _json_or_empty(r.content)
        if r.status_code != 200:
            raise classify(r.status_code, body, r.reason_phrase)
        return remote_job(body)

    def list_batches(self) -> list[RemoteJob]:
        with translated():
            jobs = _all_pages(self._client.batches.list(config={"page_size": _PAGE_SIZE}))
        return [remote_job_from_sdk(j) for j in jobs]

    def cancel_batch(self, name: str) -> None:
        with translated():
            self._client.batches.cancel(name=name)

    def delete_batch(self, name: str) -> None:
        self._delete(self._client.batches.delete, name)

    # -- models --------------------------------------------------------------------

    def get_model(self, model_id: str) -> RemoteModel:
        """``models.get``: raises ``NotFound`` for a model this key cannot use (or that is shut down)."""
        with translated():
            m = self._client.models.get(model=model_id)
        return remote_model(m)

    def list_models(self) -> list[RemoteModel]:
        """``models.list``: every model this key can use, all pages, read raw.

        Raw because the SDK keeps only the fields it knows (google-genai 3.6.1
        ``_Model_from_mldev``), and a field Google adds to the Model resource (a lifecycle
        stage, a retirement date) is what ``models`` and ``doctor`` must notice.
        """
        found: list[RemoteModel] = []
        token = ""
        seen: set[str] = set()
        while True:
            params = {"pageSize": str(_PAGE_SIZE), **({"pageToken": token} if token else {})}
            with translated():
                r = self._http.get(f"{self._rest}/models", params=params)
            body = _json_or_empty(r.content)
            if r.status_code != 200:
                raise classify(r.status_code, body, r.reason_phrase)
            found.extend(remote_model_json(m) for m in body.get("models") or [] if isinstance(m, dict))
            token = str(body.get("nextPageToken") or "")
            if not token:
                return found
            if token in seen or len(seen) >= _MAX_PAGES:
                raise TransientError(f"the server repeated page token {token!r}", reason="PROTOCOL")
            seen.add(token)

    # -- live calls ----------------------------------------------------------------

    def generate(self, *, model: str, request: dict[str, Any]) -> dict[str, Any]:
        """One ``generateContent`` call from a REST request dict; returns REST-shaped JSON.

        The live runner builds the very same request as a batch line, so both runners share
        one result parser; the SDK response is dumped back to camelCase JSON here.
        """
        try:
            config = types.GenerateContentConfig.model_validate(request.get("generationConfig") or {})
            if request.get("store") is not None:
                config.store = bool(request["store"])  # sent as the request's top-level "store"
            if request.get("systemInstruction"):
                config.system_instruction = types.Content.model_validate(request["systemInstruction"])
            if request.get("safetySettings"):  # the SDK sends config.safety_settings as the request's own
                config.safety_settings = [types.SafetySetting.model_validate(s) for s in request["safetySettings"]]
            contents = [types.Content.model_validate(c) for c in request.get("contents") or []]
        except ValueError as exc:  # pydantic's ValidationError: a request the SDK cannot express
            raise PermanentError(f"request rejected by the SDK: {exc}", reason="INVALID_REQUEST") from exc
        with translated():
            response = self._client.models.generate_content(model=model, contents=contents, config=config)
        # python mode keeps image bytes as bytes (json mode would emit URL-safe base64)
        return response.model_dump(by_alias=True, exclude_none=True)

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _delete(delete: Callable[..., Any], name: str) -> None:
        """A delete whose target is already gone did what it was asked."""
        try:
            with translated():
                delete(name=name)
        except NotFound:
            return


def _json_or_empty(data: bytes) -> Any:
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return {"error": {"message": data[:200].decode("utf-8", "replace")}}

