"""The live runner under an RPM quota: chargen-es against the seeds' two fixed-wait loops.

Each strategy gets a fresh in-process emulator with an RPM quota (a sliding window, see
``chargen_es.emulator.quota``) and 200 ms latency on every ``generateContent``, and makes
one call per task for ``--tasks`` tasks (300 by default):

- chargen-es: ``python -m chargen_es run --runner live --workers 5`` on a generated tree
  of that many scenes (a child process; its wall time includes start-up and planning);
- baseline A: one call at a time, a 2 s pause after each call, a 60 s wait after a 429;
- baseline B: five threads at once, a fixed 15 s wait after a 429.

Both baselines use the plain google-genai SDK (its own retries off, as by default).
Time is scaled by one factor ``--scale``: the quota window is ``60 * scale`` seconds and
every baseline wait is multiplied by it, and the emulator's RetryInfo names waits in that
window, which chargen-es honours; chargen-es's own backoff is the production one (a first
wait of 1 s, unscaled), so a small ``--scale`` handicaps chargen-es, not the baselines.
The 200 ms latency is real time and is not scaled. Figures, for each strategy:

- ``tasks/min``: tasks done per *unscaled* minute = tasks / (wall seconds / scale / 60);
- ``quota used``: accepted calls / (rpm * wall seconds / window seconds), the share of
  what the quota would have admitted over the strategy's wall time (a burst into an idle
  window can push it slightly above 1);
- ``429 share``: calls answered 429 / all calls reaching generateContent.

    python tools/bench_live.py [--tasks 300] [--rpm 30] [--scale 0.1] [--serial] [--workers 5]

The last line is chargen-es's quota used / the best baseline's quota used. Goal for
chargen-es: quota used >= 0.95 and 429 share < 0.05.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google import genai
from google.genai import errors, types

from chargen_es.catalogue import DEFAULT_GENERATE_MODEL
from chargen_es.emulator import Emulator, EmulatorConfig, models
from chargen_es.emulator.quota import Quota

SCENES_PER_CHARACTER = 10
MODEL = DEFAULT_GENERATE_MODEL  # what chargen-es plans with, so both sides call the same model
LATENCY_S = 0.2


@dataclass
class Figures:
    name: str
    tasks: int
    wall_s: float
    accepted: int
    rejected: int
    first_call_s: float  # from the strategy's start to the first generateContent reaching the quota
    last_ok_s: float  # from the strategy's start to the last accepted call

    def tasks_per_min(self, scale: float) -> float:
        return self.tasks / (self.wall_s / scale / 60.0)

    def quota_used(self, rpm: int, scale: float) -> float:
        return self.accepted / (rpm * self.wall_s / (60.0 * scale))

    def share_429(self) -> float:
        return self.rejected / max(1, self.accepted + self.rejected)

    def row(self, rpm: int, scale: float) -> str:
        return (f"{self.name:<12} {self.tasks:>5} {self.wall_s:>7.1f} {self.first_call_s:>6.2f} "
                f"{self.last_ok_s:>7.1f} {self.wall_s / scale / 60:>7.2f} {self.tasks_per_min(scale):>9.1f} "
                f"{self.accepted:>5} {self.rejected:>5} {self.quota_used(rpm, scale):>7.3f} "
                f"{self.share_429():>7.1%}")


HEADER = (f"{'strategy':<12} {'tasks':>5} {'wall s':>7} {'1st s':>6} {'last s':>7} {'min':>7} "
          f"{'tasks/min':>9} {'ok':>5} {'429':>5} {'quota':>7} {'429 %':>7}")


def make_tree(root: Path, tasks: int) -> list[str]:
    """characters/<slug>/{character,image_ideas}.yaml with ``tasks`` scenes; returns the prompts."""
    prompts = []
    for i in range((tasks + SCENES_PER_CHARACTER - 1) // SCENES_PER_CHARACTER):
        folder = root / "characters" / f"c{i:04d}"
        folder.mkdir(parents=True)
        (folder / "character.yaml").write_text(f"name: Character {i}\ndescription: A bench subject.\n")
        scenes = [{"id": f"s{j}", "prompt": f"scene {j} of character {i}"}
                  for j in range(SCENES_PER_CHARACTER) if i * SCENES_PER_CHARACTER + j < tasks]
        prompts += [s["prompt"] for s in scenes]
        (folder / "image_ideas.yaml").write_text(json.dumps({"scenes": scenes}))
    return prompts


class TimedQuota(Quota):
    """The emulator's quota, also noting when calls were accepted and refused (bench only)."""

    def __init__(self, limit: int | None, window_s: float = 60.0, clock: Any = None) -> None:
        super().__init__(limit, window_s, clock)
        QUOTAS[threading.get_ident()] = self  # built by Emulator.start, in the measuring thread
        self.accepted_times: list[float] = []
        self.rejected_times: list[float] = []

    def admit(self, *args: Any) -> float | None:
        wait = super().admit(*args)
        (self.rejected_times if wait is not None else self.accepted_times).append(time.monotonic())
        return wait


QUOTAS: dict[int, TimedQuota] = {}
models.Quota = TimedQuota  # type: ignore[misc]  # every emulator this bench starts records admissions


def emulator(rpm: int, scale: float) -> Emulator:
    faults = [{"op": "models.generateContent", "kind": "latency", "seconds": LATENCY_S}]
    return Emulator(EmulatorConfig(rpm=rpm, quota_window_s=60.0 * scale, faults=faults))


