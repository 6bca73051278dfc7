"""``chargen-es delete``: a finished run's folder and remote files go, its totals stay in
``stats``; refused while the run is worked on or unfinished; a real SIGKILL at every step
of the delete is finished or undone by the next command, with ``stats`` unchanged."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import RunLock
from tests.emulator.helpers import make_client
from tests.engine.harness import RUN_ID, _env, chargen, copy_sample, run_args
from tests.procs import run_child


def cli(root: Path, url: str, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_child([*args, "--root", str(root)] + (["--base-url", url] if args[0] == "delete" else []),
                     env=_env(crash_at), timeout=120)


def stats(root: Path, url: str) -> dict:
    done = cli(root, url, "stats", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def remote_names(emu: Emulator) -> set[str]:
    client = make_client(emu, "v1beta")
    return {f.name for f in client.files.list() if f.name}


def finished_run(tmp_path: Path, emu: Emulator) -> Path:
    root = copy_sample(tmp_path / "tree")
    done = chargen(root, emu.base_url, *run_args("--no-cleanup"))
    assert done.returncode == 0, done.stderr
    return root


def folder(root: Path) -> Path:
    return root / ".chargen" / "batch" / RUN_ID


def ours(root: Path) -> set[str]:
    """The remote file names the run's journal recorded (uploads, requests, results)."""
    return set(re.findall(r'"(files/[a-z0-9-]+)"', (folder(root) / "journal.jsonl").read_text()))


def test_delete_removes_the_folder_and_remote_files_and_keeps_the_totals(tmp_path: Path) -> None:
    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        root = finished_run(tmp_path, emu)
        before = stats(root, emu.base_url)
        mine = ours(root)
        assert mine and mine <= remote_names(emu)
        done = cli(root, emu.base_url, "delete", RUN_ID)
        assert done.returncode == 0, done.stderr
        assert f"run {RUN_ID} deleted" in done.stdout
        assert not folder(root).exists() and not (root / ".chargen" / "trash" / RUN_ID).exists()
        assert not mine & remote_names(emu)
        assert stats(root, emu.base_url) == before
        listed = cli(root, emu.base_url, "inspect")
        assert RUN_ID in listed.stdout and "deleted" in listed.stdout
        check = cli(root, emu.base_url, "replay", "--workspace", "--check")
        assert check.returncode == 0, check.stdout + check.stderr
        again = cli(root, emu.base_url, "delete", RUN_ID)
        assert again.returncode == 1 and "already deleted" in again.stderr
        reuse = chargen(root, emu.base_url, *run_args("--force"))
        assert reuse.returncode == 1 and "belonged to a run that was deleted" in reuse.stderr


def test_delete_is_refused_while_the_run_is_worked_on_or_unfinished(tmp_path: Path) -> None:
    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        root = finished_run(tmp_path, emu)
        lock = RunLock(folder(root))
        lock.acquire()  # this test process works on the run; the child is another process
        try:
            refused = cli(root, emu.base_url, "delete", RUN_ID)
        finally:
            lock.release()
        assert refused.returncode != 0 and "in use by" in refused.stderr
        assert folder(root).is_dir() and not (root / ".chargen" / "deleted").exists()

        paused = copy_sample(tmp_path / "paused")
        journal = paused / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
        crashed = chargen(paused, emu.base_url, *run_args(), crash_at="after:append:job.submitted")
        assert crashed.returncode < 0 and journal.exists()
        unfinished = cli(paused, emu.base_url, "delete", RUN_ID)
        assert unfinished.returncode == 1 and "only a finished" in unfinished.stderr
        assert journal.exists()


# (point, finished): killed there, the next command finishes the delete (True) or undoes it
POINTS = [("after:delete.intent", False), ("after:delete.remote#1", False), ("before:delete.rename", False),
          ("after:delete.rename", True), ("after:delete.remove", True), ("before:delete.done", True),
          ("after:delete.done", True), ("before:delete.index", True)]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "finished"), POINTS)
def test_a_delete_killed_anywhere_is_finished_or_undone(tmp_path: Path, point: str, finished: bool) -> None:
    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        root = finished_run(tmp_path, emu)
        before = stats(root, emu.base_url)
        killed = cli(root, emu.base_url, "delete", RUN_ID, crash_at=point)
        assert killed.returncode == -9, f"{point} never reached: {killed.stderr}"
        after = stats(root, emu.base_url)  # the next start settles the delete
        assert after == before
        stone = root / ".chargen" / "deleted" / f"{RUN_ID}.json"
        assert not (root / ".chargen" / "trash" / RUN_ID).exists()
        if finished:
            assert not folder(root).exists()
            assert json.loads(stone.read_text())["state"] == "deleted"
        else:
            assert folder(root).is_dir() and not stone.exists()
            replay = cli(root, emu.base_url, "replay", RUN_ID, "--check")
            assert replay.returncode == 0, replay.stdout + replay.stderr
            again = cli(root, emu.base_url, "delete", RUN_ID)
            assert again.returncode == 0, again.stderr
            assert not folder(root).exists() and stats(root, emu.base_url) == before
        check = cli(root, emu.base_url, "replay", "--workspace", "--check")
        assert check.returncode == 0, check.stdout + check.stderr


def test_delete_leaves_files_on_another_backend_alone(tmp_path: Path) -> None:
    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu, Emulator(EmulatorConfig()) as other:
        root = finished_run(tmp_path, emu)
        mine = ours(root)
        done = cli(root, other.base_url, "delete", RUN_ID)
        assert done.returncode == 0, done.stderr
        assert "on another backend left to expire" in done.stdout
        assert mine <= remote_names(emu)  # a file id means nothing to another server: nothing deleted there
        assert other.stats()["operations"].get("files.delete", 0) == 0
        assert not folder(root).exists()
