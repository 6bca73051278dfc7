"""Batch files end to end: real chargen-es processes, the emulator over HTTP, real SIGKILL.

A run of the shipped sample batch killed at seeded-random effect boundaries and resumed
must end with the same bytes as an uninterrupted run, every upload and batch input seen
once by the server, one manifest entry per key and a journal ``replay --check`` accepts;
a second run of the same file plans nothing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.batchfile.helpers import BATCH, assert_exactly_once, copy_batch, manifest_keys, outputs
from tests.engine.harness import (
    RUN_ID,
    chargen,
    crash,
)
from tests.procs import run_child
from tests.shared import once_per_session, read_yaml

POINTS = [f"{when}:{effect}" for effect in ("upload", "job.create", "download", "image.write", "imagery.write")
          for when in ("before", "after")]
POINTS += [f"{when}:append:{kind}" for kind in ("run.started", "upload.started", "upload.completed",
                                                 "job.submitting", "job.submitted", "results.downloaded",
                                                 "line.applied", "run.completed") for when in ("before", "after")]
SEED = 20261202
_rng = random.Random(SEED)
# a seeded draw: the same points on every machine (a failure names its point), a new seed
# gives new ones; the n-th occurrence varies too, so crashes land between items
CRASHES = [f"{point}#{_rng.randint(1, 3) if 'image' in point or 'line' in point else 1}"
           for point in _rng.sample(POINTS, 6)]


def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(job_seconds=0.0, seed=7)  # done when first asked: the waits are not the point


def run_batch(root: Path, *extra: str) -> list[str]:
    return ["run", "--batch-file", str(root / BATCH), "--yes", "--run-id", RUN_ID, *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The outputs of one uninterrupted run of the sample batch (one per session: ``tests.shared``)."""
    def make(folder: Path) -> dict[str, str]:
        root = copy_batch(folder / "batch")
        with Emulator(emulator_config()) as emu:
            done = chargen(root, emu.base_url, *run_batch(root))
            assert done.returncode == 0, done.stderr
            assert_exactly_once(root, root / "postcards", emu.stats(), None)
        found = outputs(root / "postcards")
        assert len(found) == 3 and "cartographer-window.jpg" in found  # Gemini 3 answers JPEG
        return found

    return once_per_session(tmp_path_factory, "batch-file-reference", make)  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize("point", CRASHES)
def test_a_batch_killed_anywhere_resumes_to_the_same_bytes(point: str, tmp_path: Path,
                                                           reference: dict[str, str]) -> None:
    root = copy_batch(tmp_path / "batch")
    with Emulator(emulator_config()) as emu:
        crash(root, emu.base_url, point, *run_batch(root))
        journal = root / ".chargen" / "batch" / RUN_ID / "journal.jsonl"
        plan_durable = journal.exists() and b'"plan.sealed"' in journal.read_bytes()
        again = chargen(root, emu.base_url, *(["resume", RUN_ID] if plan_durable else run_batch(root)))
        assert again.returncode == 0, again.stdout + again.stderr
        assert_exactly_once(root, root / "postcards", emu.stats(), reference)


def test_a_second_run_of_the_same_file_skips_everything(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    with Emulator(emulator_config()) as emu:
        first = chargen(root, emu.base_url, *run_batch(root))
        assert first.returncode == 0, first.stderr
        jobs = emu.stats()["operations"].get("batches.create", 0)
        again = chargen(root, emu.base_url, "run", "--batch-file", str(root / BATCH), "--yes")
        assert again.returncode == 0, again.stderr
        assert "skipped:  3 (done 3)" in again.stdout
        assert "nothing to do" in again.stdout
        assert emu.stats()["operations"].get("batches.create", 0) == jobs


def test_the_live_runner_runs_a_batch_file(tmp_path: Path, reference: dict[str, str]) -> None:
    root = copy_batch(tmp_path / "batch")
    with Emulator(emulator_config()) as emu:
        done = chargen(root, emu.base_url, *run_batch(root, "--runner", "live", "--workers", "2"))
        assert done.returncode == 0, done.stderr
        assert emu.stats()["calls"] == 3
    doc = read_yaml((root / "postcards" / "imagery.yaml").read_text())
    assert [r["mode"] for r in doc["imagery_runs"]] == ["live"]
    assert sorted(outputs(root / "postcards")) == sorted(reference)


def test_the_analysis_form_writes_analyses_beside_its_manifest(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    (root / "review.json").write_text(json.dumps({
        "name": "ref-review", "output": "reviews",
        "images": ["refs/harbor-map.png", "refs/ada-face.png"],
    }, indent=2))
    args = ["run", "--batch-file", str(root / "review.json"), "--yes"]
    with Emulator(emulator_config()) as emu:
        done = chargen(root, emu.base_url, *args)
        assert done.returncode == 0, done.stderr
        names = sorted(outputs(root / "reviews"))
        assert names == ["ada-face.png.analysis.json", "harbor-map.png.analysis.json"]
        assert all(json.loads((root / "reviews" / n).read_text()) for n in names)
        assert len(manifest_keys(root / "reviews")) == 2
        again = chargen(root, emu.base_url, *args)
        assert again.returncode == 0 and "skipped:  2 (done 2)" in again.stdout, again.stdout + again.stderr


def test_inspect_and_replay_read_a_batch_file_run(tmp_path: Path) -> None:
    root = copy_batch(tmp_path / "batch")
    with Emulator(emulator_config()) as emu:
        assert chargen(root, emu.base_url, *run_batch(root)).returncode == 0
    shown = run_child(["inspect", RUN_ID, "--root", str(root), "--events",
                            "--type", "line.applied"])
    assert shown.returncode == 0, shown.stderr
    assert "batch/harbor-postcards/lighthouse@sha256:" in shown.stdout
    replayed = run_child(["replay", RUN_ID, "--root", str(root)])
    assert replayed.returncode == 0, replayed.stderr
    report = json.loads((root / ".chargen" / "batch" / RUN_ID / "report.json").read_text())
    assert report["seq"] > 0


def test_the_demo_also_runs_the_sample_batch_file(demo_run: dict[str, str]) -> None:
    folder = Path(demo_run["root"]) / "batch-file"  # the session's one demo (tests/conftest.py)
    assert len(outputs(folder / "postcards")) == 3 and len(manifest_keys(folder / "postcards")) == 3
    assert "chargen-es run --batch-file" in demo_run["stdout"] and "chargen-es menu" in demo_run["stdout"]
