"""Suite-wide hygiene (no proxy for loopback, no real keys leaking into runs), where the session's
temporary folders live, the shared zygote, and the demo workspace."""

from __future__ import annotations

import itertools
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import shared
from tests.procs import WARM_PYTHON, run_child, share_zygote
from tests.shared import once_per_session

MEMORY = Path("/dev/shm")


def _temp_root_in_memory(config: pytest.Config) -> None:
    """Put the session's temporary folders on the tmpfs at /dev/shm when there is one with
    room, unless ``--basetemp`` or ``PYTEST_DEBUG_TEMPROOT`` chose a place.

    The crash tests kill processes, and the page cache outlives a killed process, so a
    disk's flushes add nothing a test can observe; what they add is cost: every run ends
    its groups with ``syncfs(2)``, which on a disk the whole suite shares waits for every
    other test's writes too. Faults are injected at our own I/O wrapper
    (``chargen_es.fsio``), the full-disk test mounts its own tmpfs, and a power cut is
    out of any test's reach, so nothing is tested less.
    """
    if config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return
    try:
        mounts = Path("/proc/mounts").read_text().split("\n")
        room = os.statvfs(MEMORY)
    except OSError:
        return
    tmpfs = any(line.split()[1:3] == [str(MEMORY), "tmpfs"] for line in mounts if line.strip())
    if tmpfs and os.access(MEMORY, os.W_OK) and room.f_bavail * room.f_frsize >= 4 << 30:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(MEMORY)


@pytest.hookimpl(tryfirst=True)  # before anything asks for the session's temp folder
def pytest_configure(config: pytest.Config) -> None:
    """Under xdist the controller starts the one zygote its workers fork ``chargen-es``
    children from (``tests/procs.py``); the workers inherit its socket in the environment.
    Every process learns whether this is the quick loop before it collects (``tests.shared``)."""
    shared.QUICK = "".join(config.option.markexpr.split()) == "notslow"
    _temp_root_in_memory(config)
    if getattr(config, "workerinput", None) is None and config.getoption("numprocesses", None):
        share_zygote()


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent under -p no:xdist
def pytest_xdist_setupnodes(config: pytest.Config, specs: list[Any]) -> None:
    """Each local worker starts through ``tests/warm_python.py``, which has the session's
    zygote fork it warm instead of a fresh interpreter importing chargen_es and the SDK
    again (about a second of CPU a worker)."""
    import execnet

    for i, spec in enumerate(specs):
        if spec.popen and not spec.python and not spec.via:
            warm = execnet.XSpec(f"{spec}//python={shlex.quote(sys.executable)} -S {shlex.quote(str(WARM_PYTHON))}")
            warm.id = spec.id  # gw0, gw1, ...: allocated already
            specs[i] = warm


# the modules whose tests wait longest (real-second deadlines, a browser, servers and their
# background runs, SIGKILL tortures, the second demo): started first, so no worker is left
# with one at the end
LONG_FIRST = ("tests/fallback/test_fallback.py", "tests/dashboard/test_browser.py", "tests/mcp/test_mcp_server.py",
              "tests/dashboard/test_batch_api.py", "tests/engine/test_torture.py", "tests/engine/test_live.py",
              "tests/core/test_crash.py", "tests/engine/test_cli_runs.py")


# one headless Chromium per worker process (a second of CPU to start): its tests stay in one share
TOGETHER = ("tests/dashboard/test_browser.py",)


def worker_shares(total: int, workers: int) -> list[int]:
    """How many of ``total`` tests each worker is first sent: xdist's worksteal splits the
    collection in order, ``len(pending) // workers_left`` to each idle worker in turn."""
    sizes = []
    for i in range(workers):
        sizes.append(total // (workers - i))
        total -= sizes[-1]
    return sizes


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected: the shares are of what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests at the heads of half the workers' first shares (dealt round; the
    Chromium tests as one block), then the rest in order (the same order in every xdist
    worker, as xdist requires).

    Worksteal sends each worker a contiguous share of the collection, which it runs from
    the front, while idle workers steal from the back of the longest queue. With the long
    tests all at the head of the collection, one worker's share held them all and they
    ran one after another to the end of the session. Dealt to half the workers, they all
    start early, and the other half's CPU-bound tests overlap their waits (dealt to every
    worker, they waited all at once and left the cores idle)."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    module = {id(item): item.nodeid.split("::")[0] for item in items}
    together = [item for item in items if module[id(item)] in TOGETHER]
    dealt = [item for item in items if module[id(item)] in LONG_FIRST and module[id(item)] not in TOGETHER]
    rest = iter([item for item in items if module[id(item)] not in LONG_FIRST + TOGETHER])
    waiting = max(1, workers // 2)  # the other half starts on the rest: CPU for the waits to overlap
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    shares[0].extend(together)
    turn = [*range(1, waiting), 0]  # the share holding the block is dealt to last
    for i, item in enumerate(dealt):
        shares[turn[i % waiting]].append(item)
    for share, size in zip(shares, worker_shares(len(items), workers), strict=True):
        share.extend(itertools.islice(rest, max(0, size - len(share))))
    items[:] = [item for share in shares for item in share] + list(rest)


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never reach Google: drop real keys and proxies, keep loopback direct, and point
    the key file's folder (``$XDG_CONFIG_HOME``) at an empty one, so a developer's own
    ``~/.config/chargen-es/credentials`` never reaches a test."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY",
                 "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "GOOGLE_GENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "no-config"))
    monkeypatch.setenv("PYTHONHASHSEED", os.environ.get("PYTHONHASHSEED", "0"))


def run_demo(folder: Path) -> subprocess.CompletedProcess[str]:
    """``chargen-es demo FOLDER`` as a user runs it (no key, no proxy)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CHARGEN_ES_") and k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "COLUMNS": "200"})
    return run_child(["demo", str(folder)], env=env, timeout=180)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`chargen-es demo` once per session (``tests.shared``): ``root`` (its runs: the
    analyses generation needs, the generation, the new pictures' analyses, all completed;
    the batch file's run in ``root/batch-file``) and what it printed (``stdout``). Copy
    the tree before changing it."""
    def make(folder: Path) -> dict[str, str]:
        done = run_demo(folder / "tree")
        assert done.returncode == 0, done.stdout + done.stderr
        return {"root": str(folder / "tree"), "stdout": done.stdout}

    return once_per_session(tmp_path_factory, "demo", make)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def demo_tree(demo_run: dict[str, str]) -> Path:
    return Path(demo_run["root"])
