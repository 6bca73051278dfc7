"""The MCP server in this process, for the quick loop: the official SDK's client connected
in memory to the server ``chargen-es mcp`` builds (tools, their hints, refusals naming the
item). Nothing here starts a process; ``test_mcp_server.py`` drives the same server over
stdio with real background runs (slow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import trio

from chargen_es.cli.run_cmd import batch_file_plan
from chargen_es.dashboard.batches import Batches
from chargen_es.planner import sample_batch
from tests.mcp.test_mcp_server import (
    ITEMS,
    bad_items_are_refused_by_name,
    connect,
    refused,
    tools_are_described,
)


def test_tools_hints_and_refusals_in_memory(tmp_path: Path) -> None:
    from chargen_es.cli.mcp_server import build  # imports mcp (0.4 s): the one worker running this pays

    root = tmp_path / "studio"
    shutil.copytree(sample_batch(), root)
    (tmp_path / "outside.png").write_bytes((root / "refs" / "ada-face.png").read_bytes())
    server = build(Batches(root, batch_file_plan, ("--base-url", "http://127.0.0.1:9")))

    async def main() -> None:
        async with connect(server) as client:
            await tools_are_described(client)
            await bad_items_are_refused_by_name(client)
            assert "max_cost" in await refused(client, "create_batch", name="poses", items=ITEMS, max_cost=0)
            assert "no batch 'poses'" in await refused(client, "batch_progress", batch_id="poses")
        assert not (root / ".chargen" / "batch").exists()  # nothing was started

    trio.run(main)
