"""The journal's refusals: each names the line and why, so a person can act on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.errors import JournalError
from chargen_es.journal import Journal, scan_bytes, seal_line
from tests.core.strategies import journal_bytes, stamp


def _journal(n: int) -> list[bytes]:
    events = stamp([ev.CallStarted(key=f"k{i}", attempt=1) for i in range(n)])
    return journal_bytes(events).splitlines(keepends=True)


def test_a_sealed_line_of_an_unknown_type_is_refused_with_its_line() -> None:
    lines = _journal(3)
    lines[1] = seal_line(b'{"type":"from.the.future","seq":2,"at":""}')
    with pytest.raises(JournalError, match=r"^journal.jsonl:2: undecodable event .* valid lines follow"):
        scan_bytes(b"".join(lines))
    with pytest.raises(JournalError, match=r"^journal.jsonl:2: undecodable event .* newer"):
        scan_bytes(b"".join(lines[:2]))


def test_lines_out_of_order_are_refused() -> None:
    lines = _journal(4)
    lines[1], lines[2] = lines[2], lines[1]
    with pytest.raises(JournalError, match=r"^journal.jsonl:2: seq 3 where 2 was expected"):
        scan_bytes(b"".join(lines))


def test_a_torn_last_line_is_not_an_error() -> None:
    lines = _journal(3)
    data = b"".join(lines)
    scan = scan_bytes(data[:-5])
    assert [e.seq for e in scan.events] == [1, 2]
    assert scan.valid_bytes == len(lines[0]) + len(lines[1])
    assert scan.tail_bytes == len(lines[2]) - 5


def test_an_uppercased_checksum_digit_counts_as_damage() -> None:
    lines = _journal(20)
    i = next(i for i, line in enumerate(lines[:-1]) if line[-11:-3] != line[-11:-3].upper())
    lines[i] = lines[i][:-11] + lines[i][-11:-3].upper() + lines[i][-3:]
    with pytest.raises(JournalError, match=rf"^journal.jsonl:{i + 1}: checksum mismatch"):
        scan_bytes(b"".join(lines))


def test_a_journal_with_converted_line_endings_is_refused_not_cut(tmp_path: Path) -> None:
    """CRLF on every line makes every line 'bad'; cutting them all would erase the run."""
    run = tmp_path / "run"
    with Journal.open(run, create=True) as journal:
        journal.append_many([ev.TaskSkipped(key=f"k{n}", reason="done") for n in range(3)])
    path = run / "journal.jsonl"
    original = path.read_bytes()
    path.write_bytes(original.replace(b"\n", b"\r\n"))
    with pytest.raises(JournalError, match=r"journal.jsonl:1: .*line endings"):
        Journal.open(run)
    assert path.read_bytes() == original.replace(b"\n", b"\r\n"), "nothing was cut"
