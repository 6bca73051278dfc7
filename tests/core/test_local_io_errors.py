"""Local I/O errors are named: one class per errno class, the file, what to do, the resume.

The classification (``chargen_es.errors.local_io_error``) on real ``OSError`` values, and
the fault hook of ``chargen_es.fsio`` (``CHARGEN_ES_FAULT_AT``) failing real writes into a
temp folder: the error names the final file, never the temp one, and no temp file stays.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargen_es import fsio
from chargen_es.errors import (
    LOCAL_IO_ERRORS,
    ChargenError,
    DiskFull,
    DiskIOError,
    FileTooLarge,
    LocalIOError,
    PermissionDenied,
    ReadOnlyFileSystem,
    is_local_io,
    local_io_error,
)
from chargen_es.journal import Journal

ADVICE = {
    errno.ENOSPC: (DiskFull, "disk full", "free space on the disk holding"),
    errno.EDQUOT: (DiskFull, "disk full", "raise your quota"),
    errno.EROFS: (ReadOnlyFileSystem, "read-only file system", "remount"),
    errno.EACCES: (PermissionDenied, "permission denied", "check permissions of"),
    errno.EPERM: (PermissionDenied, "permission denied", "check permissions of"),
    errno.EIO: (DiskIOError, "disk I/O error", "reported a failure"),
    errno.EFBIG: (FileTooLarge, "file too large", "ulimit -f"),
}


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set ``CHARGEN_ES_FAULT_AT`` for one test, with fresh call counts."""
    fsio.reset_fault_counts()
    yield monkeypatch
    fsio.reset_fault_counts()


def test_every_named_errno_is_classified() -> None:
    assert set(ADVICE) == set(LOCAL_IO_ERRORS)


@pytest.mark.parametrize("code", sorted(ADVICE))
def test_each_class_names_the_file_what_to_do_and_the_resume(code: int, tmp_path: Path) -> None:
    cls, what, advice = ADVICE[code]
    exc = OSError(code, os.strerror(code), str(tmp_path / "characters" / "ada" / "imagery.yaml"))
    named = local_io_error(exc, root=tmp_path, resume="chargen-es resume R1 --root /x --emulator")
    assert type(named) is cls and isinstance(named, ChargenError)
    text = str(named)
    assert text.startswith(what)
    assert "characters/ada/imagery.yaml" in text and str(tmp_path) + "/characters" not in text.split(";")[0]
    assert advice in text
    assert text.endswith("then continue with `chargen-es resume R1 --root /x --emulator`")
    assert named.exit_code == 1 and "internal error" not in text and is_local_io(exc)


def test_without_a_journal_to_resume_the_advice_is_to_run_again(tmp_path: Path) -> None:
    named = local_io_error(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "a.png")), root=tmp_path)
    assert named is not None and str(named).endswith("then run the same command again")


def test_other_errors_are_not_local_io() -> None:
    for exc in (OSError(errno.ENOENT, "gone", "x"), OSError(errno.ECONNRESET, "reset"), ValueError("x")):
        assert local_io_error(exc) is None and not is_local_io(exc)


def test_a_named_error_is_located_again_with_root_and_resume(tmp_path: Path) -> None:
    first = local_io_error(OSError(errno.EIO, "Input/output error", str(tmp_path / "j.jsonl")), journal=True)
    assert isinstance(first, DiskIOError) and "continue with" not in str(first)
    again = local_io_error(first, root=tmp_path, resume="chargen-es resume R --root r")
    assert isinstance(again, DiskIOError) and again.journal
    assert str(again).startswith("disk I/O error: j.jsonl (Input/output error); the journal stops at its last "
                                 "durable line;")
    assert str(again).endswith("`chargen-es resume R --root r`")


def test_temp_names_map_back_to_their_target(tmp_path: Path) -> None:
    target = tmp_path / "results-001.jsonl"
    assert fsio.target_of(fsio.temp_path(target)) == target
    assert fsio.target_of(target) == target


@pytest.mark.parametrize("spec", ["rename:EIO", "write:ENOSPC", "fsync:EFBIG", "index.write:EROFS",
                                  "index.write/rename:EACCES"])
