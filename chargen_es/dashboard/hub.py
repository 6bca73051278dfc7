"""Live updates: the Server-Sent Events subscribers and what each is sent.

A page subscribes to the runs list (``run_id=None``) or to one run. After every refresh
the server calls :meth:`Hub.publish` with the changes; each message is built once per
change and handed to every interested subscriber without waiting. A subscriber that does
not keep up (its small buffer is full) is closed instead of slowing the others: the
browser's ``EventSource`` reconnects by itself and gets a fresh snapshot first.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import trio

from chargen_es.dashboard.workspace import Change, Workspace

BUFFER = 64


def sse(event: str, data: Any) -> bytes:
    """One SSE message; the JSON is on one line, so one ``data:`` field carries it."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Hub:
    def __init__(self) -> None:
        self._subs: dict[int, tuple[str | None, trio.MemorySendChannel[bytes]]] = {}
        self._ids = itertools.count()

    def subscribe(self, run_id: str | None) -> tuple[int, trio.MemoryReceiveChannel[bytes]]:
        send, receive = trio.open_memory_channel[bytes](BUFFER)
        sub = next(self._ids)
        self._subs[sub] = (run_id, send)
        return sub, receive

    def unsubscribe(self, sub: int) -> None:
        entry = self._subs.pop(sub, None)
        if entry is not None:
            entry[1].close()

    def close(self) -> None:
        for sub in list(self._subs):
            self.unsubscribe(sub)

    def publish(self, changes: Sequence[Change], workspace: Workspace) -> None:
        """``rows`` (changed summaries) and ``removed`` (deleted run ids) to the runs page,
        ``update`` to each run's page, ``removed`` to the page of a run that was deleted."""
        if (not changes and not workspace.gone) or not self._subs:
            return
        rows = sse("rows", [workspace.runs[c.run_id].summary for c in changes]) if changes else None
        removed = sse("removed", workspace.gone) if workspace.gone else None
        per_run: dict[str, bytes] = {}
        wanted = {run_id for run_id, _ in self._subs.values()}
        for change in changes:
            if change.run_id in wanted:
                entry = workspace.runs[change.run_id]
                keys = entry.model.item_keys() if change.items is None else sorted(change.items)
                per_run[change.run_id] = sse("update", {
                    "summary": entry.summary, "chunks": entry.model.chunks(), "all": change.items is None,
                    "items": [workspace.item(entry, k) for k in keys],
                })
        for sub, (run_id, send) in list(self._subs.items()):
            if run_id is None:
                messages = (rows, removed)
            else:
                messages = (per_run.get(run_id), removed if run_id in workspace.gone else None)
            try:
                for message in messages:
                    if message is not None:
                        send.send_nowait(message)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                self.unsubscribe(sub)
