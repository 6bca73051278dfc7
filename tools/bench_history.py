"""A long history must not slow the next run: 100 earlier runs of 1,000 tasks vs none.

Two copies of one generated content tree (about 1,000 scenes): one with no runs, one with
100 earlier runs of 1,000 tasks each. The earlier runs' journals are written
synthetically (the real plan's tasks, uploads, a job, every line applied, clean-up,
completed; sealed lines through the journal's own encoder), which takes seconds instead
of 100 real runs. Each tree's workspace index is built once first (that cold build is
reported apart: it happens once per tree, then only new journal bytes are read). Then,
interleaving the two trees, each command is timed as a real child process, wall clock:

- ``run --dry-run --only <one entity>`` (planning start: index, history, unfinished runs);
- ``run --yes --emulator --force --only <one entity>`` (a one-entity run end to end on the
  embedded emulator);
- ``inspect`` (the runs table).

    python tools/bench_history.py [--runs 100] [--entities 167] [--repeat 5]

Budget: each history/none ratio (medians) <= 1.2. The last line is the worst ratio.
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

import msgspec

from chargen_es import events as ev
from chargen_es.journal import seal_line
from chargen_es.planner import PlanOptions, build_plan

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.bench_plan import make_tree  # noqa: E402

_ENC = msgspec.json.Encoder()


def write_history(root: Path, runs: int) -> int:
    """``runs`` synthetic completed runs of the tree's whole plan; returns journal bytes."""
    plan = build_plan(PlanOptions(root=root, run_stamp="20300101T000000Z", force=True))
    refs = {r.sha256: r for t in plan.tasks for r in t.references}
    total = 0
    for n in range(runs):
        # in the past, so their uploads have expired and are never offered for reuse (they
        # exist on no server)
        run_id = f"2025-01-{1 + n // 24:02d}T{n % 24:02d}-00-00Z"
        at = f"{run_id[:13]}:00:00.000Z"
        expires = f"{run_id[:8]}{int(run_id[8:10]) + 2:02d}T00:00:00Z"
        body: list[ev.Event] = [
            ev.RunStarted(run_id=run_id, tool_version="bench", mode="generate", runner="batch", config=plan.config),
            *(ev.TaskPlanned(task=t) for t in plan.tasks),
            ev.PlanSealed(tasks=len(plan.tasks), skipped=0, chunks=plan.chunks, plan_sha256="0" * 64,
                          estimated_cost_usd=plan.estimate.batch_usd, live_cost_usd=plan.estimate.live_usd),
        ]
        for i, (sha, ref) in enumerate(refs.items()):
            body.append(ev.UploadCompleted(purpose="reference", path=ref.path, sha256=sha, size=ref.size,
                                           mime=ref.mime, display_name=f"chargen-es:{sha}",
                                           name=f"files/r{n}-{i}", uri=f"https://x/files/r{n}-{i}", expires=expires))
        body += [
            ev.RequestsWritten(chunk=0, path="requests-000.jsonl", sha256="1" * 64, lines=len(plan.tasks)),
            ev.JobSubmitting(chunk=0, display_name=f"chargen-es:{run_id}:0:1", attempt=1),
            ev.JobSubmitted(chunk=0, job_name=f"batches/b{n}", display_name=f"chargen-es:{run_id}:0:1"),
            ev.JobStateChanged(chunk=0, job_name=f"batches/b{n}", state="SUCCEEDED", output_file=f"files/o{n}"),
            ev.ResultsDownloaded(chunk=0, path="results-000.jsonl", sha256="2" * 64, bytes=1, lines=len(plan.tasks)),
        ]
        body += [ev.LineApplied(key=t.key, chunk=t.chunk, usage=ev.Usage(prompt_tokens=300, output_tokens=1290),
                                outputs=(ev.Output(path=f"{t.output_dir}/{t.output_stem}.png", sha256="3" * 64,
                                                   bytes=1000, mime="image/png"),))
                 for t in plan.tasks]
        body += [ev.FilesDeleted(names=(f"files/o{n}",), jobs=(f"batches/b{n}",)),
                 ev.RunCompleted(ok=len(plan.tasks), failed=0, skipped=0)]
        data = b"".join(seal_line(_ENC.encode(msgspec.structs.replace(e, seq=i, at=at)))
                        for i, e in enumerate(body, 1))
        folder = root / ".chargen" / "batch" / run_id
        folder.mkdir(parents=True)
        (folder / "journal.jsonl").write_bytes(data)
        total += len(data)
    return total


def timed(root: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "chargen_es", *args, "--root", str(root)], env=env,
                          capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"chargen-es {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--entities", type=int, default=167, help="167 entities x 6 scenes ~ 1,000 tasks")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-", dir=os.environ.get("BENCH_TMP")) as tmp:
        none, history = Path(tmp) / "none", Path(tmp) / "history"
        none.mkdir()
        make_tree(none, args.entities)
        shutil.copytree(none, history)
        t0 = time.perf_counter()
        size = write_history(history, args.runs)
        print(f"history: {args.runs} runs, {size / 1e6:.0f} MB of journals written in {time.perf_counter() - t0:.1f} s")
        for tree in (none, history):  # the one cold index build per tree
            cold = timed(tree, "inspect")
            print(f"{tree.name}: first inspect (builds the index) {cold:.2f} s")
        one = "character-00000"
        commands = {
            "run --dry-run (one entity)": lambda n: ("run", "--dry-run", "--only", one),
            "run on the emulator (one entity)": lambda n: (
                "run", "--yes", "--emulator", "--force", "--only", one, "--run-id", f"2031-01-01T00-00-{n:02d}Z",
                "--poll-interval", "0.05", "--emulator-job-seconds", "0.2"),
            "inspect": lambda n: ("inspect",),
        }
        worst = 0.0
        for name, argv in commands.items():
            times: dict[str, list[float]] = {"none": [], "history": []}
            for n in range(args.repeat):
                for tree in (none, history) if n % 2 == 0 else (history, none):
                    times[tree.name].append(timed(tree, *argv(n)))
            a, b = statistics.median(times["none"]), statistics.median(times["history"])
            ratio = b / a
            worst = max(worst, ratio)
            print(f"{name:<34} none {a:.3f} s  history {b:.3f} s  ratio {ratio:.2f} (budget 1.20)")
    print(f"ratio history/none (worst): {worst:.2f}")


if __name__ == "__main__":
    main()
