"""Gateway benchmark: opening a ``Gateway`` (our SDK client) against the SDK's own
``genai.Client`` with its defaults.

A dashboard, an MCP server and every run open gateways; left to its defaults,
google-genai loads a CA bundle twice per client (its async httpx client's and its
websocket's TLS contexts). The gateway hands the SDK the process's one context
(``chargen_es.gateway.transport.tls_context``). Ours: ``Gateway(Backend(...)).close()``;
baseline: ``genai.Client(api_key=..., http_options={"base_url": ...})`` with the SDK's
defaults. Both against an https base URL (nothing is sent: constructing makes no
request), the first of each untimed (imports, the process's one context), then
``--repeat`` of each in turn and the medians compared. The last line is the ratio
ours/baseline (below 1 is faster).

    python tools/bench_gateway.py [--repeat N]
"""

from __future__ import annotations

import argparse

from benchkit import medians, report
from google import genai

from chargen_es.gateway import Backend, Gateway

URL = "https://generativelanguage.googleapis.com/"


def ours() -> None:
    Gateway(Backend(api_key="bench", base_url=URL)).close()


def bare() -> None:
    genai.Client(api_key="bench", http_options={"base_url": URL}).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    a, b = medians(ours, bare, args.repeat)
    report("genai.Client with the SDK's defaults", "Gateway (one TLS context per process)", a, b, args.repeat)


if __name__ == "__main__":
    main()
