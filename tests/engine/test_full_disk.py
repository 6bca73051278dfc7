"""A real full disk: a small tmpfs fills up during the download, then during the apply.

No fault hook here: the tree lives on a 16 MiB tmpfs mounted for the test, and a ballast
file (``posix_fallocate``) leaves just so much space free. The emulator pads every image
to 100 kB and one chunk holds every task, so the one results file (about 2.3 MB) is
downloaded before anything is applied and each phase's need is known:

1. ``run --detach`` submits the job with room to spare;
2. 256 KiB free: ``resume`` stops before the download (the results file's size is known
   from the response), named (``disk full, cannot write:
   .chargen/batch/<run>/results-000.jsonl (N bytes needed, M free)``, free space, the exact
   resume command), and no results file is visible;
3. room for the results file plus 512 KiB (less than the 1.7 MB of images): the printed
   command downloads, then ends on the apply, named with an output file;
4. ballast removed: the printed command ends exactly as an uninterrupted run.

The same tmpfs remounted read-only shows a real ``EROFS``: the resume's first write (the
run's lock) is named, and the same command continues once the disk is writable again.

Mounting needs root (CAP_SYS_ADMIN), as CI has (``.ci/run`` checks it before the suite):
where it is impossible the test fails and says why; it is never skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    named_error,
    outputs,
    resume_as_printed,
    run_args,
    temp_files,
)
from tests.procs import run_child

DISK = "16m"
ONE_CHUNK = ("--chunk-size", "100")


def emulator() -> Emulator:
    return Emulator(EmulatorConfig(job_seconds=0.0, seed=7, image_bytes=100_000))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``DISK`` mounted for this test, unmounted after it."""
    point = tmp_path / "disk"
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0755", "tmpfs", str(point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a {DISK} tmpfs at {point} ({mounted.stderr.strip() or mounted.returncode}): "
                    f"the real full-disk test needs root (CAP_SYS_ADMIN), as CI runs it; it is not skipped")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def leave_free(disk: Path, free: int) -> None:
    """Fill ``disk`` with one ballast file until about ``free`` bytes are left."""
    ballast = disk / "ballast"
    ballast.unlink(missing_ok=True)
    st = os.statvfs(disk)
    size = st.f_bavail * st.f_frsize - free
    assert size > 0, f"only {st.f_bavail * st.f_frsize} bytes free on {disk}, wanted {free} left"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)


def reference_run(folder: Path) -> tuple[dict[str, str], int]:
    """An uninterrupted run on an ordinary disk: its outputs and its results file's size."""
    root = copy_sample(folder)
    with emulator() as emu:
        # the results file is kept here only to learn its size (a run deletes it once applied)
        done = chargen(root, emu.base_url, *run_args(*ONE_CHUNK, "--keep-results"))
        assert done.returncode == 0, done.stdout + done.stderr
    results = root / ".chargen" / "batch" / RUN_ID / "results-000.jsonl"
    return outputs(root), results.stat().st_size


def test_a_full_disk_during_download_and_apply_is_named_and_resumed_exactly(small_disk: Path,
                                                                             tmp_path: Path) -> None:
    reference, results_bytes = reference_run(tmp_path / "reference")
    root = copy_sample(small_disk / "tree")
    before = outputs(root)  # the sample's own reference images
    assert len(reference) == len(before) + 17 and results_bytes > 1 << 20
    run_dir = root / ".chargen" / "batch" / RUN_ID
    with emulator() as emu:
        submitted = chargen(root, emu.base_url, *run_args(*ONE_CHUNK, "--detach"))
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr

        leave_free(small_disk, 256 << 10)
        download = chargen(root, emu.base_url, "resume", RUN_ID)
        assert download.returncode == 1, download.stdout + download.stderr
        line = named_error(download.stderr)
        # the results file's size is known before the download: it stops before starting
        assert line.startswith(f"disk full, cannot write: .chargen/batch/{RUN_ID}/results-000.jsonl "
                               f"({results_bytes:,} bytes needed, "), line
        assert " free); free space on the disk holding " in line, line
        assert line.endswith(f"then continue with `chargen-es resume {RUN_ID} --root {root} "
                             f"--base-url {emu.base_url}`"), line
        assert not (run_dir / "results-000.jsonl").exists(), "a partial results file is visible"
        assert outputs(root) == before

        leave_free(small_disk, results_bytes + (512 << 10))
        apply = resume_as_printed(line)
        assert apply.returncode == 1, apply.stdout + apply.stderr
        line = named_error(apply.stderr)
        assert line.startswith("disk full, cannot write: "), line
        file = line.removeprefix("disk full, cannot write: ").split(" (", 1)[0]
        assert file.split("/")[0] in ("characters", "locations", "chapters"), f"not an output: {line}"
        assert line.endswith(f"`chargen-es resume {RUN_ID} --root {root} --base-url {emu.base_url}`"), line
        events = read_events(run_dir / "journal.jsonl")
        assert any(isinstance(e, ev.ResultsDownloaded) for e in events), "the download did not finish first"
        failed = events[-1]
        assert isinstance(failed, ev.RunFailed) and failed.code == "DiskFull" and failed.message == line
        for path, digest in outputs(root).items():
            assert reference[path] == digest, f"{path} is visible half-written"

        (small_disk / "ballast").unlink()
        done = resume_as_printed(line)
        assert done.returncode == 0, done.stdout + done.stderr
        assert_exactly_once(root, emu.stats(), reference)
        assert temp_files(root) == []