def run_chargen(root: Path, url: str, workers: int, scale: float) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    env.update({"GEMINI_API_KEY": "bench", "NO_PROXY": "127.0.0.1"})
    env.pop("GOOGLE_API_KEY", None)
    cmd = [sys.executable, "-m", "chargen_es", "run", "--root", str(root), "--yes", "--runner", "live",
           "--workers", str(workers), "--base-url", url]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"chargen-es failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def client(url: str) -> genai.Client:
    return genai.Client(api_key="bench", http_options=types.HttpOptions(
        base_url=url, api_version="v1beta", client_args={"trust_env": False}))


def call_until_accepted(c: genai.Client, prompt: str, wait_after_429: float) -> None:
    while True:
        try:
            c.models.generate_content(model=MODEL, contents=prompt)
            return
        except errors.APIError as exc:
            if exc.code != 429:
                raise
            time.sleep(wait_after_429)


def baseline_sequential(url: str, prompts: list[str], scale: float) -> None:
    """The seed's sequential loop: one call at a time, 2 s pause, 60 s after a 429."""
    c = client(url)
    for i, prompt in enumerate(prompts):
        call_until_accepted(c, prompt, 60.0 * scale)
        if i + 1 < len(prompts):
            time.sleep(2.0 * scale)


def baseline_five(url: str, prompts: list[str], scale: float) -> None:
    """The seed's 5-at-once loop: five threads, a fixed 15 s wait after a 429."""
    local = threading.local()

    def one(prompt: str) -> None:
        if not hasattr(local, "client"):
            local.client = client(url)
        call_until_accepted(local.client, prompt, 15.0 * scale)

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(one, prompts))


def measure(name: str, rpm: int, scale: float, tasks: int, go: Callable[[str], None]) -> Figures:
    """Run one strategy against a fresh emulator; wall time runs from just before ``go`` to its end."""
    with emulator(rpm, scale) as emu:
        quota = QUOTAS[threading.get_ident()]
        start = time.monotonic()
        go(emu.base_url)
        wall = time.monotonic() - start
        stats = emu.stats()
    times = sorted(quota.accepted_times + quota.rejected_times)
    fig = Figures(name, tasks, wall, int(stats["calls"]), int(stats["calls_rejected"]),
                  times[0] - start if times else 0.0,
                  max(quota.accepted_times) - start if quota.accepted_times else 0.0)
    if fig.accepted != tasks:
        raise SystemExit(f"{name}: {fig.accepted} calls accepted for {tasks} tasks")
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--rpm", type=int, default=30)
    parser.add_argument("--scale", type=float, default=0.1, help="seconds of bench per unscaled second")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--only", choices=["chargen-es", "sequential", "five"], action="append")
    parser.add_argument("--serial", action="store_true", help="run the sequential baseline after the others")
    args = parser.parse_args()
    os.environ["NO_PROXY"] = "127.0.0.1"
    rpm, scale, n = args.rpm, args.scale, args.tasks
    window = 60.0 * scale
    print(f"{n} tasks, quota {rpm} calls per {window:g} s window ({rpm} rpm unscaled), "
          f"{LATENCY_S * 1000:.0f} ms latency, time scale {scale:g}; "
          f"unthrottled, {args.workers} workers could make {args.workers / LATENCY_S * window:.0f} calls "
          f"per window")
    only = set(args.only or ["chargen-es", "sequential", "five"])
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        root = Path(tmp) / "tree"
        prompts = make_tree(root, n)
        jobs: list[tuple[str, Callable[[str], None]]] = []
        if "chargen-es" in only:
            jobs.append(("chargen-es", lambda url: run_chargen(root, url, args.workers, scale)))
        if "five" in only:
            jobs.append(("five-fixed", lambda url: baseline_five(url, prompts, scale)))
        side: threading.Thread | None = None
        if "sequential" in only:
            # the sequential baseline mostly sleeps (latency and pauses, about 3 calls a second),
            # so unless --serial it runs beside the others, against its own emulator
            def seq() -> None:
                results["sequential"] = measure("sequential", rpm, scale, n,
                                                lambda url: baseline_sequential(url, prompts, scale))
            if args.serial:
                jobs.append(("sequential", lambda url: baseline_sequential(url, prompts, scale)))
            else:
                side = threading.Thread(target=seq)
                side.start()
        for name, go in jobs:
            results[name] = measure(name, rpm, scale, n, go)
        if side is not None:
            side.join()
    print("wall s: the strategy's whole time (chargen-es: process start to exit); 1st s / last s: "
          "first call seen, last call accepted; min: unscaled minutes = wall / scale / 60; "
          "tasks/min: tasks per unscaled minute; quota: accepted / (rpm * wall / window); "
          "429 %: rejected / all calls")
    print(HEADER)
    for name in ("chargen-es", "sequential", "five-fixed"):
        if name in results:
            print(results[name].row(rpm, scale))
    ours = results.get("chargen-es")
    others = [f for k, f in results.items() if k != "chargen-es"]
    if ours and others:
        best = max(f.quota_used(rpm, scale) for f in others)
        print(f"chargen-es quota used / best baseline quota used: {ours.quota_used(rpm, scale) / best:.2f}")


if __name__ == "__main__":
    main()
