"""The gateway: the only package that talks to Gemini (through google-genai) or sees its errors.

Why one place: the SDK has traps (default API version ``v1``, Vertex switched on by an
environment variable, ``.jsonl`` without a MIME type, non-idempotent create and upload
start, a ``BatchJob`` that hides ``batchStats``, a download that buffers the whole file,
a pager that raises ``IndexError``, upload chunks that bypass a proxy, raw ``httpx2``
exceptions). All of that is handled here, once, and the rest of chargen-es sees plain
values and the project's own error tree (``chargen_es.errors.GeminiError``).

Modules: :mod:`.values` (``RemoteFile``, ``RemoteJob``, ``RemoteModel``, ``Backend`` and
the reply parsers), :mod:`.translation` (the one boundary: ``translated()``,
``classify``, ``translate``), :mod:`.transport` (the one shared ``httpx2`` client and the
upload-URL rewrite), :mod:`.client` (``Gateway``).
"""

from __future__ import annotations

from chargen_es.gateway.client import Gateway
from chargen_es.gateway.translation import TRANSIENT_STATUS, classify, translate, translated
from chargen_es.gateway.values import (
    GOOGLE_BASE_URL,
    Backend,
    Download,
    RemoteFile,
    RemoteJob,
    RemoteModel,
    normalise_sha256,
)

__all__ = [
    "GOOGLE_BASE_URL",
    "TRANSIENT_STATUS",
    "Backend",
    "Download",
    "Gateway",
    "RemoteFile",
    "RemoteJob",
    "RemoteModel",
    "api_key_source",
    "classify",
    "normalise_sha256",
    "translate",
    "translated",
]