def test_a_disk_remounted_read_only_is_named_and_the_same_command_continues(small_disk: Path,
                                                                            tmp_path: Path) -> None:
    reference, _ = reference_run(tmp_path / "reference")
    root = copy_sample(small_disk / "tree")
    with emulator() as emu:
        submitted = chargen(root, emu.base_url, *run_args(*ONE_CHUNK, "--detach"))
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        try:
            refused = chargen(root, emu.base_url, "resume", RUN_ID)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        line = named_error(refused.stderr)
        # the first write of a resume is taking the run's lock
        assert line.startswith(f"read-only file system, cannot write: .chargen/batch/{RUN_ID}/run.lock "
                               "(Read-only file system); remount the file system holding "), line
        assert line.endswith("then run the same command again"), line
        done = chargen(root, emu.base_url, "resume", RUN_ID)
        assert done.returncode == 0, done.stdout + done.stderr
        assert_exactly_once(root, emu.stats(), reference)
        assert temp_files(root) == []


def test_with_the_embedded_emulator_on_the_same_full_disk_the_runs_error_is_the_one_shown(
        small_disk: Path, tmp_path: Path) -> None:
    """``--emulator`` keeps its state under ``.chargen/emulator`` on the same disk: saving it
    as the invocation ends fails too, and must not replace the run's own named line."""
    env = {**os.environ, "GEMINI_API_KEY": ""}
    fast = ["--emulator", "--emulator-job-seconds", "0", "--poll-interval", "0.05"]
    # sizes on an ordinary disk first: the emulator's results file (kept) and the outputs
    measured = copy_sample(tmp_path / "measured")
    done = run_child(["run", "--yes", "--run-id", RUN_ID, "--keep-results", "--root", str(measured), *fast], env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    results_bytes = (measured / ".chargen" / "batch" / RUN_ID / "results-000.jsonl").stat().st_size
    outputs_bytes = sum((measured / p).stat().st_size for p in outputs(measured))
    root = copy_sample(small_disk / "tree")
    flags = ["--root", str(root), *fast]
    submitted = run_child(["run", "--yes", "--run-id", RUN_ID, "--detach", *flags], env=env)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    # room for the emulator's results file and its download, the journal and the index; not
    # for the outputs (an emulator that cannot store its results would answer 500 until freed)
    leave_free(small_disk, 2 * results_bytes + (64 << 10) + outputs_bytes // 2)
    full = run_child(["resume", RUN_ID, *flags], env=env)
    assert full.returncode == 1, full.stdout + full.stderr
    line = named_error(full.stderr)
    assert line.startswith("disk full, cannot write: "), line
    assert line.endswith(f"then continue with `chargen-es resume {RUN_ID} --root {root} --emulator`"), line
    (small_disk / "ballast").unlink()
    done = resume_as_printed(line)
    assert done.returncode == 0, done.stdout + done.stderr
    events = read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")
    assert isinstance(events[-1], ev.RunCompleted)
    applied = [e.key for e in events if isinstance(e, ev.LineApplied)]
    assert len(applied) == len(set(applied)) == 17
    assert temp_files(root) == []
