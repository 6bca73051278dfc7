"""Start-up benchmark: ``chargen-es inspect`` on a small run and ``chargen-es --help``
against importing their three libraries.

``inspect`` is what a user types most and ``--help`` the first thing a new one types;
neither talks to Gemini, so each must start about as fast as the libraries it really
needs. The small run is the committed sample journal (``tests/core/data/sample_run``) in
a temp tree. Ours: fresh ``python -m chargen_es inspect RUN --root TREE`` and
``python -m chargen_es --help`` processes. Baseline: a fresh
``python -c "import click, msgspec, yaml"``. All are timed in turn in the same run (so
machine load hits them alike), ``--repeat`` times each, and the medians compared. The
last line is the larger of the two ratios ours/baseline (goal <= 2.0 for each).

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
        commands = {
            "bare": [sys.executable, "-c", "import click, msgspec, yaml"],
            "inspect": [sys.executable, "-m", "chargen_es", "inspect", RUN_ID, "--root", tmp],
            "--help": [sys.executable, "-m", "chargen_es", "--help"],
        }
        for cmd in commands.values():  # warm the page cache and the bytecode caches
            timed(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, env))
    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"python -c 'import click, msgspec, yaml': median {median['bare'] * 1000:.0f} ms of {args.repeat}")
    ratios = {}
    for name in ("inspect", "--help"):
        ratios[name] = median[name] / median["bare"]
        print(f"chargen-es {name}: median {median[name] * 1000:.0f} ms of {args.repeat}, "
              f"ratio {ratios[name]:.2f}")
    print(f"ratio ours/baseline = {max(ratios.values()):.2f} (the slower of inspect {ratios['inspect']:.2f} "
          f"and --help {ratios['--help']:.2f})")


if __name__ == "__main__":
    main()
