"""Fixtures for the emulator contract suite: a live emulator and SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google import genai

from chargen_es.emulator import Emulator, EmulatorConfig

from .helpers import make_client


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(job_seconds=0.0)) as e:
        yield e


@pytest.fixture(params=["v1", "v1beta"])
def api_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(emu: Emulator, api_version: str) -> genai.Client:
    return make_client(emu, api_version)
