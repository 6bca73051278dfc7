"""Suite-wide hygiene (no proxy for loopback, no real keys leaking into runs) and the demo workspace."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import shared
from tests.procs import SHARED_ZYGOTE, run_child, zygote_socket
from tests.shared import once_per_session


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist the controller starts the one zygote its workers fork ``chargen-es``
    children from (``tests/procs.py``); the workers inherit its socket in the environment.
    Every process learns whether this is the quick loop before it collects (``tests.shared``)."""
    shared.QUICK = "".join(config.option.markexpr.split()) == "notslow"
    if getattr(config, "workerinput", None) is None and config.getoption("numprocesses", None):
        os.environ[SHARED_ZYGOTE] = zygote_socket()


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
