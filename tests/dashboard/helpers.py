"""Real parts for the dashboard tests: a demo workspace, the dashboard and runs as child processes.

The dashboard is started exactly as a user starts it (``python -m chargen_es dashboard``,
forked warm by ``tests.procs``)
and talked to over HTTP on loopback; runs are real ``chargen-es run --emulator`` children,
whose embedded emulator keeps its state in the tree, so a paused run resumes against the
same jobs. Waiting is always for a condition, with a generous deadline that only turns a
hang into a failure; no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from tests.procs import CliProcess, run_child, start_child

T = TypeVar("T")
DEADLINE_S = 90.0
FAST = ["--poll-interval", "0.2"]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "COLUMNS": "200"}, **extra)
    return env


def chargen(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = run_child([*args], env=env or child_env(), timeout=DEADLINE_S * 2)
    if check and done.returncode != 0:
        raise AssertionError(f"chargen-es {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def start_run(root: Path, *args: str, job_seconds: float = 1.0) -> CliProcess:
    """``chargen-es run --emulator --yes`` as a background child."""
    return start_child(["run", "--yes", "--root", str(root), "--emulator", "--emulator-job-seconds", str(job_seconds),
                      *FAST, *args], env=child_env(), start_new_session=True)


def wait_for(what: str, probe: Callable[[], T | None], deadline_s: float = DEADLINE_S) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@dataclass
class Dashboard:
    process: CliProcess
    url: str  # as printed: http://127.0.0.1:PORT/?token=...

    @property
    def base(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]


@contextmanager
def dashboard(root: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Dashboard]:
    """``chargen-es dashboard`` as a child; stopped with SIGINT (as Ctrl-C) at the end."""
    process = start_child(["dashboard", "--root", str(root), "--refresh", "0.05", *args], env=env or child_env())
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            raise AssertionError(f"the dashboard printed no URL: {process.communicate(timeout=10)}")
        yield Dashboard(process, url)
    finally:
        stop(process, signal.SIGINT, 20)


def stop(process: CliProcess, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """End a child this test started (if it is still going), with ``sig``, and collect it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def stop_runs_under(root: Path) -> None:
    """SIGKILL any process still working on a run of ``root`` (the holder of its run.lock).

    The batch API and the MCP server start runs as background processes of their own
    session; a test that fails half way must not leave them polling a stopped emulator.
    Only lock holders inside this test's own folder are touched.
    """
    import fcntl

    from chargen_es.journal import RunLock

    runs = root / ".chargen" / "batch"
    for run_dir in sorted(runs.iterdir()) if runs.is_dir() else ():
        lock = run_dir / "run.lock"
        if not lock.exists():
            continue
        with open(lock, "rb") as f:
            try:  # free: nobody works on the run (the pid in the file may be stale, or reused)
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                continue
            except BlockingIOError:
                pid = RunLock(run_dir).holder_pid()
        if pid is not None and pid != os.getpid():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
