"""An embedded emulator for the creative loop's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig


@pytest.fixture
def emulator_url() -> Iterator[str]:
    with Emulator(EmulatorConfig()) as emu:
        yield emu.base_url
