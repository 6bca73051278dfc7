"""The dashboard's HTTP surface: a Starlette app over one :class:`Workspace`.

Every request must carry the access token, as ``?token=`` (which also sets an HttpOnly,
SameSite=Strict cookie so links and images need not repeat it) or as that cookie; anything
else is 403, pages, JSON, streams and images alike. A control (POST) also needs the token
in the ``X-Chargen-Token`` header, which a page of another origin cannot send, so a
cookie alone never drives a run.

Nothing in a URL is used as a path: a run id is looked up among the followed runs, a
task key in that run's model, an image by index among that key's outputs; anything not
found is 404 and nothing is read. The page never sees the API key: the models hold only
journal facts, and the journal never holds the key.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Sequence
from http.cookies import SimpleCookie
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from chargen_es.dashboard import pages, review
from chargen_es.dashboard.controls import CANCEL_LOG, RESUME_LOG, Controls, Refused
from chargen_es.dashboard.hub import Hub, sse
from chargen_es.dashboard.workspace import RunEntry, Workspace

COOKIE = "chargen_es_token"
HEADER = "x-chargen-token"
PING_SECONDS = 15.0
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
LOGS = {"resume": RESUME_LOG, "cancel": CANCEL_LOG}


class TokenGate:
    """ASGI middleware: 403 unless the request carries the token (see the module docstring)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _matches(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        by_query = self._matches((query.get("token") or [None])[0])
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is no token
            cookie = SimpleCookie()
        by_cookie = COOKIE in cookie and self._matches(cookie[COOKIE].value)
        allowed = by_query or by_cookie
        if scope["method"] not in ("GET", "HEAD"):
            allowed = allowed and self._matches(headers.get(HEADER))
        if not allowed:
            # the request's body is left unread, so the server drops the connection after the
            # answer; "close" says so, or a client's next request on it could race the drop
            await PlainTextResponse("403: this dashboard needs its access token (see the URL it printed)",
                                    status_code=403, headers={"Connection": "close"})(scope, receive, send)
            return
        if not by_query or by_cookie:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start":
                value = f"{COOKIE}={self.token.decode()}; Path=/; HttpOnly; SameSite=Strict"
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", value.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def build_app(workspace: Workspace, hub: Hub, controls: Controls, token: str,
              extra_routes: Sequence[BaseRoute] = ()) -> ASGIApp:
    """The ASGI app; ``token`` is required on every request. ``extra_routes`` are route sets
    kept in modules of their own (the batch API, :mod:`.api`), behind the same gate."""

    def entry_or_404(request: Request) -> RunEntry:
        entry = workspace.entry(request.path_params["run_id"])
        if entry is None:
            raise _NotFound()
        return entry

    async def runs_page(request: Request) -> Response:
        return pages.html("runs", "Runs", {"rows": workspace.rows()}, token)

    async def run_page(request: Request) -> Response:
        entry = entry_or_404(request)
        return pages.html("run", f"Run {entry.run_id}", workspace.detail(entry), token)

    async def gallery_page(request: Request) -> Response:
        t, s = request.path_params["entity_type"], request.path_params["slug"]
        images = workspace.gallery(t, s)
        if images is None:
            raise _NotFound()
        return pages.html("gallery", f"{t}/{s}", {"entity_type": t, "slug": s, "images": images}, token)

    async def api_runs(request: Request) -> Response:
        return JSONResponse(workspace.rows())

    async def api_run(request: Request) -> Response:
        return JSONResponse(workspace.detail(entry_or_404(request)))

    async def api_gallery(request: Request) -> Response:
        images = workspace.gallery(request.path_params["entity_type"], request.path_params["slug"])
        if images is None:
            raise _NotFound()
        return JSONResponse(images)

    async def api_log(request: Request) -> Response:
        entry = entry_or_404(request)
        name = LOGS.get(request.path_params["which"])
        if name is None or not (entry.folder / name).is_file():
            raise _NotFound()
        return PlainTextResponse((entry.folder / name).read_text(encoding="utf-8", errors="replace"))

    async def image(request: Request) -> Response:
        entry = entry_or_404(request)
        key = request.query_params.get("key", "")
        which = request.query_params.get("n", "0")
        path = workspace.image_path(entry, key, which) if key else None
        if path is None:
            raise _NotFound()
        return FileResponse(path, headers={"cache-control": "private, max-age=3600",
                                           "x-content-type-options": "nosniff"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise _NotFound()
        data = resources.files("chargen_es.dashboard").joinpath("static", name).read_bytes()
        return Response(data, media_type=STATIC[name], headers={"cache-control": "no-cache"})

    async def control(request: Request) -> Response:
        entry = entry_or_404(request)
        action = request.path_params["action"]
        try:
            if action == "pause":
                message = await controls.pause(entry)
            elif action == "resume":
                message = controls.resume(entry)
            elif action == "cancel":
                message = controls.cancel(entry)
            else:
                raise _NotFound()
        except Refused as exc:
            return JSONResponse({"ok": False, "message": str(exc)}, status_code=409)
        return JSONResponse({"ok": True, "message": message}, status_code=202)

    def stream(run_id: str | None, snapshot: Any) -> Response:
        sub, receive = hub.subscribe(run_id)

        async def body() -> AsyncIterator[bytes]:
            try:
                yield sse("snapshot", snapshot())
                while True:
                    with trio.move_on_after(PING_SECONDS) as idle:
                        message = await receive.receive()
                    yield b": ping\n\n" if idle.cancelled_caught else message
            except (trio.EndOfChannel, trio.ClosedResourceError):
                return
            finally:
                hub.unsubscribe(sub)

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    async def runs_stream(request: Request) -> Response:
        return stream(None, workspace.rows)

    async def run_stream(request: Request) -> Response:
        entry = entry_or_404(request)
        return stream(entry.run_id, lambda: workspace.detail(entry))

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("404: no such run, item or file", status_code=404)

    routes = [
        Route("/", runs_page),
        Route("/run/{run_id}", run_page),
        *review.routes(workspace.root, workspace.entities, token),  # /gallery and /api/review (dashboard.review)
        Route("/gallery/{entity_type}/{slug}", gallery_page),
        Route("/api/runs", api_runs),
        Route("/api/stream", runs_stream),
        Route("/api/runs/{run_id}", api_run),
        Route("/api/runs/{run_id}/stream", run_stream),
        Route("/api/runs/{run_id}/log/{which}", api_log),
        Route("/api/runs/{run_id}/{action}", control, methods=["POST"]),
        Route("/api/gallery/{entity_type}/{slug}", api_gallery),
        Route("/img/{run_id}", image),
        Route("/static/{name}", static),
        *extra_routes,
    ]
    app = Starlette(routes=routes, exception_handlers={_NotFound: not_found, 404: not_found})
    return TokenGate(app, token)


class _NotFound(Exception):
    """Raised by handlers for anything that is not a followed run, key or known file."""


__all__ = ["COOKIE", "HEADER", "TokenGate", "build_app"]
