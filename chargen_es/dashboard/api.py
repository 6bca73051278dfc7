"""The batch API over HTTP, on the dashboard's server and behind its token gate.

The same operations as the MCP server's tools (:mod:`.batches`), for programs that speak
HTTP rather than MCP:

========================================  ===========================================
``POST /api/batches``                     ``create_batch``'s arguments as JSON: 201 ``{"batch_id"}``
``POST /api/plans``                       ``plan_batch``'s arguments: 200 the dry run
``GET /api/batches?status=``              ``{"batches": [...]}``
``GET /api/batches/{id}``                 progress, with per-item states and outputs
``POST /api/batches/{id}/pause``          202 (also ``resume``, ``cancel``); 409 when it does not apply
``DELETE /api/batches/{id}``              200; the batch is 404 afterwards
``GET /api/batches/{id}/items/{item}/image``  the item's image
========================================  ===========================================

A refusal is ``{"error": message, "message": message}`` with the status the service gives
it (400 bad input naming the item, 404 unknown batch or item, 409 conflict). Live progress
stays on the dashboard's event streams (``/api/runs/{id}/stream``). Kept apart from
:mod:`.app` so other route sets (issue 23's review API) join the same app the same way.
Every blocking call (a child process, a journal read) runs in a worker thread.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chargen_es.dashboard.batches import BatchError, Batches, BatchNotFound

CREATE_FIELDS = ("name", "items", "max_cost", "variants", "image_size")
ACTIONS = ("pause", "resume", "cancel")


def refusal(exc: BatchError) -> JSONResponse:
    """Every refusal's one shape: ``error`` and ``message`` (the same words; ``error`` is
    what the first clients read) with the error's status."""
    return JSONResponse({"error": str(exc), "message": str(exc)}, status_code=exc.status)


def batch_routes(batches: Batches) -> list[Route]:
    """The routes, for :func:`chargen_es.dashboard.app.build_app`."""

    async def answer(fn: Callable[..., Any], *args: Any, status: int = 200) -> Response:
        try:
            result = await fn(*args) if inspect.iscoroutinefunction(fn) else await trio.to_thread.run_sync(fn, *args)
        except BatchError as exc:
            return refusal(exc)
        return JSONResponse(result, status_code=status)

    async def body_of(request: Request, fields: tuple[str, ...]) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError as exc:
            raise BatchError(f"the body must be JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BatchError(f"the body must be a JSON object with {', '.join(fields)}")
        unknown = sorted(set(body) - set(fields))
        if unknown:
            raise BatchError(f"unknown field {unknown[0]!r}; the body has {', '.join(fields)}")
        return body

    async def create(request: Request) -> Response:
        try:
            b = await body_of(request, CREATE_FIELDS)
        except BatchError as exc:
            return refusal(exc)
        if "max_cost" not in b:
            return refusal(BatchError("max_cost is required"))
        return await answer(batches.create, b.get("name"), b.get("items"), b["max_cost"], b.get("variants"),
                            b.get("image_size"), status=201)

    async def plan(request: Request) -> Response:
        try:
            b = await body_of(request, tuple(f for f in CREATE_FIELDS if f != "max_cost"))
        except BatchError as exc:
            return refusal(exc)
        return await answer(batches.plan, b.get("name"), b.get("items"), b.get("variants"), b.get("image_size"))

    async def listing(request: Request) -> Response:
        return await answer(batches.list_batches, request.query_params.get("status"))

    async def progress(request: Request) -> Response:
        return await answer(batches.progress, request.path_params["batch_id"])

    async def act(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ACTIONS:
            return await answer(_unknown, action)
        return await answer(getattr(batches, action), request.path_params["batch_id"], status=202)

    async def delete(request: Request) -> Response:
        return await answer(batches.delete, request.path_params["batch_id"])

    async def image(request: Request) -> Response:
        try:
            data, mime = await trio.to_thread.run_sync(batches.image, request.path_params["batch_id"],
                                                       request.path_params["item"])
        except BatchError as exc:
            return refusal(exc)
        return Response(data, media_type=mime, headers={"x-content-type-options": "nosniff",
                                                        "cache-control": "private, max-age=3600"})

    return [
        Route("/api/batches", create, methods=["POST"]),
        Route("/api/batches", listing, methods=["GET"]),
        Route("/api/plans", plan, methods=["POST"]),
        Route("/api/batches/{batch_id}", progress, methods=["GET"]),
        Route("/api/batches/{batch_id}", delete, methods=["DELETE"]),
        Route("/api/batches/{batch_id}/{action}", act, methods=["POST"]),
        Route("/api/batches/{batch_id}/items/{item}/image", image, methods=["GET"]),
    ]


def _unknown(action: str) -> Any:
    raise BatchNotFound(f"no action {action!r}; use {', '.join(ACTIONS)}")


__all__ = ["batch_routes"]
