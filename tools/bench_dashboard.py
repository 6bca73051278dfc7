"""Benchmark the dashboard: the runs page of a 100-run workspace, and append-to-page latency.

Both against a bare baseline measured in the same run:

* **runs page**: ``GET /`` of ``chargen-es dashboard`` (a real child process) over a
  workspace of ``--runs`` completed runs, median of ``--repeat`` requests, against a bare
  Starlette app on Hypercorn/trio (another child) returning the same bytes. Goal: < 300 ms.
* **append → page**: an event appended with ``Journal.append`` until its update arrives
  on an open ``/api/runs/<id>/stream``, median of ``--appends``, against a bare loop
  that follows the same journal (``journal.Follower``) at the dashboard's refresh
  interval in this process. Goal: < 1 s.

The last line is the two ratios (dashboard / bare). Usage::

    python tools/bench_dashboard.py [--runs 100] [--tasks 20] [--repeat 30] [--appends 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2

from chargen_es import events as ev
from chargen_es.engine.runs import runs_root
from chargen_es.journal import Follower, Journal

BARE_APP = """
import sys, trio
from functools import partial
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
body = open(sys.argv[1], encoding="utf-8").read()
async def page(request):
    return HTMLResponse(body)
async def main():
    config = Config(); config.bind = ["127.0.0.1:0"]; config.accesslog = None; config.loglevel = "WARNING"
    async with trio.open_nursery() as n:
        binds = await n.start(partial(serve, Starlette(routes=[Route("/", page)]), config))
        print(binds[0], flush=True)
trio.run(main)
"""


def make_workspace(root: Path, runs: int, tasks: int) -> list[str]:
    """``runs`` completed batch runs of ``tasks`` generate tasks each, plus one open run."""
    ids = []
    for r in range(runs + 1):
        run_id = f"2030-01-01T00-{r // 60:02d}-{r % 60:02d}Z"
        ids.append(run_id)
        with Journal.open(runs_root(root) / run_id, create=True) as journal:
            planned = [ev.TaskPlanned(task=ev.Task(key=f"characters/c{t}/s{t}@sha256:{r:08x}{t:08x}", kind="generate",
                                                   entity_type="characters", slug=f"c{t}", scene=f"s{t}",
                                                   prompt=f"scene {t}", model="m", output_dir=f"characters/c{t}/images",
                                                   output_stem=f"s{t}", chunk=0)) for t in range(tasks)]
            journal.append_many([ev.RunStarted(run_id=run_id, tool_version="0", mode="generate", runner="batch"),
                                 *planned, ev.PlanSealed(tasks=tasks, skipped=0, chunks=1, plan_sha256="0" * 64,
                                                         estimated_cost_usd=0.5)])
            if r == runs:
                break  # the open run the append benchmark writes to
            journal.append_many([ev.JobSubmitted(chunk=0, job_name=f"batches/{r}", display_name="d"),
                                 ev.JobStateChanged(chunk=0, job_name=f"batches/{r}", state="SUCCEEDED"),
                                 *(ev.LineApplied(key=p.task.key, chunk=0) for p in planned),
                                 ev.RunCompleted(ok=tasks, failed=0, skipped=0)])
    return ids


def start(cmd: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def median_get(client: httpx2.Client, url: str, repeat: int) -> tuple[float, bytes]:
    client.get(url)  # warm: connection, first render
    times = []
    body = b""
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(url)
        body = response.content
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200
    return statistics.median(times), body


def append_latency(client: httpx2.Client, journal: Journal, path: str, appends: int) -> float:
    keys = [e.task.key for e in journal.events if isinstance(e, ev.TaskPlanned)]
    seen: list[float] = []
    got = threading.Event()
    ready = threading.Event()

    def reader() -> None:
        with client.stream("GET", path) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: snapshot"):
                    ready.set()
                elif line.startswith("event: update"):
                    seen.append(time.perf_counter())
                    got.set()
                    if len(seen) >= appends:
                        return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    ready.wait(60)
    latencies = []
    for i in range(appends):
        got.clear()
        t0 = time.perf_counter()
        journal.append(ev.CallStarted(key=keys[i % len(keys)], attempt=i + 1))
        if not got.wait(60):
            raise SystemExit("no update arrived within 60 s")
        latencies.append(seen[-1] - t0)
        time.sleep(0.05)
    thread.join(10)
    return statistics.median(latencies)


def bare_follow_latency(journal: Journal, refresh: float, appends: int) -> float:
    follower = Follower(journal.path)
    follower.poll()
    latencies = []
    for i in range(appends):
        stop = threading.Event()
        arrived: list[float] = []

        def loop(stop: threading.Event = stop, arrived: list[float] = arrived) -> None:
            while not stop.is_set():
                if follower.poll():
                    arrived.append(time.perf_counter())
                    return
                time.sleep(refresh)

        thread = threading.Thread(target=loop)
        thread.start()
        time.sleep(refresh * (i % 4) / 4)  # spread the appends over the polling phase, as in the dashboard
        t0 = time.perf_counter()
        journal.append(ev.CallStarted(key=f"bare-{i}", attempt=1))
        thread.join(60)
        stop.set()
        latencies.append(arrived[0] - t0)
    return statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--appends", type=int, default=20)
    parser.add_argument("--refresh", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ids = make_workspace(root, args.runs, args.tasks)
        t0 = time.perf_counter()
        dash, url = start([sys.executable, "-m", "chargen_es", "dashboard", "--root", str(root),
                           "--refresh", str(args.refresh)])
        startup = time.perf_counter() - t0
        token = url.split("token=", 1)[1]
        base = url.split("/?", 1)[0]
        try:
            with httpx2.Client(base_url=base, params={"token": token}, timeout=60) as client:
                page_s, body = median_get(client, "/", args.repeat)
                page_file = root / "page.html"
                page_file.write_text(body.decode())
                bare, bare_url = start([sys.executable, "-c", BARE_APP, str(page_file)])
                try:
                    with httpx2.Client(base_url=bare_url, timeout=60) as bare_client:
                        bare_s, _ = median_get(bare_client, "/", args.repeat)
                finally:
                    bare.terminate()
                    bare.wait()
                rows = json.loads(body.decode().split('id="page-data">', 1)[1].split("</script>", 1)[0])["rows"]
                assert len(rows) == args.runs + 1
                with Journal.open(runs_root(root) / ids[-1]) as journal:
                    live_s = append_latency(client, journal, f"/api/runs/{ids[-1]}/stream", args.appends)
                    follow_s = bare_follow_latency(journal, args.refresh, args.appends)
        finally:
            dash.terminate()
            dash.wait()
    print(f"workspace: {args.runs + 1} runs x {args.tasks} tasks; dashboard start to URL {startup * 1000:.0f} ms")
    print(f"runs page GET /: dashboard {page_s * 1000:.1f} ms, bare Starlette/Hypercorn same bytes "
          f"{bare_s * 1000:.1f} ms ({len(body)} bytes; goal < 300 ms)")
    print(f"append -> open page (SSE): dashboard {live_s * 1000:.0f} ms, bare Follower at {args.refresh} s "
          f"{follow_s * 1000:.0f} ms (goal < 1000 ms)")
    print(f"ratio dashboard/bare: runs page {page_s / bare_s:.2f}, append-to-page {live_s / follow_s:.2f}")


if __name__ == "__main__":
    main()
