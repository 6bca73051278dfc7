"""One TLS context per process: a gateway hands the SDK ours instead of it loading CA bundles."""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
import pytest

from chargen_es.gateway import Backend, Gateway
from chargen_es.gateway.transport import tls_context

GOOGLE = "https://generativelanguage.googleapis.com/"


def test_https_has_one_verifying_context_and_plain_http_one_that_trusts_nothing() -> None:
    secure = tls_context(True)
    assert secure is tls_context(True)
    assert secure.verify_mode == ssl.CERT_REQUIRED and secure.check_hostname
    plain = tls_context(False)
    assert plain is not secure
    # never used for a connection; if it were, it would refuse every certificate
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.cert_store_stats()["x509_ca"] == 0


def test_gateways_after_the_first_load_no_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """google-genai 3.6.1 made two contexts per client (its async httpx client's and its
    websocket's, ~20 ms of CPU each) unless ``async_client_args`` carry one."""
    for url in (GOOGLE, "http://127.0.0.1:9/"):
        Gateway(Backend(api_key="k", base_url=url)).close()
    made: list[Any] = []

    def counting(real: Any) -> Any:
        def make(*args: Any, **kwargs: Any) -> Any:
            made.append(real)
            return real(*args, **kwargs)
        return make

    monkeypatch.setattr(ssl, "create_default_context", counting(ssl.create_default_context))
    monkeypatch.setattr(httpx2, "create_ssl_context", counting(httpx2.create_ssl_context))
    for url in (GOOGLE, "http://127.0.0.1:9/", GOOGLE):
        Gateway(Backend(api_key="k", base_url=url)).close()
    assert made == []
