"""The MCP server in this process, for the quick loop: the official SDK's client connected
in memory to the server ``chargen-es mcp`` builds (tools, their hints, refusals naming the
item). Nothing here starts a process; ``test_mcp_server.py`` drives the same server over
stdio with real background runs (slow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import trio

from chargen_es.dashboard.batches import Batches
from chargen_es.planner import sample_batch
from tests.mcp.test_mcp_server import ITEMS, TOOLS, connect, refused


def test_tools_hints_and_refusals_in_memory(tmp_path: Path) -> None:
    from chargen_es.cli.mcp_server import build  # imports mcp (0.4 s): the one worker running this pays

    root = tmp_path / "studio"
    shutil.copytree(sample_batch(), root)
    (tmp_path / "outside.png").write_bytes((root / "refs" / "ada-face.png").read_bytes())
    server = build(Batches(root, ("--base-url", "http://127.0.0.1:9")))

    async def main() -> None:
        async with connect(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == TOOLS
            assert tools["create_batch"].input_schema["required"] == ["name", "items", "max_cost"]
            assert tools["plan_batch"].annotations.read_only_hint is True
            assert tools["create_batch"].annotations.open_world_hint is True
            assert tools["delete_batch"].annotations.destructive_hint is True

            text = await refused(client, "create_batch", name="poses", max_cost=5.0,
                                 items=[*ITEMS, {"name": "stray", "type": "derive", "prompt": "x",
                                                 "references": ["../outside.png"]}])
            assert "item 'stray'" in text and "outside the root" in text
            text = await refused(client, "create_batch", name="poses", max_cost=5.0,
                                 items=[{"name": "odd", "type": "morph", "prompt": "x"}])
            assert "item 'odd'" in text and "unknown type 'morph'" in text
            assert "max_cost" in await refused(client, "create_batch", name="poses", items=ITEMS, max_cost=0)
            assert "no batch 'poses'" in await refused(client, "batch_progress", batch_id="poses")
        assert not (root / ".chargen" / "batch").exists()  # nothing was started

    trio.run(main)
