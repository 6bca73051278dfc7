"""The one ``httpx2.Client`` of a gateway, shared by the SDK and our raw calls.

One client means one set of options (timeouts, proxies from the environment, TLS, the key
header, no automatic redirects) and one connection pool. google-genai 3.6.1 takes it as
``HttpOptions(httpx_client=...)`` (``_api_client.BaseApiClient.__init__``: it uses the
given client as is and never closes it; ``_detect_http_backend`` picks the httpx2 code
path from its type).

**Uploads through a proxy.** The resumable upload's start request answers with an
``x-goog-upload-url`` naming Google's host; the SDK then POSTs every chunk there
(``_api_client._upload_fd``). 3.6.1 moves that URL onto a base URL only when the per-call
``http_options`` carry one, and ``files.upload`` builds per-call options with headers
only (``_extra_utils.prepare_resumable_upload``), so with ``--base-url`` pointing at a
proxy the chunks would bypass it. :func:`upload_url_rewriter` is a request hook on the
shared client that moves any ``/upload/`` request aimed elsewhere onto the base URL's
origin (and path prefix), Host header included, before it is sent.

**One TLS context per process.** Loading a CA bundle costs about 20 ms of CPU, and 3.6.1
loads one for every ``genai.Client`` it builds, twice (``_ensure_httpx_ssl_ctx`` for the
async httpx client we never use, ``_ensure_websocket_ssl_ctx`` for Live sockets we never
open) unless ``async_client_args`` carry one under ``verify`` and ``ssl``. A process that
opens many gateways (the dashboard, the MCP server, a run and its resume) paid that each
time. :func:`tls_context` makes the one context lazily; a plain ``http://`` backend (the
emulator) gets a context with no CA loaded, which could verify no certificate at all, so
nothing is weakened: it is never used for a connection.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable
from typing import Any

import httpx2

from chargen_es.gateway.values import Backend

CONNECT_TIMEOUT_S = 30.0


def upload_url_rewriter(base_url: str) -> Callable[[httpx2.Request], None]:
    """A request hook sending upload-session requests to ``base_url``'s origin."""
    base = httpx2.URL(base_url)
    prefix = base.path.rstrip("/")

    def rewrite(request: httpx2.Request) -> None:
        url = request.url
        if (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port):
            return
        path = url.path
        if not (path.startswith("/upload/") or (prefix and path.startswith(prefix + "/upload/"))):
            return
        if prefix and not path.startswith(prefix + "/"):
            path = prefix + path
        request.url = url.copy_with(scheme=base.scheme, host=base.host, port=base.port, path=path)
        request.headers["Host"] = base.netloc.decode("ascii")

    return rewrite


@functools.cache
def tls_context(https: bool) -> ssl.SSLContext:
    """The process's TLS context for https backends, made as the SDK makes its own
    (``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set, else httpx2's default); for plain http,
    a context that trusts nothing and is never used."""
    if not https:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"),
                                          capath=os.environ.get("SSL_CERT_DIR"))
    return httpx2.create_ssl_context()


def sdk_tls_args(root_url: str) -> dict[str, Any]:
    """``HttpOptions.async_client_args`` that hand the SDK our context instead of it
    loading two CA bundles per client (``verify`` for httpx, ``ssl`` for websockets)."""
    context = tls_context(root_url.startswith("https://"))
    return {"verify": context, "ssl": context}


def http_client(backend: Backend) -> httpx2.Client:
    """The shared client for ``backend``: the SDK's transport and ours."""
    root = backend.root_url
    hooks = [] if backend.is_google else [upload_url_rewriter(root)]
    return httpx2.Client(
        timeout=httpx2.Timeout(backend.timeout_s, connect=CONNECT_TIMEOUT_S),
        headers={"x-goog-api-key": backend.api_key},
        trust_env=not backend.is_loopback,  # no corporate proxy between us and a local emulator
        verify=tls_context(root.startswith("https://")),
        follow_redirects=False,  # the key header would follow a redirect to any host
        event_hooks={"request": hooks},
    )
