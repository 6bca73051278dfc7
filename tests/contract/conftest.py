"""The gateway contract suite: the same tests against the emulator always, and Google on request.

Live mode runs only with both ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``) and
``CHARGEN_ES_CONTRACT_LIVE=1`` set; it uses the catalogue's cheapest text model and a
handful of one-line requests, and prints what it spent (from ``usageMetadata`` at
catalogue prices) at the end of the session. Without the opt-in the ``live`` target is
simply not generated, so nothing is skipped and nothing can be spent by accident.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chargen_es import catalogue
from chargen_es.credentials import find_api_key
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.gateway import Backend, Gateway, RemoteJob

LIVE_FLAG = "CHARGEN_ES_CONTRACT_LIVE"


def live_enabled() -> bool:
    return os.environ.get(LIVE_FLAG) == "1" and find_api_key() is not None


@dataclass
class Spend:
    """What the live run spent, line by line (USD at catalogue prices; None if unknown)."""

    items: list[tuple[str, dict[str, Any], float | None]] = field(default_factory=list)

    def add(self, what: str, usage: dict[str, Any], batch: bool) -> None:
        info = catalogue.lookup(catalogue.CHEAPEST_TEXT_MODEL)
        cost = None
        if info is not None and (info.input_usd or info.output_usd):
            out = int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
            cost = (int(usage.get("promptTokenCount") or 0) * info.input_usd + out * info.output_usd) / 1e6
            cost *= 0.5 if batch else 1.0
        self.items.append((what, usage, cost))


SPEND = Spend()


@dataclass
class Target:
    """One backend under contract: its gateway, and how patient to be with its jobs."""

    name: str
    gateway: Gateway
    model: str
    poll_s: float
    timeout_s: float
    live: bool

    def wait(self, job: RemoteJob) -> RemoteJob:
        deadline = time.monotonic() + self.timeout_s
        while not job.done:
            assert time.monotonic() < deadline, f"{job.name} still {job.state} after {self.timeout_s} s"
            time.sleep(self.poll_s)
            job = self.gateway.get_batch(job.name)
        return job

    def spent(self, what: str, response: dict[str, Any], batch: bool) -> None:
        if self.live:
            SPEND.add(what, response.get("usageMetadata") or {}, batch)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames:
        metafunc.parametrize("target", ["emulator", *(["live"] if live_enabled() else [])], indirect=True)


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    model = catalogue.CHEAPEST_TEXT_MODEL
    if request.param == "live":
        found = find_api_key()
        gw = Gateway(Backend(api_key=found.value if found else ""))
        try:
            yield Target("live", gw, model, poll_s=15.0,
                         timeout_s=float(os.environ.get("CHARGEN_ES_CONTRACT_TIMEOUT", "3600")), live=True)
        finally:
            gw.close()
        return
    with Emulator(EmulatorConfig(job_seconds=0.0)) as emu:
        gw = Gateway(Backend(api_key="contract-key", base_url=emu.base_url))
        try:
            yield Target("emulator", gw, model, poll_s=0.02, timeout_s=30.0, live=False)
        finally:
            gw.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not SPEND.items:
        return
    known = [c for _, _, c in SPEND.items if c is not None]
    terminalreporter.write_line(f"live contract run: {len(SPEND.items)} billed answers on "
                                f"{catalogue.CHEAPEST_TEXT_MODEL}")
    for what, usage, cost in SPEND.items:
        price = f"${cost:.6f}" if cost is not None else "price unknown"
        terminalreporter.write_line(f"  {what}: {usage.get('promptTokenCount', 0)} in, "
                                    f"{usage.get('candidatesTokenCount', 0)} out, "
                                    f"{usage.get('thoughtsTokenCount', 0)} thinking: {price}")
    terminalreporter.write_line(f"  total: ${sum(known):.6f}" + ("" if len(known) == len(SPEND.items)
                                                                  else " (some prices unknown)"))
