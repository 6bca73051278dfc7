"""A batch-file workspace for the tests: the shipped sample batch copied to a temp folder."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from chargen_es.planner import sample_batch
from tests.engine.harness import API_KEY, RUN_ID, files_containing

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
    doc: dict[str, Any] = yaml.safe_load((folder / "imagery.yaml").read_text()) or {}
    found = [e["task_key"] for run in doc.get("imagery_runs") or [] for e in run.get("images") or []]
    return found + [e["task_key"] for e in doc.get("analyses") or []]


def assert_exactly_once(root: Path, out: Path, stats: dict[str, Any], reference: dict[str, str] | None) -> None:
    keys = manifest_keys(out)
    assert keys and len(keys) == len(set(keys)), f"the manifest holds a task key twice: {keys}"
    uploads = stats["uploads_by_sha256"]
    assert uploads and all(n == 1 for n in uploads.values()), f"content uploaded more than once: {uploads}"
    inputs = stats["batch_inputs_by_sha256"]
    assert inputs and all(n == 1 for n in inputs.values()), f"a batch input submitted twice: {inputs}"
    if reference is not None:
        assert outputs(out) == reference
    assert files_containing(root, API_KEY) == []
    check = subprocess.run([sys.executable, "-m", "chargen_es", "replay", RUN_ID, "--check", "--root", str(root)],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
