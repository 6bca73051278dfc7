"""A child process for the crash and lock tests (run as a script, not collected).

``append RUN_DIR SEED``: open the journal and append forever, mixing single appends and
group commits, writing each acknowledged (durable) seq to stdout as soon as the append
returns. The parent SIGKILLs it at a random moment.

``hold RUN_DIR``: open the journal (taking run.lock), print ``locked``, and keep it until
stdin closes.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from chargen_es import events as ev
from chargen_es.journal import Journal


def append_forever(run_dir: Path, seed: int) -> None:
    rng = random.Random(seed)
    with Journal.open(run_dir, create=True) as journal:
        os.write(1, b"ready %d\n" % journal.last_seq)
        while True:
            n = 1 if rng.random() < 0.5 else rng.randint(2, 40)
            batch = [
                ev.LineApplied(key=f"k{rng.random()}", chunk=rng.randint(0, 9),
                               files_updated=("x" * rng.randint(0, 3000),))
                for _ in range(n)
            ]
            stamped = journal.append_many(batch)
            os.write(1, b"".join(b"%d\n" % e.seq for e in stamped))


def hold(run_dir: Path) -> None:
    with Journal.open(run_dir, create=True):
        sys.stdout.write("locked\n")
        sys.stdout.flush()
        sys.stdin.read()


if __name__ == "__main__":
    if sys.argv[1] == "append":
        append_forever(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        hold(Path(sys.argv[2]))
