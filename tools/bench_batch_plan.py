"""Batch-service plan benchmark: ``plan_batch`` (MCP) / ``POST /api/plans`` (HTTP) as the
service now makes it, against the child process it used to start.

Ours: ``Batches.plan`` on the sample batch's three kinds of item (generate, derive,
compose), which writes the batch file and plans it in process with the cli's dry run
(``cli.run_cmd.batch_file_plan``). Baseline: the same batch file planned by
``python -m chargen_es run --batch-file F --dry-run --json`` in a child, what every plan
cost before. The first of each is untimed, then ``--repeat`` of each in turn and the
medians compared. The last line is the ratio ours/baseline (below 1 is faster).

    python tools/bench_batch_plan.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchkit import medians, report

from chargen_es.cli.run_cmd import batch_file_plan
from chargen_es.dashboard.batches import Batches, batch_text, parse_items
from chargen_es.planner import sample_batch

ITEMS = [
    {"name": "portrait", "type": "generate", "prompt": "Ada at the harbor."},
    {"name": "older", "type": "derive", "prompt": "Twenty years older.", "references": ["refs/ada-face.png"]},
    {"name": "together", "type": "compose", "prompt": "Ada on the map.",
     "references": ["refs/ada-face.png", "refs/harbor-map.png"]},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "studio"
        shutil.copytree(sample_batch(), root)
        batches = Batches(root, batch_file_plan)
        text, _ = batch_text("bench", parse_items(ITEMS))
        path = root / "bench.json"
        path.write_text(text)

        def ours() -> None:
            assert batches.plan("bench", ITEMS)["problems"] == []

        def bare() -> None:
            subprocess.run([sys.executable, "-m", "chargen_es", "run", "--batch-file", str(path), "--dry-run",
                            "--json", "--root", str(root)], check=True, capture_output=True)

        a, b = medians(ours, bare, args.repeat)
    report("dry run in a child process (before)", "Batches.plan in process", a, b, args.repeat, digits=1)


if __name__ == "__main__":
    main()
