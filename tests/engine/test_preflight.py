"""Pre-flight: a model the service does not have is refused before anything is uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine.harness import RUN_ID, chargen, copy_sample, run_args

MISSING = "gemini-0-nonexistent-image"  # unknown to the catalogue, so the planner lets it through


def with_model(root: Path, model: str) -> Path:
    config = root / "chargen.yaml"
    text = config.read_text()
    assert "generate: gemini-" in text
    config.write_text("\n".join(f"  generate: {model}" if line.startswith("  generate:") else line
                                for line in text.splitlines()) + "\n")
    return root


def journal_tags(root: Path) -> list[str]:
    return [ev.type_name(e) for e in read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")]


@pytest.mark.parametrize("runner", ["batch", "live"])
def test_a_missing_model_is_one_line_and_nothing_is_uploaded(runner: str, tmp_path: Path) -> None:
    root = with_model(copy_sample(tmp_path / "tree"), MISSING)
    with Emulator(EmulatorConfig(job_seconds=0.05)) as emu:
        first = chargen(root, emu.base_url, *run_args("--runner", runner))
        assert first.returncode == 1, first.stdout + first.stderr
        errors = [line for line in first.stderr.splitlines() if MISSING in line]
        assert len(errors) == 1 and "not available" in errors[0], first.stderr
        again = chargen(root, emu.base_url, "resume", RUN_ID)  # checks again, still refuses
        assert again.returncode == 1 and MISSING in again.stderr
        stats = emu.stats()
    assert stats["uploads_by_sha256"] == {} and stats["batch_inputs_by_sha256"] == {}
    assert stats.get("calls", 0) == 0
    tags = journal_tags(root)
    assert not {"upload.started", "job.submitting", "call.started"} & set(tags)
    failed = [e for e in read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")
              if isinstance(e, ev.RunFailed)]
    assert [e.code for e in failed] == ["model_unavailable", "model_unavailable"]
