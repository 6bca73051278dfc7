"""The batch API on the dashboard's server: every route with and without the token, a batch
created over HTTP run to completion against the emulator, pause / resume / cancel of a
running one, delete (404 afterwards), traversal (404), and MCP and HTTP racing to create
the same batch (two real processes) paying once."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import trio

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.planner import sample_batch
from tests.dashboard.helpers import Dashboard, child_env, dashboard, stop_runs_under, wait_for
from tests.engine.harness import API_KEY

ITEMS = [
    {"name": "portrait", "type": "generate", "prompt": "Ada at the harbor."},
    {"name": "older", "type": "derive", "prompt": "Twenty years older.", "references": ["refs/ada-face.png"]},
    {"name": "together", "type": "compose", "prompt": "Ada on the map.",
     "references": ["refs/ada-face.png", "refs/harbor-map.png"]},
]
JOB_SECONDS = 600.0  # emulator time: a job runs until the test moves the emulator's clock


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(job_seconds=JOB_SECONDS)) as emulator:
        yield emulator


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "studio"
    shutil.copytree(sample_batch(), root)
    (root / "postcards.yaml").unlink()
    (root / ".chargen").mkdir()
    yield root
    stop_runs_under(root)  # a background run the dashboard started, if the test failed before it ended


@pytest.fixture
def dash(studio: Path, emu: Emulator) -> Iterator[Dashboard]:
    with dashboard(studio, "--base-url", emu.base_url, "--poll-interval", "0.05",
                   env=child_env(GEMINI_API_KEY=API_KEY)) as d:
        yield d


@pytest.fixture
def http(dash: Dashboard) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=dash.base, params={"token": dash.token}, timeout=120,
                       headers={"X-Chargen-Token": dash.token}) as client:
        yield client


def jobs_created(emu: Emulator) -> int:
    return int(emu.stats()["operations"].get("batches.create", 0))


def status_of(http: httpx2.Client, batch_id: str, wanted: str) -> dict[str, Any] | None:
    progress = http.get(f"/api/batches/{batch_id}").json()
    return progress if progress["status"] == wanted else None  # type: ignore[no-any-return]


def test_every_route_refuses_without_the_token(dash: Dashboard) -> None:
    routes = [("POST", "/api/batches"), ("POST", "/api/plans"), ("GET", "/api/batches"),
              ("GET", "/api/batches?status=completed"), ("GET", "/api/batches/x"), ("POST", "/api/batches/x/pause"),
              ("POST", "/api/batches/x/resume"), ("POST", "/api/batches/x/cancel"), ("DELETE", "/api/batches/x"),
              ("GET", "/api/batches/x/items/y/image")]
    with httpx2.Client(base_url=dash.base, timeout=30) as bare:
        for method, path in routes:
            assert bare.request(method, path).status_code == 403, (method, path)
            assert bare.request(method, path, params={"token": "wrong"}).status_code == 403, (method, path)
            if method != "GET":  # a control needs the header too: the query or cookie alone is not enough
                assert bare.request(method, path, params={"token": dash.token}).status_code == 403, (method, path)


@pytest.mark.slow  # background runs in fresh interpreters: seconds of CPU
def test_a_batch_over_http_from_plan_to_delete(http: httpx2.Client, emu: Emulator, studio: Path) -> None:
    plan = http.post("/api/plans", json={"name": "web", "items": ITEMS})
    assert plan.status_code == 200 and [t["item"] for t in plan.json()["tasks"]] == ["portrait", "older", "together"]
    price = plan.json()["estimate"]["batch_usd"]

    assert http.post("/api/batches", json={"name": "web", "items": ITEMS}).status_code == 400  # no max_cost
    outside = http.post("/api/batches", json={"name": "web", "max_cost": 1.0, "items": [
        {"name": "escape", "type": "derive", "prompt": "x", "references": ["../../etc/hosts"]}]})
    assert outside.status_code == 400 and "item 'escape'" in outside.json()["error"]
    dear = http.post("/api/batches", json={"name": "web", "max_cost": price / 10, "items": ITEMS})
    assert dear.status_code == 400 and "item 'portrait'" in dear.json()["error"]
    assert http.post("/api/batches", json={"name": "../web", "max_cost": 1.0, "items": ITEMS}).status_code == 400
    assert http.post("/api/batches", content=b"not json").status_code == 400

    created = http.post("/api/batches", json={"name": "web", "max_cost": price * 2, "items": ITEMS})
    assert created.status_code == 201 and created.json() == {"batch_id": "web"}
    assert http.post("/api/batches", json={"name": "web", "max_cost": 1.0, "items": ITEMS}).status_code == 409
    listed = http.get("/api/batches").json()["batches"]
    assert [b["batch_id"] for b in listed] == ["web"]

    wait_for("the job to be created", lambda: jobs_created(emu) == 1)
    emu.advance(JOB_SECONDS + 1)
    done = wait_for("the batch to complete", lambda: status_of(http, "web", "completed"))
    assert done["counts"]["ok"] == 3 and {i["state"] for i in done["items"]} == {"done"}
    assert [b["batch_id"] for b in http.get("/api/batches", params={"status": "completed"}).json()["batches"]] == ["web"]
    assert http.get("/api/batches", params={"status": "paused"}).json()["batches"] == []

    image = http.get("/api/batches/web/items/together/image")
    path = next(i["outputs"][0] for i in done["items"] if i["item"] == "together")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"  # as Gemini 3 answers
    assert image.content == (studio / path).read_bytes()
    assert http.get("/api/batches/web/items/nobody/image").status_code == 404

    for action in ("pause", "resume", "cancel"):
        assert http.post(f"/api/batches/web/{action}").status_code == 409, action
    assert http.post("/api/batches/web/explode").status_code == 404
    for target in ("/api/batches/..%2F..%2Fetc", "/api/batches/nope", "/api/batches/.chargen"):
        assert http.get(target).status_code == 404, target

    deleted = http.delete("/api/batches/web")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert http.get("/api/batches/web").status_code == 404
    assert http.delete("/api/batches/web").status_code == 404
    assert http.get("/api/batches").json()["batches"] == []
    assert emu.stats()["operations"].get("batches.create") == 1


@pytest.mark.slow  # background runs in fresh interpreters: seconds of CPU
def test_pause_resume_and_cancel_a_running_batch_over_http(http: httpx2.Client, emu: Emulator) -> None:
    assert http.post("/api/batches", json={"name": "long", "max_cost": 5.0, "items": ITEMS}).status_code == 201
    wait_for("the job to be created", lambda: jobs_created(emu) == 1)
    paused = http.post("/api/batches/long/pause")
    assert paused.status_code == 202, paused.text
    wait_for("the pause", lambda: (p := status_of(http, "long", "paused")) and not p["active"])
    resumed = http.post("/api/batches/long/resume")
    assert resumed.status_code == 202, resumed.text
    wait_for("the resume", lambda: http.get("/api/batches/long").json()["status"] not in ("paused",))
    cancelled = http.post("/api/batches/long/cancel")
    assert cancelled.status_code == 202, cancelled.text
    wait_for("the cancel", lambda: status_of(http, "long", "cancelled"))
    assert emu.stats()["operations"].get("batches.cancel", 0) >= 1
    assert http.delete("/api/batches/long").status_code == 200


@pytest.mark.slow  # background runs in fresh interpreters: seconds of CPU
def test_mcp_and_http_racing_to_create_the_same_batch_pay_once(http: httpx2.Client, emu: Emulator,
                                                                studio: Path) -> None:
    from mcp import Client, StdioServerParameters  # 0.4 s to import: this (slow) test only

    answers: dict[str, Any] = {}

    async def over_mcp() -> None:
        # a fresh interpreter, as an assistant starts it (the MCP tests fork theirs warm): the
        # real start of `chargen-es mcp`, its imports in their own order, stays under test
        params = StdioServerParameters(command=sys.executable, args=["-m", "chargen_es", "mcp", "--root", str(studio),
                                                                     "--base-url", emu.base_url,
                                                                     "--poll-interval", "0.05"],
                                       env={"GEMINI_API_KEY": API_KEY, "NO_PROXY": "127.0.0.1,localhost"})
        async with Client(params) as client:
            connected.set()
            await ready.wait()
            answers["mcp"] = await client.call_tool("create_batch", {"name": "race", "items": ITEMS, "max_cost": 5.0})

    async def over_http() -> None:
        await ready.wait()
        answers["http"] = await trio.to_thread.run_sync(
            lambda: http.post("/api/batches", json={"name": "race", "items": ITEMS, "max_cost": 5.0}))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(over_mcp)
            nursery.start_soon(over_http)
            await connected.wait()  # the MCP server is up before both go
            ready.set()

    ready, connected = trio.Event(), trio.Event()

    trio.run(main)
    won = [answers["mcp"].is_error is False, answers["http"].status_code == 201]
    assert won.count(True) == 1, (answers["mcp"].content, answers["http"].text)
    wait_for("the job to be created", lambda: jobs_created(emu) == 1)
    emu.advance(JOB_SECONDS + 1)
    wait_for("the winner to complete", lambda: status_of(http, "race", "completed"))
    assert emu.stats()["operations"].get("batches.create") == 1
    assert all(n == 1 for n in emu.stats()["uploads_by_sha256"].values())



def test_image_size_reaches_the_plan_and_its_price(http: httpx2.Client) -> None:
    one = http.post("/api/plans", json={"name": "sized", "items": ITEMS[:1]}).json()
    big = http.post("/api/plans", json={"name": "sized", "items": ITEMS[:1], "image_size": "4k"}).json()
    assert big["problems"] == [] and big["estimate"]["batch_usd"] > one["estimate"]["batch_usd"]
    odd = http.post("/api/plans", json={"name": "sized", "items": ITEMS[:1], "image_size": "3K"}).json()
    assert odd["problems"] and "3K" in odd["problems"][0]["message"]


@pytest.mark.slow  # fresh interpreters: the other run, ours
def test_a_batch_whose_id_another_run_sealed_first_already_exists(studio: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The window the MCP kill test once hit under load: between the name check and the
    spawned run's start, another run (one a killed server left going) seals the same id.
    The interpreter the batch API starts runs through a wrapper that starts that other run
    first (``--detach``: it submits and exits), so the window is always hit: the answer is
    "already exists" (the batch does exist), not "did not start", and one job is paid."""
    from chargen_es.cli.run_cmd import batch_file_plan
    from chargen_es.dashboard.batches import BatchConflict, Batches

    wrapper = tmp_path / "python-with-a-rival"
    wrapper.write_text(f"""#!{sys.executable}
import os, subprocess, sys
args = sys.argv[1:]
if "--yes" in args:  # the batch's run: another run takes the id first
    subprocess.run([sys.executable, *args, "--detach"], check=True, stdout=subprocess.DEVNULL)
os.execv(sys.executable, [sys.executable, *args])
""")
    wrapper.chmod(0o755)
    monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
    with Emulator(EmulatorConfig(job_seconds=JOB_SECONDS)) as emulator:
        batches = Batches(studio, batch_file_plan, ("--base-url", emulator.base_url), python=str(wrapper),
                          run_args=("--poll-interval", "0.05"))
        with pytest.raises(BatchConflict, match="batch 'rival' already exists"):
            batches.create("rival", ITEMS, max_cost=5.0)
        assert jobs_created(emulator) == 1
