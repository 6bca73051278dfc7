"""Shared workspaces: the demo is run once per session and copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chargen_es.planner import sample_tree
from tests.dashboard.helpers import chargen
from tests.shared import once_per_session


@pytest.fixture(scope="session")
def demo_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree after `chargen-es demo`: one generate and one analyze run, both completed
    (made once per session: ``tests.shared``)."""
    def make(folder: Path) -> str:
        chargen("demo", str(folder / "tree"))
        return str(folder / "tree")

    return Path(once_per_session(tmp_path_factory, "dashboard-demo", make))


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
