"""``chargen-es mcp`` driven by the official SDK's MCP client over stdio, against the emulator.

The client starts ``python -m chargen_es mcp`` itself (``StdioServerParameters``: the SDK's
own stdio transport is what is under test, so the client starts the process, through
``tests/warm_python.py``, which has the session's zygote fork it with the client's pipes);
the server's runs are real background processes (fresh interpreters, as the server starts
them for a user) talking HTTP to the in-process emulator through the unmodified
google-genai SDK.

Each test costs seconds of CPU (the server imports the mcp SDK, its batches' runs start
fresh), so they are ``slow``; the quick loop drives the same server in memory
(``tests/mcp/test_mcp_in_memory.py``).
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trio

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.planner import sample_batch
from tests.dashboard.helpers import stop_runs_under
from tests.engine.harness import API_KEY
from tests.procs import warm_server

if TYPE_CHECKING:  # mcp costs 0.4 s to import: only the (slow) tests that use it pay
    from mcp import Client, StdioServerParameters

TOOLS = {"plan_batch", "create_batch", "list_batches", "batch_progress", "pause_batch", "resume_batch",
         "cancel_batch", "delete_batch", "get_image"}
ITEMS = [
    {"name": "portrait", "type": "generate", "prompt": "Ada at the harbor, three-quarter view."},
    {"name": "older", "type": "derive", "prompt": "Make her twenty years older.", "references": ["refs/ada-face.png"]},
    {"name": "on-the-map", "type": "compose", "prompt": "Ada standing on the map as on a beach.",
     "references": ["refs/ada-face.png", "refs/harbor-map.png"]},
]
pytestmark = pytest.mark.slow
WAIT_LIMIT_S = 120  # only bounds a hang: the batch is done when the emulator is first asked


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test(tmp_path: Path) -> Iterator[None]:
    yield
    stop_runs_under(tmp_path / "studio")  # a batch's background run, if the test failed before it ended


def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "studio"
    shutil.copytree(sample_batch(), root)
    (root / "postcards.yaml").unlink()
    (tmp_path / "outside.png").write_bytes((root / "refs" / "ada-face.png").read_bytes())
    return root


def connect(target: Any) -> Client:
    """The official SDK's client for ``target`` (server parameters, or a server in memory)."""
    from mcp import Client

    return Client(target)


def server(root: Path, base_url: str) -> StdioServerParameters:
    """``python -m chargen_es mcp`` as the client starts it, forked warm (``tests.procs.warm_server``)."""
    from mcp import StdioServerParameters

    command, args, zygote = warm_server("mcp", "--root", str(root), "--base-url", base_url, "--poll-interval", "0.05")
    return StdioServerParameters(command=command, args=args, cwd=str(root),
                                 env={"GEMINI_API_KEY": API_KEY, "NO_PROXY": "127.0.0.1,localhost", **zygote})


async def call(client: Client, tool: str, **args: Any) -> Any:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content  # the text fallback says the same
    return result.structured_content


