"""``chargen-es replay`` and ``chargen-es inspect`` through the real click group and error boundary."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.cli import cli
from chargen_es.cli.common import run_cli
from chargen_es.engine import runs_root as runs_dir
from chargen_es.journal import Journal
from tests.procs import run_child

SAMPLE = Path(__file__).parent / "data" / "sample_run"
SAMPLE_EVENTS = len((SAMPLE / "journal.jsonl").read_bytes().splitlines())  # grows as event types are added
RUN = "2025-12-19T12-00-00Z"
FILES = ("state.json", "files-cache.json", "report.json", "plan.json")
SAMPLE_EVENTS = len((SAMPLE / "journal.jsonl").read_bytes().splitlines())  # grows as event types are added


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A content root holding a copy of the committed sample run (journal only)."""
    target = runs_dir(tmp_path) / RUN
    target.mkdir(parents=True)
    shutil.copy(SAMPLE / "journal.jsonl", target / "journal.jsonl")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_cli(cli, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_replay_writes_the_expected_bytes_every_time(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = runs_dir(root) / RUN
    assert _run(capsys, "replay", RUN, "--root", str(root))[0] == 0
    first = {name: (folder / name).read_bytes() for name in FILES}
    assert first == {name: (SAMPLE / "expected" / name).read_bytes() for name in FILES}
    for name in FILES:
        (folder / name).unlink()
    code, out, _ = _run(capsys, "replay", RUN, "--root", str(root))
    assert code == 0 and f"replayed {SAMPLE_EVENTS} events" in out
    assert {name: (folder / name).read_bytes() for name in FILES} == first


def test_replay_check_names_a_hand_edited_state_json(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = runs_dir(root) / RUN
    _run(capsys, "replay", RUN, "--root", str(root))
    assert _run(capsys, "replay", RUN, "--check", "--root", str(root))[0] == 0
    state = json.loads((folder / "state.json").read_text())
    state["phase"] = "running"
    (folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    code, _, err = _run(capsys, "replay", RUN, "--check", "--root", str(root))
    assert code == 1
    assert f"{RUN}/state.json: differs from the journal" in err
    assert not any(name in err for name in FILES if name != "state.json")


def test_replay_check_names_a_missing_projection(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "replay", RUN, "--root", str(root))
    (runs_dir(root) / RUN / "plan.json").unlink()
    code, _, err = _run(capsys, "replay", RUN, "--check", "--root", str(root))
    assert code == 1 and f"{RUN}/plan.json: missing" in err


def test_replay_check_through_the_console_entry_point(root: Path) -> None:
    folder = runs_dir(root) / RUN
    run_child(["replay", RUN, "--root", str(root)], check=True)
    (folder / "state.json").write_bytes((folder / "state.json").read_bytes().replace(b'"completed"', b'"running"'))
    done = run_child(["replay", RUN, "--check", "--root", str(root)])
    assert done.returncode == 1
    assert "state.json" in done.stderr


def test_replay_until_prints_the_state_after_that_event(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "replay", RUN, "--until", "7", "--root", str(root))
    state = json.loads(out)
    assert code == 0 and state["seq"] == 7 and state["phase"] == "planned"
    assert state["counts"]["planned"] == 4 and state["counts"]["skipped"] == 1
    code, _, err = _run(capsys, "replay", RUN, "--until", "99", "--root", str(root))
    assert code == 2 and f"ends at seq {SAMPLE_EVENTS}" in err


def test_unknown_run_id_lists_the_runs_that_exist(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (("inspect", "nope"), ("replay", "nope")):
        code, _, err = _run(capsys, *argv, "--root", str(root))
        assert code == 1
        assert err.strip().count("\n") == 0, "one line"
        assert "no run 'nope'" in err and RUN in err


def test_inspect_lists_runs(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "inspect", "--root", str(root))
    assert code == 0
    assert RUN in out and "completed" in out and "3/1/1" in out and "$0.27" in out
    code, out, _ = _run(capsys, "inspect", "--json", "--root", str(root))
    rows = json.loads(out)
    assert [(r["id"], r["phase"], r["ok"], r["failed"], r["skipped"]) for r in rows] == [(RUN, "completed", 3, 1, 1)]


def test_inspect_run_shows_summary_chunks_and_failures(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "inspect", RUN, "--root", str(root))
    assert code == 0
    assert "phase     completed" in out and "batches/job-0" in out and "IMAGE_SAFETY" in out
    code, out, _ = _run(capsys, "inspect", RUN, "--failed", "--json", "--root", str(root))
    assert [f["code"] for f in json.loads(out)] == ["IMAGE_SAFETY"]


def test_inspect_events_filter_by_type_prefix_and_task(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "inspect", RUN, "--events", "--type", "job.", "--json", "--root", str(root))
    types = [json.loads(line)["type"] for line in out.splitlines()]
    assert code == 0 and types and all(t.startswith("job.") for t in types)
    assert "job.submitting" in types and "job.state_changed" in types
    key = "characters/bram/scene3@sha256:0000000000000003"
    code, out, _ = _run(capsys, "inspect", RUN, "--events", "--task", key, "--root", str(root))
    assert code == 0
    body = out.splitlines()[1:]
    assert [line.split()[2] for line in body] == ["task.planned", "item.failed", "call.started", "call.failed",
                                                 "call.started", "line.applied"]
    code, _, err = _run(capsys, "inspect", RUN, "--events", "--type", "job.nope", "--root", str(root))
    assert code == 2 and "matches no event type" in err


def test_inspect_reports_a_corrupt_journal_with_its_line(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = runs_dir(root) / RUN / "journal.jsonl"
    lines = journal.read_bytes().split(b"\n")
    lines[4] = lines[4].replace(b"characters", b"Characters", 1)
    journal.write_bytes(b"\n".join(lines))
    code, _, err = _run(capsys, "inspect", RUN, "--root", str(root))
    assert code == 1 and "journal.jsonl:5: checksum mismatch" in err


def test_follow_tails_a_live_run_until_it_ends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = runs_dir(tmp_path) / "live"
    journal = Journal.open(run_dir, create=True)
    journal.append(ev.RunStarted(run_id="live", tool_version="0", mode="generate", runner="live"))

    def writer() -> None:
        with journal:
            for i in range(3):
                time.sleep(0.05)
                journal.append(ev.CallStarted(key=f"k{i}", attempt=1))
            journal.append(ev.RunCompleted(ok=3, failed=0, skipped=0))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        code, out, _ = _run(capsys, "inspect", "live", "--follow", "--interval", "0.02", "--root", str(tmp_path))
    finally:
        thread.join(timeout=10)
    assert code == 0
    assert [line.split()[2] for line in out.splitlines()] == ["run.started"] + ["call.started"] * 3 + ["run.completed"]


def test_follow_reads_on_after_a_torn_tail_is_cut_and_overwritten(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = runs_dir(tmp_path) / "torn"
    with Journal.open(run_dir, create=True) as journal:
        journal.append(ev.RunStarted(run_id="torn", tool_version="0", mode="generate", runner="live"))
    with open(run_dir / "journal.jsonl", "ab") as f:  # what a SIGKILL mid-write leaves
        f.write(b'{"type":"call.started","seq":2,"at":"2030-01-01T00:00:00.000Z","key":"half')

    def resumer() -> None:
        time.sleep(0.15)
        with Journal.open(run_dir) as journal:  # cuts the torn tail, then writes past its old end
            journal.append(ev.CallStarted(key="k" * 200, attempt=1))
            journal.append(ev.RunCompleted(ok=1, failed=0, skipped=0))

    thread = threading.Thread(target=resumer)
    thread.start()
    try:
        code, out, _ = _run(capsys, "inspect", "torn", "--follow", "--interval", "0.02", "--root", str(tmp_path))
    finally:
        thread.join(timeout=10)
    assert code == 0
    assert [line.split()[2] for line in out.splitlines()] == ["run.started", "call.started", "run.completed"]


def test_replay_refuses_to_write_while_a_process_works_on_the_run(root: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = runs_dir(root) / RUN
    before = {name: (folder / name).read_bytes() if (folder / name).exists() else None
              for name in ("state.json", "report.json")}
    with Journal.open(folder):  # this process now holds run.lock, as a running `resume` would
        code, _, err = _run(capsys, "replay", RUN, "--root", str(root))
    assert code == 1 and f"pid {os.getpid()}" in err
    assert {name: (folder / name).read_bytes() if (folder / name).exists() else None for name in before} == before


def test_every_event_type_has_an_inspect_summary() -> None:
    """``inspect --events`` summarises every event of the union (a new one must be added)."""
    import typing

    from chargen_es.cli.inspect_cmd import SUMMARIES

    assert set(typing.get_args(ev.AnyEvent)) <= set(SUMMARIES)
