"""The journal's follow API: incremental reading under the same rules as ``read_events``."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.errors import JournalError
from chargen_es.journal import JOURNAL_NAME, Follower, Journal, follow, read_events


def _journal(tmp_path: Path) -> Journal:
    journal = Journal.open(tmp_path / "run", create=True)
    journal.append(ev.RunStarted(run_id="r", tool_version="0", mode="generate", runner="live"))
    return journal


def test_each_poll_returns_only_what_was_appended_since(tmp_path: Path) -> None:
    with _journal(tmp_path) as journal:
        follower = Follower(journal.path)
        assert [e.seq for e in follower.poll()] == [1]
        assert follower.poll() == []
        journal.append_many([ev.CallStarted(key=f"k{i}", attempt=1) for i in range(3)])
        assert [e.seq for e in follower.poll()] == [2, 3, 4]
        assert follower.offset == journal.path.stat().st_size and follower.pending_bytes == 0
    assert read_events(journal.path) == journal.events


def test_a_torn_tail_is_waited_on_then_read_as_the_next_writer_left_it(tmp_path: Path) -> None:
    with _journal(tmp_path) as journal:
        path = journal.path
    with open(path, "ab") as f:  # a SIGKILL mid-write
        f.write(b'{"type":"call.started","seq":2,"at":"2030-01-01T00:00:00.000Z","key":"half')
    follower = Follower(path)
    assert [e.seq for e in follower.poll()] == [1]
    assert follower.pending_bytes > 0
    with Journal.open(path.parent) as journal:  # cuts the torn tail, then writes past its old end
        journal.append(ev.CallStarted(key="k" * 200, attempt=1))
    assert [(e.seq, e.key) for e in follower.poll() if isinstance(e, ev.CallStarted)] == [(2, "k" * 200)]
    assert follower.pending_bytes == 0


def test_damage_in_the_new_bytes_names_the_line_by_its_seq(tmp_path: Path) -> None:
    with _journal(tmp_path) as journal:
        follower = Follower(journal.path)
        follower.poll()
        journal.append_many([ev.CallStarted(key=f"k{i}", attempt=1) for i in range(3)])
    data = bytearray(journal.path.read_bytes())
    lines = data.split(b"\n")
    lines[2] = lines[2].replace(b'"k1"', b'"kX"')  # seq 3, followed by the valid seq 4
    journal.path.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match=rf"^{JOURNAL_NAME}:3: checksum mismatch .* valid lines follow"):
        follower.poll()
    with pytest.raises(JournalError, match=rf"^{JOURNAL_NAME}:3: checksum mismatch"):
        read_events(journal.path)


def test_a_gap_in_seq_across_polls_is_refused(tmp_path: Path) -> None:
    with _journal(tmp_path) as journal:
        follower = Follower(journal.path)
        follower.poll()
        journal.append(ev.CallStarted(key="a", attempt=1))
        second = journal.path.read_bytes().split(b"\n")[1]
    with open(journal.path, "ab") as f:  # the same line copied in again
        f.write(second + b"\n")
    with pytest.raises(JournalError, match=rf"^{JOURNAL_NAME}:3: seq 2 where 3 was expected"):
        follower.poll()
    with pytest.raises(JournalError, match=rf"^{JOURNAL_NAME}:3: seq 2 where 3 was expected"):
        read_events(journal.path)


def test_a_journal_that_shrinks_below_what_was_read_is_refused(tmp_path: Path) -> None:
    with _journal(tmp_path) as journal:
        journal.append(ev.CallStarted(key="a", attempt=1))
        follower = Follower(journal.path)
        follower.poll()
    journal.path.write_bytes(journal.path.read_bytes().split(b"\n")[0] + b"\n")
    with pytest.raises(JournalError, match=r"journal.jsonl:2: the journal is shorter"):
        follower.poll()


def test_follow_ends_on_until_only_when_that_event_is_the_newest(tmp_path: Path) -> None:
    with _journal(tmp_path) as journal:
        journal.append(ev.RunPaused(reason="interrupted"))
        journal.append(ev.RunResumed(pid=1, tool_version="0", from_seq=2))
        journal.append(ev.RunCompleted(ok=0, failed=0, skipped=0))
    got = list(follow(journal.path, interval=0.01, until=lambda e: isinstance(e, ev.RunPaused | ev.RunCompleted)))
    assert [ev.type_name(e) for e in got] == ["run.started", "run.paused", "run.resumed", "run.completed"]