def test_the_fault_hook_fails_replace_atomic_naming_the_target(spec: str, tmp_path: Path,
                                                               faults: pytest.MonkeyPatch) -> None:
    faults.setenv(fsio.FAULT_ENV, spec)
    target = tmp_path / "workspace.json"
    with pytest.raises(OSError) as caught:
        fsio.replace_atomic(target, b"new", point="index.write")
    code = getattr(errno, spec.rpartition(":")[2])
    assert caught.value.errno == code and caught.value.filename == str(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "the temp file outlived the failure"


def test_dirsync_faults_name_the_folder(tmp_path: Path, faults: pytest.MonkeyPatch) -> None:
    faults.setenv(fsio.FAULT_ENV, "projections.write/dirsync:EIO")
    with pytest.raises(OSError) as caught:
        fsio.write_files(tmp_path, {"state.json": b"{}\n"}, point="projections.write")
    assert caught.value.filename == str(tmp_path) and (tmp_path / "state.json").read_bytes() == b"{}\n"


def test_the_nth_call_fails_once_and_a_plus_fails_every_later_one(tmp_path: Path, faults: pytest.MonkeyPatch) -> None:
    faults.setenv(fsio.FAULT_ENV, "write#2:ENOSPC")
    fsio.replace_atomic(tmp_path / "a", b"1")
    with pytest.raises(OSError):
        fsio.replace_atomic(tmp_path / "b", b"2")
    fsio.replace_atomic(tmp_path / "c", b"3")
    faults.setenv(fsio.FAULT_ENV, "write#2+:ENOSPC")
    fsio.reset_fault_counts()
    fsio.replace_atomic(tmp_path / "d", b"4")
    for name in "ef":
        with pytest.raises(OSError):
            fsio.replace_atomic(tmp_path / name, b"5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c", "d"]


def test_a_point_counts_only_its_own_calls(tmp_path: Path, faults: pytest.MonkeyPatch) -> None:
    faults.setenv(fsio.FAULT_ENV, "image.write:EIO")
    fsio.replace_atomic(tmp_path / "index.json", b"x", point="index.write")
    with fsio.atomic_stream(tmp_path / "requests-000.jsonl", point="requests.write") as f:
        f.write(b"line\n")
    with pytest.raises(OSError):
        fsio.replace_atomic(tmp_path / "a.png", b"png", point="image.write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json", "requests-000.jsonl"]


@pytest.mark.parametrize("spec", ["write:ENOSPCX", "scribble:EIO", "image.write/scribble:EIO", "write#x:EIO"])
def test_a_bad_fault_spec_is_refused(spec: str, tmp_path: Path, faults: pytest.MonkeyPatch) -> None:
    faults.setenv(fsio.FAULT_ENV, spec)
    with pytest.raises(ValueError):
        fsio.replace_atomic(tmp_path / "a", b"1")


def test_a_streamed_write_that_fails_leaves_nothing(tmp_path: Path, faults: pytest.MonkeyPatch) -> None:
    faults.setenv(fsio.FAULT_ENV, "requests.write/fsync:ENOSPC")
    with pytest.raises(OSError) as caught, fsio.atomic_stream(tmp_path / "requests-000.jsonl",
                                                              point="requests.write") as f:
        f.write(b"line\n")
    assert caught.value.filename == str(tmp_path / "requests-000.jsonl")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("op", ["write", "fsync"])
def test_the_journal_append_failing_is_fatal_and_named(op: str, tmp_path: Path, faults: pytest.MonkeyPatch) -> None:
    from chargen_es import events as ev

    run_dir = tmp_path / ".chargen" / "batch" / "R1"
    with Journal.open(run_dir, create=True) as journal:
        journal.append(ev.RunResumed(pid=1, tool_version="t", from_seq=0))
        faults.setenv(fsio.FAULT_ENV, f"journal.append/{op}:EIO")
        with pytest.raises(LocalIOError) as caught:
            journal.append(ev.RunResumed(pid=1, tool_version="t", from_seq=1))
        assert isinstance(caught.value, DiskIOError) and caught.value.journal and journal.broken
        faults.delenv(fsio.FAULT_ENV)
        with pytest.raises(DiskIOError) as again:  # another task appending later gets the same named error
            journal.append(ev.RunResumed(pid=1, tool_version="t", from_seq=1))
        assert str(again.value) == str(caught.value) and again.value is not caught.value
    named = local_io_error(caught.value, root=tmp_path, resume="chargen-es resume R1 --root r")
    assert named is not None and ".chargen/batch/R1/journal.jsonl (Input/output error); the journal stops" in str(named)


def test_a_file_the_disk_cannot_hold_is_refused_before_a_byte_is_written(tmp_path: Path) -> None:
    target = fsio.temp_path(tmp_path / "results-000.jsonl")
    fsio.ensure_room(target, 1)
    st = os.statvfs(tmp_path)
    with pytest.raises(OSError) as caught:
        fsio.ensure_room(target, st.f_blocks * st.f_frsize + 1)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path / "results-000.jsonl")
    named = local_io_error(caught.value, root=tmp_path)
    assert isinstance(named, DiskFull) and " bytes needed, " in str(named) and " free); free space" in str(named)
    assert list(tmp_path.iterdir()) == []


def test_an_error_that_names_no_file_points_at_the_root(tmp_path: Path) -> None:
    named = local_io_error(OSError(errno.EIO, "Input/output error"), root=tmp_path, resume="chargen-es resume R")
    assert isinstance(named, DiskIOError)
    assert str(named).startswith(f"disk I/O error: a file (Input/output error); the disk holding {tmp_path} ")
