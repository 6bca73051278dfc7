"""The one file-system module: atomic replacement, stream writers, and the temp sweep.

Real files in a temp folder, and a real child process killed with SIGKILL for the sweep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chargen_es.engine.durable import Durability, write_replace
from chargen_es.fsio import (
    atomic_stream,
    is_stale_temp,
    replace_atomic,
    sha256_file,
    sweep_temp_files,
    temp_path,
    write_files,
)
from chargen_es.journal import read_events
from projections import project, render

SAMPLE = Path(__file__).parent / "data" / "sample_run" / "journal.jsonl"


def _umask() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError("no Umask line in /proc/self/status")


def test_replace_atomic_skips_identical_bytes_and_replaces_otherwise(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    assert replace_atomic(target, b"one") is True
    inode = target.stat().st_ino
    assert replace_atomic(target, b"one", skip_if_same=True) is False
    assert target.stat().st_ino == inode, "a skipped write leaves the very same file"
    assert replace_atomic(target, b"two", skip_if_same=True) is True
    assert target.read_bytes() == b"two"
    assert sha256_file(target) == "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3"
    assert sha256_file(tmp_path / "gone") is None
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"], "no temp file left behind"


def test_a_new_file_follows_the_umask_and_an_old_one_keeps_its_mode(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.json"
    replace_atomic(fresh, b"{}")
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~_umask()
    kept = tmp_path / "kept.yaml"
    kept.write_bytes(b"a: 1\n")
    kept.chmod(0o600)
    replace_atomic(kept, b"a: 2\n")
    assert kept.stat().st_mode & 0o777 == 0o600
    replace_atomic(kept, b"a: 3\n", mode=0o640)
    assert kept.stat().st_mode & 0o777 == 0o640


def test_write_files_writes_the_rendered_projections_once(tmp_path: Path) -> None:
    files = render(project(read_events(SAMPLE)))
    assert all(write_files(tmp_path, files).values())
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data
    assert not any(write_files(tmp_path, files).values())


def test_a_failed_replace_removes_its_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()  # renaming a file over a folder fails after the temp file is written
    with pytest.raises(IsADirectoryError):
        replace_atomic(target, b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


def test_the_engine_writer_removes_its_temp_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "image.png"

    def refuse() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_replace(target, b"png", Durability(), before_rename=refuse)
    assert list(tmp_path.iterdir()) == []


def test_a_stream_that_raises_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "requests-000.jsonl"
    target.write_bytes(b"old\n")
    with pytest.raises(ValueError, match="bad task"), atomic_stream(target) as f:
        f.write(b"half a line")
        assert temp_path(target).exists()
        raise ValueError("bad task")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["requests-000.jsonl"]
    with atomic_stream(target) as f:
        f.write(b"new\n")
    assert target.read_bytes() == b"new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["requests-000.jsonl"]


def test_one_temp_name_scheme_with_the_writer_pid(tmp_path: Path) -> None:
    name = temp_path(tmp_path / "imagery.yaml").name
    assert name == f".imagery.yaml.chargen-{os.getpid()}.tmp"
    assert not is_stale_temp(name), "this process is alive: its temp files are not stale"


def _killed_writer(folder: Path) -> tuple[int, Path]:
    """A real child that opens a temp file of ours and is SIGKILLed mid-write."""
    code = ("import sys, time; from pathlib import Path; from chargen_es.fsio import temp_path\n"
            "p = temp_path(Path(sys.argv[1]) / 'ch01-20301201T000000Z.png')\n"
            "p.write_bytes(b'half an image'); print(p, flush=True); time.sleep(600)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL and left.exists()
    return child.pid, left


def test_the_sweep_removes_only_our_temp_files_of_dead_writers(tmp_path: Path) -> None:
    images = tmp_path / "characters" / "ada" / "images"
    images.mkdir(parents=True)
    dead_pid, left = _killed_writer(images)
    dead_yaml = tmp_path / "characters" / "ada" / f".imagery.yaml.chargen-{dead_pid}.tmp"
    dead_yaml.write_bytes(b"x")
    live = temp_path(tmp_path / "characters" / "ada" / "imagery.yaml")  # ours, writer alive
    live.write_bytes(b"x")
    users = [tmp_path / ".notes.123.tmp", images / ".scratch.tmp", images / "a.chargen-1.png"]
    for path in users:
        path.write_bytes(b"the user's")
    emulator = tmp_path / ".chargen" / "emulator"
    emulator.mkdir(parents=True)
    elsewhere = emulator / f".job.json.chargen-{dead_pid}.tmp"
    elsewhere.write_bytes(b"not ours to judge")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / f".x.chargen-{dead_pid}.tmp").write_bytes(b"beyond a symlink")
    (tmp_path / "link").symlink_to(outside)

    removed = sweep_temp_files(tmp_path, skip=[emulator])

    assert sorted(removed) == sorted([left, dead_yaml])
    assert not left.exists() and not dead_yaml.exists()
    assert live.exists() and elsewhere.exists() and all(p.exists() for p in users)
    assert (outside / f".x.chargen-{dead_pid}.tmp").exists(), "symlinked folders are not followed"
    assert sweep_temp_files(tmp_path, skip=[emulator]) == []
