"""One copy of each image: a collected results file is deleted unless raw answers are kept.

The results file holds every image again in base64 (plus Gemini 3's thought drafts and
signatures), so keeping it beside the images stores each one about 2.4 times. Once every
line is applied and journaled, chargen-es deletes it (``results.discarded``);
``--keep-results`` or ``keep_results: true`` in chargen.yaml keeps it. The deletion is
idempotent and comes before its event, so a kill on either side of it is finished by
``resume``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine.harness import RUN_ID, assert_exactly_once, chargen, copy_sample, crash, run_args
from tests.shared import sweep

IMAGE_BYTES = 150_000  # the measure: 150 kB images


def run_folder(root: Path) -> Path:
    return root / ".chargen" / "batch" / RUN_ID


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def image_bytes(root: Path) -> int:
    """Bytes of every image the run wrote into the tree (from its journal)."""
    return sum(o.bytes for e in read_events(run_folder(root) / "journal.jsonl")
               if isinstance(e, ev.LineApplied) for o in e.outputs)


def discarded(root: Path) -> list[int]:
    return [e.chunk for e in read_events(run_folder(root) / "journal.jsonl") if isinstance(e, ev.ResultsDiscarded)]


def config() -> EmulatorConfig:
    return EmulatorConfig(job_seconds=0.0, seed=7, image_bytes=IMAGE_BYTES)


def test_after_a_batch_run_the_run_folders_hold_less_than_a_fifth_of_the_images(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(config()) as emu:
        done = chargen(root, emu.base_url, *run_args())
        assert done.returncode == 0, done.stderr
        assert_exactly_once(root, emu.stats())
    images = image_bytes(root)
    assert images > 10 * IMAGE_BYTES
    held = folder_bytes(root / ".chargen" / "batch")
    assert held < 0.2 * images, f"run folders hold {held} bytes for {images} bytes of images"
    assert list(run_folder(root).glob("results-*.jsonl")) == []
    assert sorted(discarded(root)) == [0, 1, 2]  # the sample's three chunks, each once


@pytest.mark.parametrize("how", ["flag", "chargen.yaml"])
def test_keep_results_keeps_the_raw_answers(tmp_path: Path, how: str) -> None:
    root = copy_sample(tmp_path / "tree")
    extra: tuple[str, ...] = ("--keep-results",) if how == "flag" else ()
    if how == "chargen.yaml":
        with (root / "chargen.yaml").open("a", encoding="utf-8") as f:
            f.write("\nkeep_results: true\n")
    with Emulator(config()) as emu:
        done = chargen(root, emu.base_url, *run_args(*extra))
        assert done.returncode == 0, done.stderr
    assert len(list(run_folder(root).glob("results-*.jsonl"))) == 3
    assert discarded(root) == []
    assert folder_bytes(root / ".chargen" / "batch") > image_bytes(root)


@pytest.mark.parametrize("point", sweep(["before:results.discard", "after:results.discard",
                                         "before:append:results.discarded", "after:append:results.discarded",
                                         "after:results.discard#3"]))
def test_a_kill_around_the_deletion_is_finished_by_resume(tmp_path: Path, point: str) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(config()) as emu:
        crash(root, emu.base_url, point, *run_args())
        again = chargen(root, emu.base_url, "resume", RUN_ID)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_exactly_once(root, emu.stats())
    assert list(run_folder(root).glob("results-*.jsonl")) == []
    assert sorted(discarded(root)) == [0, 1, 2]
