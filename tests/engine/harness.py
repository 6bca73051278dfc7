"""Real parts for the engine tests: a copied sample tree, the emulator, and chargen-es processes.

Every chargen-es invocation is a real child process (``python -m chargen_es``, forked warm
by ``tests.procs``) talking HTTP to an in-process emulator through the unmodified SDK, so
SIGKILL means SIGKILL.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.planner import sample_tree
from tests.procs import CliProcess, run_child, start_child
from tests.shared import once_per_session, read_yaml

API_KEY = "test-key-7f3a9c1e55d0-never-written"
RUN_ID = "2030-01-01T00-00-00Z"
BASE_ARGS = ["--poll-interval", "0.05"]


def copy_sample(dest: Path) -> Path:
    shutil.copytree(sample_tree(), dest)
    return dest


def _env(crash_at: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A child's environment: ours, less any CHARGEN_ES_ setting and real key, plus the test key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    env.update({"GEMINI_API_KEY": API_KEY, "NO_PROXY": "127.0.0.1,localhost", "COLUMNS": "200"})
    env.pop("GOOGLE_API_KEY", None)
    if crash_at:
        env["CHARGEN_ES_CRASH_AT"] = crash_at
    env.update(extra or {})
    return env


def child_env(**extra: str) -> dict[str, str]:
    """The environment ``chargen`` gives its children (for a test that starts one its own way)."""
    return _env(extra=extra)


def chargen(root: Path, base_url: str, *args: str, crash_at: str | None = None,
            timeout: float = 120.0, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one chargen-es command against ``base_url``; returns the finished process."""
    return run_child([*args, "--root", str(root), "--base-url", base_url, *BASE_ARGS], env=_env(crash_at, extra_env),
                     timeout=timeout)


