"""``models.generateContent``: the live call, same content as a batch line, under a quota.

The model must be in the served set (``catalog``) and support ``generateContent``; a
shut-down or unknown id answers Google's 404 before the quota is consulted.

Quota refusals follow Google's 429 shape: RESOURCE_EXHAUSTED with QuotaFailure (a
per-minute quota id normally, a per-day one when the ``daily_quota`` fault fires, the case
where retrying is pointless) and RetryInfo. Only accepted calls count against the window,
as with Google.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chargen_es.emulator import content
from chargen_es.emulator.catalog import ModelSet
from chargen_es.emulator.clock import Clock
from chargen_es.emulator.config import EmulatorConfig
from chargen_es.emulator.faults import Faults
from chargen_es.emulator.quota import Quota
from chargen_es.emulator.state import Store
from chargen_es.emulator.wire import RPC_CODES, STATUS_NAMES, ApiError, quota_details, quota_message

_HTTP_FOR_CODE = {code: http for http, code in RPC_CODES.items()}


class ModelsApi:
    """generateContent over the shared :class:`Store` (for file references and counters)."""

    def __init__(self, store: Store, config: EmulatorConfig, faults: Faults, clock: Clock,
                 catalog: Callable[[], ModelSet]) -> None:
        self.store = store
        self.config = config
        self.faults = faults
        self.catalog = catalog
        self.quota = Quota(config.rpm, config.quota_window_s, clock)

    def _live_file_sha(self, fid: str) -> str | None:
        rec = self.store.live_file(fid)
        return rec.sha256 if rec is not None else None

    def _live_file_bytes(self, fid: str) -> bytes | None:
        rec = self.store.live_file(fid)
        return rec.data if rec is not None else None

    def generate(self, model: str, body: Any, daily_quota: bool, version: str = "v1beta") -> dict[str, Any]:
        spec = self.catalog().require(model, "generateContent", version)  # 404 before any quota
        short = spec.id
        if daily_quota:
            self._reject()
            raise ApiError(429, f"You exceeded your current quota for {short} (requests per day).",
                           quota_details(True, short, self.config.rpm or 250, 24 * 3600.0))
        wait = self.quota.admit(short)
        if wait is not None:
            self._reject()
            raise ApiError(429, quota_message(short, self.config.rpm or 0, wait),
                           quota_details(False, short, self.config.rpm or 0, wait))
        self.store.note_store(body, self.config.stores_by_default)
        fault = content.LineFault.draw(self.faults, content.prompt_text(body), live=True)
        out = content.generate(model, body, fault=fault, live_file_sha=self._live_file_sha,
                               image_bytes=self.config.image_bytes, spec=spec,
                               signature_bytes=self.config.signature_bytes, file_bytes=self._live_file_bytes)
        with self.store.lock:
            self.store.totals["calls"] += 1
            self.store.safety_settings.update(content.safety_of(body))
        if out.error is not None:
            code = int(out.error.get("code", 13))
            http = _HTTP_FOR_CODE.get(code, 500)
            if http not in STATUS_NAMES:
                http = 500
            raise ApiError(http, str(out.error.get("message", "")))
        assert out.response is not None
        return out.response

    def _reject(self) -> None:
        with self.store.lock:
            self.store.totals["calls_rejected"] += 1
