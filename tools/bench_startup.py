"""Start-up benchmark: ``chargen-es inspect`` on a small run against importing its three libraries.

``inspect`` is what a user types most and it never talks to Gemini, so it must start
about as fast as the libraries it really needs. The small run is the committed sample
journal (``tests/core/data/sample_run``) in a temp tree. Ours: a fresh
``python -m chargen_es inspect RUN --root TREE`` process. Baseline: a fresh
``python -c "import click, msgspec, yaml"``. Both are timed alternately in the same run
(so machine load hits both alike), ``--repeat`` times each, and the medians compared.
The last line is the ratio ours/baseline (goal <= 2.0).

    python tools/bench_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RUN = REPO / "tests" / "core" / "data" / "sample_run" / "journal.jsonl"
RUN_ID = "2025-12-19T12-00-00Z"


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / ".chargen" / "batch" / RUN_ID
        run_dir.mkdir(parents=True)
        shutil.copy(SAMPLE_RUN, run_dir / "journal.jsonl")
        ours_cmd = [sys.executable, "-m", "chargen_es", "inspect", RUN_ID, "--root", tmp]
        bare_cmd = [sys.executable, "-c", "import click, msgspec, yaml"]
        timed(ours_cmd, env)  # warm the page cache and the bytecode cache for both
        timed(bare_cmd, env)
        ours, bare = [], []
        for _ in range(args.repeat):
            ours.append(timed(ours_cmd, env))
            bare.append(timed(bare_cmd, env))
    t_ours, t_bare = statistics.median(ours), statistics.median(bare)
    print(f"python -c 'import click, msgspec, yaml': median {t_bare * 1000:.0f} ms of {args.repeat}")
    print(f"chargen-es inspect (sample run): median {t_ours * 1000:.0f} ms of {args.repeat}")
    print(f"ratio ours/baseline = {t_ours / t_bare:.2f}")


if __name__ == "__main__":
    main()
