"""The MCP server: named batches as tools for an assistant, on the official ``mcp`` SDK.

Why MCP: in 2026 an assistant gets its tools from Model Context Protocol servers; with
these a user can ask for "5 variations of this character in different poses" and the
assistant plans the batch, sees its price, and creates it with a ``max_cost``. The tools
and their argument names are a contract other programs depend on (issue 24):
``plan_batch``, ``create_batch``, ``list_batches``, ``batch_progress``, ``pause_batch``,
``resume_batch``, ``cancel_batch``, ``delete_batch``, ``get_image``.

Every tool is a thin call into :class:`chargen_es.dashboard.batches.Batches` (the same
operations the HTTP API serves), run in a worker thread so a tool that waits on a child
process never blocks the others; results are dicts, which the SDK sends as structured
content with their JSON as the text fallback (the server runs on trio, so the worker is
``trio.to_thread``); a refusal is a ``ToolError`` (``is_error``,
the message naming the item). The server runs on trio: the SDK is written against anyio
(mcp 2.3.0, read 2026-12-07: docs/get-started/installation.md "runs on either asyncio or
trio"), so ``trio.run(server.run_stdio_async)`` shares the engine's and the dashboard's
concurrency library.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import trio
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from chargen_es import __version__
from chargen_es.dashboard.batches import BatchError, Batches

T = TypeVar("T")

READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# creating a batch spends money at Google (open world); pausing and resuming change a run,
# cancelling and deleting cannot be taken back (destructive)
CREATES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
CONTROLS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ENDS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True)


@dataclass
class BatchItem:
    """One image to make. type: generate (from the prompt), derive (a new image from exactly
    one reference; the prompt is the instruction) or compose (one image from 2 or more
    references). references: image paths under the server's root.

    A dataclass (pydantic reads it for the schema; ``typing.TypedDict`` needs Python 3.12
    there); ``type`` stays text so an unknown type is refused naming its item."""

    name: str
    type: str
    prompt: str
    references: list[str] | None = None


def _plain(items: list[BatchItem]) -> list[dict[str, Any]]:
    return [{k: v for k, v in asdict(it).items() if v is not None} for it in items]


async def _call(fn: Callable[..., T], *args: Any) -> T:
    try:
        return await trio.to_thread.run_sync(fn, *args)
    except BatchError as exc:
        raise ToolError(str(exc)) from None


def _by_id(action: Callable[[str], Any]) -> Callable[..., Any]:
    """A ``{batch_id}`` tool over one of the service's actions (``pause`` is a coroutine:
    it waits for the run's process to be ready for SIGTERM on trio's clock)."""

    async def tool(batch_id: str) -> dict[str, Any]:
        try:
            if inspect.iscoroutinefunction(action):
                return await action(batch_id)
            return await trio.to_thread.run_sync(action, batch_id)
        except BatchError as exc:
            raise ToolError(str(exc)) from None

    return tool


def build(batches: Batches) -> MCPServer:
    """The server with its nine tools over ``batches``."""
    server = MCPServer("chargen-es", version=__version__, log_level="WARNING",
                       instructions="Batch image generation on the Gemini Batch API at half the live price, "
                                    "exactly once. plan_batch first (it shows the price), then create_batch with "
                                    "max_cost; follow it with batch_progress and fetch images with get_image.")

    @server.tool(annotations=READS)
    async def plan_batch(name: str, items: list[BatchItem], variants: int | None = None,
                         image_size: str | None = None) -> dict[str, Any]:
        """Dry run of a batch: its tasks, the estimate at batch prices, the saving against live
        calls, and every problem with its item. Nothing is sent or paid."""
        return await _call(batches.plan, name, _plain(items), variants, image_size)

    @server.tool(annotations=CREATES)
    async def create_batch(name: str, items: list[BatchItem], max_cost: float, variants: int | None = None,
                           image_size: str | None = None) -> dict[str, Any]:
        """Start a batch in the background and return {"batch_id": ...}. max_cost (US dollars) is
        required: a batch estimated above it is refused, naming the item that takes it over."""
        return await _call(batches.create, name, _plain(items), max_cost, variants, image_size)

    @server.tool(annotations=READS)
    async def list_batches(status: str | None = None) -> dict[str, Any]:
        """Every batch of the root with its status (planned, running, completed, failed, paused,
        cancelled, stopped, ...); status filters."""
        return await _call(batches.list_batches, status)

    @server.tool(annotations=READS)
    async def batch_progress(batch_id: str) -> dict[str, Any]:
        """Status, counts, ETA and, per item, its state and output paths."""
        return await _call(batches.progress, batch_id)

    for name, action, hints, about in (
        ("pause_batch", batches.pause, CONTROLS, "Pause a running batch cleanly (resume_batch continues it exactly "
                                                 "where it was)."),
        ("resume_batch", batches.resume, CONTROLS, "Resume a paused, stopped or failed batch in the background."),
        ("cancel_batch", batches.cancel, ENDS, "Cancel a batch: its remote jobs are cancelled and it can no longer "
                                               "be resumed."),
        ("delete_batch", batches.delete, ENDS, "Delete a completed or cancelled batch: its run folder and remote "
                                               "files (its images stay)."),
    ):
        server.add_tool(_by_id(action), name=name, description=about, annotations=hints)

    @server.tool(annotations=READS)
    async def get_image(batch_id: str, item: str) -> Image:
        """The image made for one item of a batch."""
        data, mime = await _call(batches.image, batch_id, item)
        return Image(data=data, format=mime.removeprefix("image/"))

    return server