def crash(root: Path, base_url: str, point: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``chargen`` with ``point`` armed; asserts the process died there by SIGKILL."""
    crashed = chargen(root, base_url, *args, crash_at=point)
    assert crashed.returncode == -signal.SIGKILL, f"{point} was never reached: {crashed.stderr[-2000:]}"
    return crashed


def quick_emulator() -> EmulatorConfig:
    """Jobs done when first asked: for tests where the waits are not the point."""
    return EmulatorConfig(job_seconds=0.0, seed=7)


def reference_outputs(factory: pytest.TempPathFactory, *extra: str) -> dict[str, str]:
    """The outputs of one uninterrupted ``run_args(*extra)`` on :func:`quick_emulator`
    (made once per session and shared by every test asking for the same ``extra``)."""
    def make(folder: Path) -> dict[str, str]:
        root = copy_sample(folder / "tree")
        with Emulator(quick_emulator()) as emu:
            done = chargen(root, emu.base_url, *run_args(*extra))
            assert done.returncode == 0, done.stderr
            assert_exactly_once(root, emu.stats(), batch_inputs_required=not extra)
        return outputs(root)

    name = "-".join(["reference", *(w.strip("-") for w in extra)])
    return once_per_session(factory, name, make)  # type: ignore[no-any-return]


def named_error(stderr: str) -> str:
    """The one line a run that stopped on an error ends with (``chargen-es: …``)."""
    lines = [line for line in stderr.splitlines() if line.startswith("chargen-es: ")]
    assert len(lines) == 1, f"expected one error line: {stderr[-2000:]}"
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-2000:]
    return lines[0].removeprefix("chargen-es: ")


def resume_as_printed(error: str, *, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``resume`` command an error line names, word for word (plus the test's poll interval)."""
    command = error.rsplit("`", 2)[-2]
    words = shlex.split(command)
    assert words[:2] == ["chargen-es", "resume"], command
    return run_child([*words[1:], *BASE_ARGS], env=_env(None, extra_env))


def run_args(*extra: str, run_id: str = RUN_ID) -> list[str]:
    return ["run", "--yes", "--run-id", run_id, "--chunk-size", "6", *extra]


def start_process(root: Path, base_url: str, *args: str, crash_at: str | None = None) -> CliProcess:
    """``chargen`` in the background."""
    return start_child([*args, "--root", str(root), "--base-url", base_url, *BASE_ARGS], env=_env(crash_at))


def outputs(root: Path) -> dict[str, str]:
    """Every file chargen-es wrote into the tree's images folders: path -> sha256."""
    found = {}
    for path in sorted(root.glob("*/*/images/*")):
        if path.is_file() and not path.name.startswith("."):
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def imagery_keys(root: Path) -> dict[str, list[str]]:
    """Task keys recorded per imagery.yaml (duplicates kept, so a test can count them)."""
    keys: dict[str, list[str]] = {}
    for path in sorted(root.glob("*/*/imagery.yaml")):
        doc: dict[str, Any] = read_yaml(path.read_text()) or {}
        found = [e["task_key"] for e in doc.get("generated_images") or [] if "task_key" in e]
        for run in doc.get("imagery_runs") or []:
            found += [e["task_key"] for e in run.get("images") or [] if "task_key" in e]
        found += [e["task_key"] for e in doc.get("analyses") or [] if "task_key" in e]
        keys[path.relative_to(root).as_posix()] = found
    return keys


def files_containing(root: Path, needle: str) -> list[str]:
    hits = []
    data = needle.encode()
    for path in root.rglob("*"):
        if path.is_file() and data in path.read_bytes():
            hits.append(str(path))
    return hits


def temp_files(root: Path) -> list[str]:
    """Temp files anywhere in the tree (ours, ``.<name>.chargen-<pid>.tmp``, or any other
    ``.tmp`` / ``.part`` name): after a finished run there must be none."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and (".chargen-" in p.name or p.name.endswith((".tmp", ".part"))))


def assert_exactly_once(root: Path, stats: dict[str, Any], reference: dict[str, str] | None = None, *,
                        records: dict[str, list[str]] | None = None, batch_inputs_required: bool = True) -> None:
    """The checks every exactly-once scenario ends with.

    ``records``: the task keys per record file (default: every entity's imagery.yaml);
    ``batch_inputs_required=False``
    when every chunk may have gone live before any job existed (the deadline fallback).
    """
    for name, keys in (imagery_keys(root) if records is None else records).items():
        assert len(keys) == len(set(keys)), f"{name} holds a task key twice: {keys}"
    uploads = stats["uploads_by_sha256"]
    assert uploads and all(n == 1 for n in uploads.values()), f"content uploaded more than once: {uploads}"
    inputs = stats["batch_inputs_by_sha256"]
    assert inputs or not batch_inputs_required, "no batch input was submitted"
    assert all(n == 1 for n in inputs.values()), f"a batch input submitted twice: {inputs}"
    if reference is not None:
        assert outputs(root) == reference
    assert files_containing(root, API_KEY) == []
    check = run_child(["replay", RUN_ID, "--check", "--root", str(root)])
    assert check.returncode == 0, check.stdout + check.stderr


def journal_lines(journal: Path) -> int:
    return journal.read_bytes().count(b"\n") if journal.exists() else 0


def next_args(journal: Path, first_run: tuple[str, ...]) -> tuple[str, ...]:
    """``resume`` once the plan is sealed, else the first ``run`` again (a torn plan is set aside)."""
    sealed = journal.exists() and b'"plan.sealed"' in journal.read_bytes()
    return ("resume", RUN_ID) if sealed else first_run


def kill_after_growth(proc: CliProcess, journal: Path, lines: int, timeout_s: float = 300.0) -> bool:
    """SIGKILL ``proc`` once the journal has grown by ``lines`` lines; True when it finished first.

    Kills are placed by the run's own progress, not by wall time, so where they land does not
    depend on how fast this machine starts Python or answers requests.
    """
    target = journal_lines(journal) + lines
    deadline = time.monotonic() + timeout_s
    while journal_lines(journal) < target:
        if proc.poll() is not None:
            proc.communicate()
            assert proc.returncode == 0, f"{proc.args} failed with {proc.returncode}"
            return True
        assert time.monotonic() < deadline, f"{proc.args}: the journal stopped growing"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return False

