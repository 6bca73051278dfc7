"""Tables keep identifiers whole on a real terminal: run ids in ``inspect`` and ``stats``,
task keys in ``inspect RUN --failed``; other columns wrap or are left out first (a line
names them). Each command runs on a pseudo-terminal of the stated width (no COLUMNS)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pexpect

from chargen_es.engine import runs_root
from chargen_es.journal import read_events
from chargen_es.run_folders import list_runs
from projections import project
from projections.report import failures
from tests.procs import spawn_on_terminal

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SAMPLE = Path(__file__).parents[1] / "core" / "data" / "sample_run"
SAMPLE_RUN = "2025-12-19T12-00-00Z"


def on_terminal(columns: int, *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES") and not k.startswith("CHARGEN_ES_")}
    env.update({"TERM": "xterm-256color", "NO_COLOR": "1"})
    child = spawn_on_terminal(args, env=env, dimensions=(50, columns), timeout=60)
    child.expect(pexpect.EOF)
    text = ANSI.sub("", child.before)
    child.close()
    assert child.exitstatus == 0, text
    return [line.rstrip() for line in text.replace("\r", "").splitlines()]


def test_inspect_and_stats_keep_run_ids_whole_at_80_columns(demo_tree: Path) -> None:
    ids = list_runs(demo_tree)
    for command in ("inspect", "stats"):
        lines = on_terminal(80, command, "--root", str(demo_tree))
        assert max(len(line) for line in lines) <= 80, "\n".join(lines)
        for run_id in ids:
            assert any(f"│ {run_id} │" in line for line in lines), (command, run_id, "\n".join(lines))
        assert any(line.startswith("(not shown at 80 columns: ") for line in lines)


def test_a_wide_terminal_shows_every_column(demo_tree: Path) -> None:
    lines = on_terminal(200, "stats", "--root", str(demo_tree))
    assert any("429s" in line for line in lines) and not any("not shown" in line for line in lines)


def test_failed_keys_stay_whole_on_a_narrow_terminal(tmp_path: Path) -> None:
    run_dir = runs_root(tmp_path) / SAMPLE_RUN
    run_dir.mkdir(parents=True)
    shutil.copy(SAMPLE / "journal.jsonl", run_dir / "journal.jsonl")
    failed = {f["key"] for f in failures(project(read_events(run_dir / "journal.jsonl")))}
    assert failed
    lines = on_terminal(60, "inspect", SAMPLE_RUN, "--failed", "--root", str(tmp_path))
    assert max(len(line) for line in lines) <= 60, "\n".join(lines)
    for key in failed:
        assert any(key in line for line in lines), (key, "\n".join(lines))
