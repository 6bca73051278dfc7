"""Fault rules: which request, line or job goes wrong, and how.

A rule is a JSON object (see the package docstring and README.md for the full format).
Rules are matched in order; ``count`` makes a rule fire on the next N matches only,
``rate`` fires with that probability from one seeded RNG, and a rule with neither fires
on every match. Request-level kinds (``status``, ``drop``, ``latency``,
``drop_after_commit``, ``daily_quota``, ``preset``) are taken by the server per operation; ``line``
rules are taken by the content generator per batch line or generateContent call; ``job``
rules are taken once per ``batches.create``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from chargen_es.emulator import presets

REQUEST_KINDS = frozenset({"status", "drop", "latency", "drop_after_commit", "daily_quota", "preset"})
LINE_KINDS = frozenset({"error", "safety", "image_safety", "text_only", "no_image", "max_tokens",
                        "drafts_only"})
# PENDING: held until released (POST /_emulator/release) or expired by age; SUCCEEDED with
# delay_s: delivered late, after that much emulator time.
JOB_STATES = frozenset({"FAILED", "EXPIRED", "PENDING", "SUCCEEDED"})
KINDS = REQUEST_KINDS | {"line", "job", "preset"}

# Which ``op`` values a line rule may name, per place it applies.
_LINE_OPS_BATCH = frozenset({"*", "batches.line", "batches.create", "batches.get"})
_LINE_OPS_LIVE = frozenset({"*", "models.generateContent"})


class FaultError(ValueError):
    """A fault rule that cannot be understood; reported as a 400 or a CLI usage error."""


@dataclass
class Rule:
    """One parsed fault rule; ``remaining`` counts down when ``count`` was given."""

    op: str
    kind: str
    status: int = 503
    message: str | None = None
    seconds: float = 0.0
    rate: float | None = None
    remaining: int | None = None
    line_kind: str = "error"
    code: int = 13
    key_contains: str | None = None
    job_state: str = "FAILED"
    display_name_contains: str | None = None
    retry_delay_s: float = 7.0
    finish_reason: str | None = None
    delay_s: float | None = None
    preset: str = ""

    @classmethod
    def parse(cls, raw: Any) -> Rule:
        if not isinstance(raw, dict):
            raise FaultError(f"fault rule must be an object, got {raw!r}")
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            raise FaultError(f"unknown fault kind {kind!r} (one of {sorted(KINDS)})")
        default_op = {"line": "*", "job": "batches.create", "daily_quota": "models.generateContent"}
        if kind == "preset":
            rule_preset = str(raw.get("preset", ""))
            if rule_preset not in presets.PRESETS:
                raise FaultError(f"unknown preset {rule_preset!r} (one of {sorted(presets.PRESETS)})")
            default_op["preset"] = presets.PRESETS[rule_preset].default_op
        op = str(raw.get("op", default_op.get(kind, "*")))
        rule = cls(op=op, kind=kind)
        if "status" in raw:
            rule.status = int(raw["status"])
        rule.message = raw.get("message")
        rule.seconds = float(raw.get("seconds", 0.0))
        if raw.get("rate") is not None:
            rule.rate = float(raw["rate"])
        if raw.get("count") is not None:
            rule.remaining = int(raw["count"])
        rule.line_kind = str(raw.get("line_kind", raw.get("lineKind", "error")))
        if kind == "line" and rule.line_kind not in LINE_KINDS:
            raise FaultError(f"unknown line_kind {rule.line_kind!r} (one of {sorted(LINE_KINDS)})")
        rule.code = int(raw.get("code", 13))
        rule.key_contains = raw.get("key_contains", raw.get("keyContains"))
        rule.job_state = str(raw.get("job_state", raw.get("jobState", "FAILED"))).upper()
        rule.job_state = rule.job_state.removeprefix("BATCH_STATE_").removeprefix("JOB_STATE_")
        if kind == "job" and rule.job_state not in JOB_STATES:
            raise FaultError(f"unknown job_state {rule.job_state!r} (one of {sorted(JOB_STATES)})")
        rule.display_name_contains = raw.get("display_name_contains", raw.get("displayNameContains"))
        rule.retry_delay_s = float(raw.get("retry_delay_s") or raw.get("retryDelaySeconds") or 7.0)
        finish = raw.get("finish_reason", raw.get("finishReason"))
        rule.finish_reason = None if finish is None else str(finish).upper()
        if raw.get("delay_s") is not None:
            rule.delay_s = float(raw["delay_s"])
        if kind == "job" and rule.job_state == "SUCCEEDED" and rule.delay_s is None:
            raise FaultError("a job rule with job_state SUCCEEDED needs delay_s (deliver late)")
        if kind == "preset":
            rule.preset = str(raw["preset"])
        return rule

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "kind": self.kind}
        if self.remaining is not None:
            out["remaining"] = self.remaining
        if self.rate is not None:
            out["rate"] = self.rate
        return out


def parse_rules(raw: Any) -> list[Rule]:
    """Rules from a list, or from ``{"faults": [...]}`` (the file and POST body forms)."""
    if isinstance(raw, dict):
        raw = raw.get("faults", [])
    if not isinstance(raw, list):
        raise FaultError("faults must be a JSON list of rules or {\"faults\": [...]}")
    return [Rule.parse(r) for r in raw]


class Faults:
    """The live fault set, shared by all request threads; one lock, one seeded RNG."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._rng = random.Random(seed)

    def replace(self, rules: list[Rule]) -> None:
        with self._lock:
            self._rules = list(rules)

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.describe() for r in self._rules]

    def _fire(self, rule: Rule) -> bool:
        if rule.remaining is not None:
            if rule.remaining <= 0:
                return False
            if rule.rate is not None and self._rng.random() >= rule.rate:
                return False
            rule.remaining -= 1
            return True
        if rule.rate is not None:
            return self._rng.random() < rule.rate
        return True

    def take_request(self, op: str) -> list[Rule]:
        """Request-level rules firing for this call: latencies first, then at most one other."""
        fired: list[Rule] = []
        with self._lock:
            for rule in self._rules:
                if rule.kind not in REQUEST_KINDS or rule.op not in (op, "*"):
                    continue
                if rule.kind != "latency" and any(r.kind != "latency" for r in fired):
                    continue
                if self._fire(rule):
                    fired.append(rule)
        return fired

    def take_line(self, key: str, live: bool) -> Rule | None:
        """The line rule for a batch line (by key) or a generateContent call (by prompt)."""
        ops = _LINE_OPS_LIVE if live else _LINE_OPS_BATCH
        with self._lock:
            for rule in self._rules:
                if rule.kind != "line" or rule.op not in ops:
                    continue
                if rule.key_contains is not None and rule.key_contains not in key:
                    continue
                if self._fire(rule):
                    return rule
        return None

    def take_job(self, display_name: str) -> Rule | None:
        """The job rule for a new batch, matched by display name."""
        with self._lock:
            for rule in self._rules:
                if rule.kind != "job":
                    continue
                if rule.display_name_contains is not None and rule.display_name_contains not in display_name:
                    continue
                if self._fire(rule):
                    return rule
        return None
