"""An embedded emulator for the creative loop's end-to-end tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.dashboard.test_browser import browser, chromium  # noqa: F401 - headless Chromium, as the dashboard's tests use it
from tests.engine.harness import chargen, copy_sample, run_args
from tests.shared import once_per_session


@pytest.fixture
def emulator_url() -> Iterator[str]:
    with Emulator(EmulatorConfig()) as emu:
        yield emu.base_url


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample tree with ada's scenes made, map-room in three takes (once per session,
    shared by the xdist workers: ``tests.shared``); tests take a copy (:func:`tree`)."""
    def make(folder: Path) -> str:
        root = copy_sample(folder / "tree")
        ideas = root / "characters/ada/image_ideas.yaml"
        ideas.write_text(ideas.read_text().replace("  - id: map-room\n", "  - id: map-room\n    variants: 3\n"))
        imagery = root / "characters/ada/imagery.yaml"
        with Emulator(EmulatorConfig()) as emu:
            done = chargen(root, emu.base_url, *run_args("--only", "ada"))
        assert done.returncode == 0, done.stderr
        imagery.write_text("# my notes on ada's pictures\n" + imagery.read_text())
        return str(root)

    return Path(once_per_session(tmp_path_factory, "review-made", make))


@pytest.fixture
def tree(made: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "tree", symlinks=True))
