"""Durable-append benchmark: our journal against a bare ``os.write`` + ``fsync`` loop.

Both write the *same bytes* (the sealed lines our journal produced) to files in the same
temp folder, one line per ``fsync``, alternating every 50 appends so disk noise hits both alike.
Ours includes everything an append does: stamping ``seq``/``at``, encoding, the CRC, the
write and the fsync. Group commit (100 events per ``fsync``) is reported in events/s.
The last line is the ratio ours/bare for one event per fsync (target >= 0.8).

    python tools/bench_journal.py [--events 2000] [--rounds 3] [--dir DIR]

``--dir`` should be on the disk you care about (the default is a temp folder under the
current directory, not /tmp, which may be a RAM file system where fsync is free).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from chargen_es import events as ev
from chargen_es.journal import JOURNAL_NAME, Journal


def sample_events(n: int) -> list[ev.Event]:
    """Realistic mid-run events: applied lines with an output and usage."""
    return [
        ev.LineApplied(
            key=f"characters/c{i // 20}/scene{i % 20}@sha256:{i:016x}", chunk=i // 500,
            outputs=(ev.Output(path=f"characters/c{i // 20}/images/scene{i % 20}-20251219T120000Z.png",
                               sha256=f"{i:064x}", bytes=1_400_000, mime="image/png"),),
            files_updated=(f"characters/c{i // 20}/imagery.yaml",),
            usage=ev.Usage(prompt_tokens=300, output_tokens=1290, total_tokens=1590),
        )
        for i in range(n)
    ]


def sealed_lines(run_dir: Path, events: list[ev.Event]) -> list[bytes]:
    """The exact bytes our journal writes for these events (group-committed, untimed)."""
    with Journal.open(run_dir, create=True) as journal:
        journal.append_many(events)
    return (run_dir / JOURNAL_NAME).read_bytes().splitlines(keepends=True)


def interleaved(folder: Path, events: list[ev.Event], lines: list[bytes], block: int) -> tuple[float, float]:
    """Time ours and bare in alternating blocks of ``block`` appends; return (ours, bare) seconds."""
    t_ours = t_bare = 0.0
    fd = os.open(folder / "bare.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        with Journal.open(folder / "ours", create=True) as journal:
            append = journal.append
            write, fsync, clock = os.write, os.fsync, time.perf_counter
            for i in range(0, len(events), block):
                t0 = clock()
                for e in events[i : i + block]:
                    append(e)
                t1 = clock()
                for line in lines[i : i + block]:
                    write(fd, line)
                    fsync(fd)
                t2 = clock()
                t_ours += t1 - t0
                t_bare += t2 - t1
    finally:
        os.close(fd)
    return t_ours, t_bare


def ours_group(run_dir: Path, events: list[ev.Event], size: int) -> float:
    with Journal.open(run_dir, create=True) as journal:
        t0 = time.perf_counter()
        for i in range(0, len(events), size):
            journal.append_many(events[i : i + size])
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--block", type=int, default=50, help="appends per turn when alternating")
    parser.add_argument("--group", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=Path("."))
    args = parser.parse_args()
    events = sample_events(args.events)
    t_ours = t_bare = 0.0
    with tempfile.TemporaryDirectory(prefix=".bench-journal-", dir=args.dir) as tmp:
        folder = Path(tmp)
        lines = sealed_lines(folder / "prep", events)
        for r in range(args.rounds):
            (folder / f"round-{r}").mkdir()
            ours, bare = interleaved(folder / f"round-{r}", events, lines, args.block)
            t_ours += ours
            t_bare += bare
        t_group = ours_group(folder / "group", sample_events(args.events * 10), args.group)
    total = args.events * args.rounds
    ours_rate, bare_rate = total / t_ours, total / t_bare
    print(f"folder: {Path(args.dir).resolve()} ({args.rounds} rounds x {args.events} events each, "
          f"alternating every {args.block})")
    print(f"bare os.write + fsync: {bare_rate:,.0f} lines/s")
    print(f"journal append (one event per fsync): {ours_rate:,.0f} events/s")
    print(f"journal group commit ({args.group} per fsync): {args.events * 10 / t_group:,.0f} events/s")
    print(f"ratio ours/bare = {ours_rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
