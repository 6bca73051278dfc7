"""A batch-file workspace for the tests: the shipped sample batch copied to a temp folder."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from chargen_es.planner import sample_batch
from tests.engine import harness
from tests.shared import read_yaml

SAMPLE = sample_batch()
BATCH = "postcards.yaml"


def copy_batch(dest: Path) -> Path:
    shutil.copytree(SAMPLE, dest)
    return dest


def outputs(folder: Path) -> dict[str, str]:
    """Every output file in the batch's output folder (the manifest excluded): name -> sha256."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and not p.name.startswith("imagery.yaml")}


def manifest_keys(folder: Path) -> list[str]:
    doc: dict[str, Any] = read_yaml((folder / "imagery.yaml").read_text()) or {}
    found = [e["task_key"] for run in doc.get("imagery_runs") or [] for e in run.get("images") or []]
    return found + [e["task_key"] for e in doc.get("analyses") or []]


def assert_exactly_once(root: Path, out: Path, stats: dict[str, Any], reference: dict[str, str] | None) -> None:
    """The harness's exactly-once checks, with the manifest beside the outputs as the record."""
    keys = manifest_keys(out)
    assert keys, "the manifest holds no task key"
    if reference is not None:
        assert outputs(out) == reference  # this module's outputs(): the batch's own folder
    harness.assert_exactly_once(root, stats, records={"manifest": keys})
