"""The HTML shell of every page: the data it opens with, the script that renders it.

Each page is one small document: a header, an empty ``<main>``, the page's first data as
JSON in a ``<script type="application/json">`` element, and ``static/app.js``, which
renders that data and then applies the live updates of the page's event stream. One
renderer (the script) for the first paint and every update; no build step.
"""

from __future__ import annotations

import html as _html
import json
from typing import Any

from starlette.responses import HTMLResponse

_SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="chargen-token" content="{token}">
<title>{title} · chargen-es</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body data-page="{page}">
<header><a href="/" class="brand">chargen-es</a> <nav><a href="/">Runs</a> <a href="/gallery">Gallery</a></nav>
<span id="live" class="live" title="live updates">connecting…</span></header>
<main id="main"><h1>{title}</h1></main>
<script type="application/json" id="page-data">{data}</script>
<script src="/static/app.js"></script>
</body></html>
"""


def embed(data: Any) -> str:
    """JSON safe inside a script element (no ``</script>``, no HTML comment openers)."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html(page: str, title: str, data: Any, token: str) -> HTMLResponse:
    body = _SHELL.format(page=page, title=_html.escape(title), token=_html.escape(token), data=embed(data))
    return HTMLResponse(body, headers={"cache-control": "no-store", "x-frame-options": "DENY",
                                       "content-security-policy": "default-src 'self'; img-src 'self'; "
                                                                  "frame-ancestors 'none'"})
