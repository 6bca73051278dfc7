"""The menu's resume list fits the terminal and never cuts a run id."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chargen_es.cli.menu import run_progress

SAMPLE = Path(__file__).resolve().parents[1] / "core" / "data" / "sample_run" / "journal.jsonl"
RUN_ID = "2030-01-01T00-00-00Z-7"


@pytest.mark.parametrize("columns", [200, 60, 20])
def test_a_resume_line_fits_the_terminal_and_keeps_its_run_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              columns: int) -> None:
    run_dir = tmp_path / ".chargen" / "batch" / RUN_ID
    run_dir.mkdir(parents=True)
    shutil.copyfile(SAMPLE, run_dir / "journal.jsonl")
    monkeypatch.setenv("COLUMNS", str(columns))  # what shutil.get_terminal_size reads first
    line = run_progress(tmp_path, RUN_ID)
    assert line.startswith(RUN_ID) and line[len(RUN_ID)] in " …", line  # the id whole, then a gap or the cut
    if columns == 200:
        assert not line.endswith("…") and " ok, " in line
    else:
        assert len(line) <= max(columns - 4, len(RUN_ID) + 2) and line.endswith("…")
