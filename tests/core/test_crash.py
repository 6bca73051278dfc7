"""Real processes, real SIGKILL: every acknowledged append survives, the journal stays valid."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chargen_es.errors import RunLocked
from chargen_es.journal import Journal

CHILD = Path(__file__).with_name("journal_child.py")
KILLS = 24


@pytest.mark.slow
def test_sigkilled_appender_never_loses_an_acknowledged_event(tmp_path: Path) -> None:
    rng = random.Random(20251219)
    run = tmp_path / "run"
    durable = 0
    for round_no in range(KILLS):
        with subprocess.Popen([sys.executable, str(CHILD), "append", str(run), str(round_no)],
                              stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # wait until the journal is open and recovered
            assert first.startswith(b"ready "), first
            # killed after a random number of acknowledged appends, not after a random time:
            # on a fast file system a time would let the journal grow without bound
            seen = [proc.stdout.readline() for _ in range(rng.randint(1, 300))]
            time.sleep(rng.uniform(0.0, 0.002))
            proc.send_signal(signal.SIGKILL)
            rest = b"".join(seen) + proc.stdout.read()
        assert proc.returncode == -signal.SIGKILL
        start = int(first.split()[1])
        assert start == durable, "a restart sees exactly what was durable before the kill"
        acked = [int(x) for x in rest.split(b"\n")[:-1]]  # the part after the last newline may be cut
        with Journal.open(run) as journal:
            seqs = [e.seq for e in journal.events]
        assert seqs == list(range(1, len(seqs) + 1)), "seq is contiguous from 1"
        assert set(acked) <= set(seqs), "every acknowledged seq is in the journal"
        assert not acked or acked == list(range(start + 1, acked[-1] + 1))
        durable = len(seqs)
    assert durable > 0


def test_second_process_on_a_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with subprocess.Popen([sys.executable, str(CHILD), "hold", str(run)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(RunLocked, match=rf"pid {holder.pid}\b"):
            Journal.open(run)
        holder.stdin.close()
        holder.wait(timeout=10)
    with Journal.open(run) as journal:  # released when the holder exits
        assert journal.last_seq == 0
