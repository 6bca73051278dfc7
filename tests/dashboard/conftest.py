"""Shared workspaces: the demo is run once per session and copied for each test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from chargen_es.planner import sample_tree
from tests.dashboard.helpers import chargen


@pytest.fixture(scope="session")
def demo_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree after `chargen-es demo`: one generate and one analyze run, both completed.

    Made once for the whole session, whichever xdist worker gets there first (the others
    wait on the lock and reuse it: the folder above each worker's temp root is shared).
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this session's only
    root = shared / "dashboard-demo" / "tree"
    with FileLock(str(shared / "dashboard-demo.lock")):
        if not (shared / "dashboard-demo" / "done").exists():
            shutil.rmtree(root.parent, ignore_errors=True)
            root.parent.mkdir()
            chargen("demo", str(root))
            (shared / "dashboard-demo" / "done").touch()
    return root


@pytest.fixture
def demo_root(demo_tree: Path, tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(demo_tree, root, symlinks=True)
    return root


@pytest.fixture
def fresh_root(tmp_path: Path) -> Path:
    """The sample tree with no runs yet."""
    root = tmp_path / "fresh"
    shutil.copytree(sample_tree(), root)
    return root