async def refused(client: Client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error and result.structured_content is None
    return str(result.content[0].text)


async def tools_are_described(client: Client) -> None:
    """The nine tools, their arguments and their hints (read-only, open world, destructive)."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    assert tools["create_batch"].input_schema["required"] == ["name", "items", "max_cost"]
    assert set(tools["create_batch"].input_schema["properties"]) == {"name", "items", "max_cost", "variants",
                                                                      "image_size"}
    assert set(tools["plan_batch"].input_schema["properties"]) == {"name", "items", "variants", "image_size"}
    assert tools["get_image"].input_schema["required"] == ["batch_id", "item"]
    assert tools["plan_batch"].annotations.read_only_hint is True
    assert tools["create_batch"].annotations.read_only_hint is False
    assert tools["create_batch"].annotations.open_world_hint is True
    assert tools["delete_batch"].annotations.destructive_hint is True
    assert tools["cancel_batch"].annotations.destructive_hint is True


async def bad_items_are_refused_by_name(client: Client) -> None:
    """A reference outside the root and an unknown type: refused, naming the item; nothing starts."""
    text = await refused(client, "create_batch", name="poses", max_cost=5.0,
                         items=[*ITEMS, {"name": "stray", "type": "derive", "prompt": "x",
                                         "references": ["../outside.png"]}])
    assert "item 'stray'" in text and "outside the root" in text
    text = await refused(client, "create_batch", name="poses", max_cost=5.0,
                         items=[{"name": "odd", "type": "morph", "prompt": "x"}])
    assert "item 'odd'" in text and "unknown type 'morph'" in text


async def until_done(client: Client, batch_id: str) -> dict[str, Any]:
    with trio.move_on_after(WAIT_LIMIT_S):
        while True:
            progress = await call(client, "batch_progress", batch_id=batch_id)
            if progress["status"] in ("completed", "failed", "cancelled", "paused"):
                return progress  # type: ignore[no-any-return]
            await trio.sleep(0.1)
    raise AssertionError(f"batch {batch_id} did not end: {progress}")


def test_an_mcp_client_plans_creates_follows_and_fetches_a_batch(tmp_path: Path) -> None:
    root = workspace(tmp_path)

    async def main(base_url: str) -> None:
        async with connect(server(root, base_url)) as client:
            await tools_are_described(client)

            plan = await call(client, "plan_batch", name="poses", items=ITEMS, variants=2)
            assert [t["item"] for t in plan["tasks"]] == ["portrait-v1", "portrait-v2", "older-v1", "older-v2",
                                                          "on-the-map-v1", "on-the-map-v2"]
            assert {t["item"]: t["type"] for t in plan["tasks"]}["on-the-map-v2"] == "compose"
            est = plan["estimate"]
            assert est["batch_usd"] > 0 and est["saving_vs_live_usd"] == est["live_usd"] - est["batch_usd"]
            assert plan["problems"] == []
            assert not (root / ".chargen" / "batch").exists()  # a dry run journals nothing

            await bad_items_are_refused_by_name(client)
            text = await refused(client, "create_batch", name="poses", items=ITEMS, variants=2,
                                 max_cost=est["batch_usd"] / 3)
            assert "item '" in text and "over max_cost" in text
            problems = await call(client, "plan_batch", name="poses",
                                  items=[{"name": "lonely", "type": "compose", "prompt": "x",
                                          "references": ["refs/ada-face.png"]}])
            assert problems["problems"][0]["item"] == "lonely"
            assert not (root / ".chargen" / "batch").exists()

            created = await call(client, "create_batch", name="poses", items=ITEMS, variants=2,
                                 max_cost=est["batch_usd"] * 2)
            assert created == {"batch_id": "poses"}
            again = await refused(client, "create_batch", name="poses", items=ITEMS, max_cost=5.0)
            assert "already exists" in again
            listed = await call(client, "list_batches")
            assert [b["batch_id"] for b in listed["batches"]] == ["poses"]

            done = await until_done(client, "poses")
            assert done["status"] == "completed", done
            assert done["counts"]["ok"] == 6 and done["counts"]["failed"] == 0
            outputs = {i["item"]: i["outputs"] for i in done["items"]}
            assert all(len(paths) == 1 for paths in outputs.values())
            assert (await call(client, "list_batches", status="completed"))["batches"][0]["batch_id"] == "poses"
            assert (await call(client, "list_batches", status="running"))["batches"] == []

            image = await client.call_tool("get_image", {"batch_id": "poses", "item": "older-v2"})
            assert not image.is_error and image.content[0].type == "image"
            assert image.content[0].mime_type == "image/jpeg"  # Gemini 3 image models answer JPEG
            assert base64.b64decode(image.content[0].data) == (root / outputs["older-v2"][0]).read_bytes()
            missing = await refused(client, "get_image", batch_id="poses", item="nobody")
            assert "no item 'nobody'" in missing

            deleted = await call(client, "delete_batch", batch_id="poses")
            assert deleted["deleted"] is True
            assert (await call(client, "list_batches"))["batches"] == []
            assert "no batch 'poses'" in await refused(client, "batch_progress", batch_id="poses")
            assert (root / outputs["older-v2"][0]).is_file()  # the images stay in the tree

    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        trio.run(main, emu.base_url)
        stats = emu.stats()
    assert stats["operations"].get("batches.create") == 1


def test_two_servers_racing_to_create_the_same_batch_pay_once(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    answers: list[Any] = []

    async def create(base_url: str) -> None:
        async with connect(server(root, base_url)) as client:
            answers.append(await client.call_tool("create_batch", {"name": "race", "items": ITEMS, "max_cost": 5.0}))
            if not answers[-1].is_error:
                assert (await until_done(client, "race"))["status"] == "completed"

    async def main(base_url: str) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(create, base_url)
            nursery.start_soon(create, base_url)

    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        trio.run(main, emu.base_url)
        stats = emu.stats()
    won = [a for a in answers if not a.is_error]
    lost = [a for a in answers if a.is_error]
    assert len(won) == 1 and len(lost) == 1, [a.content for a in answers]
    assert won[0].structured_content == {"batch_id": "race"}
    assert "being created" in lost[0].content[0].text or "already exists" in lost[0].content[0].text
    assert stats["operations"].get("batches.create") == 1
    assert all(n == 1 for n in stats["uploads_by_sha256"].values())


def test_pause_resume_and_cancel_over_mcp(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    job_seconds = 600.0  # emulator time: the job runs until it is cancelled

    async def main(emu: Emulator) -> None:
        async with connect(server(root, emu.base_url)) as client:
            assert (await call(client, "create_batch", name="slow", items=ITEMS, max_cost=5.0)) == {"batch_id": "slow"}
            with trio.fail_after(WAIT_LIMIT_S):
                while emu.stats()["operations"].get("batches.create", 0) < 1:
                    await trio.sleep(0.05)
                await call(client, "pause_batch", batch_id="slow")
                while not ((p := await call(client, "batch_progress", batch_id="slow"))["status"] == "paused"
                           and not p["active"]):
                    await trio.sleep(0.05)
                await call(client, "resume_batch", batch_id="slow")
                while not (await call(client, "batch_progress", batch_id="slow"))["active"]:
                    await trio.sleep(0.05)
                await call(client, "cancel_batch", batch_id="slow")
                while (await call(client, "batch_progress", batch_id="slow"))["status"] != "cancelled":
                    await trio.sleep(0.05)
            assert "no batch 'ghost'" in await refused(client, "pause_batch", batch_id="ghost")
            assert "already cancelled" in await refused(client, "cancel_batch", batch_id="slow")

    with Emulator(EmulatorConfig(job_seconds=job_seconds)) as emu:
        trio.run(main, emu)
        assert emu.stats()["operations"].get("batches.cancel", 0) >= 1
        assert emu.stats()["operations"].get("batches.create") == 1


@pytest.mark.parametrize("point", ["before:batch.spawn", "after:batch.spawn"])
def test_a_server_killed_while_creating_leaves_one_batch_or_none(tmp_path: Path, point: str) -> None:
    """SIGKILL of the server around starting the run: the client's retry either creates the
    batch (nothing started) or is told it exists (the run went on without the server), and
    the batch is paid once."""
    root = workspace(tmp_path)

    async def main(base_url: str) -> None:
        doomed = server(root, base_url)
        doomed.env = {**(doomed.env or {}), "CHARGEN_ES_CRASH_AT": point}
        with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises for a server that died
            async with connect(doomed) as client:
                await client.call_tool("create_batch", {"name": "kept", "items": ITEMS, "max_cost": 5.0})
        async with connect(server(root, base_url)) as client:
            retry = await client.call_tool("create_batch", {"name": "kept", "items": ITEMS, "max_cost": 5.0})
            if point.startswith("before"):
                assert not retry.is_error and retry.structured_content == {"batch_id": "kept"}
            else:
                assert retry.is_error and "already exists" in retry.content[0].text
            assert (await until_done(client, "kept"))["status"] == "completed"

    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        trio.run(main, emu.base_url)
        stats = emu.stats()
    assert stats["operations"].get("batches.create") == 1
    assert all(n == 1 for n in stats["uploads_by_sha256"].values())
