"""Shared workspaces: the demo (``demo_tree``, tests/conftest.py) copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chargen_es.planner import sample_tree


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
