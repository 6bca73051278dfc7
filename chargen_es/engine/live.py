"""The live runner: N workers calling ``generateContent``, adaptive under rate limits.

Same plan, same apply path, same journal as the batch runner: each call is announced by
``call.started`` (fsynced) and ends in ``line.applied`` or ``item.failed``, with
``call.failed`` for every failed try, so ``resume``, ``inspect`` and ``replay`` work
unchanged. A live call has no remote record to settle against, so a crash between
``call.started`` and its outcome costs at most one repeated call for that item; the apply
path stays idempotent, so no item is ever applied twice.

Rate limits (the seeds' fixed waits, replaced): a :class:`Throttle` holds the allowed
concurrency and a shared "not before" instant. A 429 pushes that instant to the server's
RetryInfo delay (or a backoff), halves the concurrency and records the gap between calls
that the quota seems to allow; successes raise the concurrency again, one step per
window of successes (AIMD), and spacing keeps the rate just under what the server
accepted. A per-day quota (``QuotaFailure`` naming a per-day limit) stops the run cleanly
and resumably instead of retrying into it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from chargen_es import events as ev
from chargen_es.engine.apply import ApplyContext, apply_outcome, fail
from chargen_es.engine.batch import EngineOptions
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.results import RESPONSE_DECODER, from_response
from chargen_es.engine.staging import needed_inputs, request_line
from chargen_es.engine.view import RunView
from chargen_es.errors import DailyQuotaExhausted, GeminiError, RateLimited, TransientError
from chargen_es.gateway import Gateway

MAX_TRIES = 5


@dataclass
class Throttle:
    """Adaptive concurrency and pacing shared by all workers (AIMD plus a gap)."""

    ceiling: int
    limit: float = 0.0
    not_before: float = 0.0
    gap: float = 0.0  # minimum seconds between call starts, learned from 429s
    last_start: float = 0.0
    in_flight: int = 0
    successes: int = 0
    rate_limited: int = 0
    calls: int = 0
    window_starts: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.limit = float(self.ceiling)

    def may_start(self, now: float) -> float:
        """Seconds to wait before another call may start (0 = go)."""
        if self.in_flight >= max(1, math.floor(self.limit)):
            return -1.0  # wait for a call to finish
        return max(self.not_before - now, self.last_start + self.gap - now, 0.0)

    def started(self, now: float) -> None:
        self.in_flight += 1
        self.calls += 1
        self.last_start = now
        self.window_starts.append(now)

    def finished(self) -> None:
        self.in_flight -= 1

    def on_success(self) -> None:
        self.successes += 1
        self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))
        self.gap *= 0.98  # probe slowly for more room

    def on_rate_limited(self, now: float, retry_after: float) -> None:
        self.rate_limited += 1
        self.limit = max(1.0, self.limit / 2)
        self.not_before = max(self.not_before, now + retry_after)
        # calls started in the last stretch all fitted the quota: space the next ones so
        # that the same number fits into the time the server asked us to wait for
        recent = [t for t in self.window_starts if now - t <= max(retry_after, 1e-3) * 4]
        self.window_starts = recent
        if recent and retry_after > 0:
            span = (now - recent[0]) + retry_after
            self.gap = max(self.gap, span / (len(recent) + 1))


class LiveRunner:
    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress) -> None:
        self.rec = recorder
        self.gw = gateway
        self.opt = options
        self.progress = progress
        self.throttle = Throttle(ceiling=max(1, options.workers))
        self.changed = trio.Condition()
        self.stop_reason = ""
        self.ctx = ApplyContext(root=options.root, run_dir=options.run_dir, run_id=recorder.view.run_id,
                                generated_at=options.generated_at)

    @property
    def view(self) -> RunView:
        return self.rec.view

    async def run(self) -> str:
        from chargen_es.engine.batch import BatchRunner  # staging is shared with the batch runner

        keys = [k for c in sorted(self.view.chunks) for k in self.view.pending_keys(c)]
        if needed_inputs(self.view, sorted(self.view.chunks)):
            self.progress.phase("staging", "uploading references")
            await BatchRunner(self.rec, self.gw, self.opt, self.progress).stage_inputs(sorted(self.view.chunks))
        self.progress.phase("calling", f"{len(keys)} items, up to {self.throttle.ceiling} at once")
        self.progress.start("items", len(self.view.tasks), "items")
        self.progress.advance("items", len(self.view.applied) + len(self.view.failed))
        queue = list(reversed(keys))
        async with trio.open_nursery() as nursery:
            for _ in range(self.throttle.ceiling):
                nursery.start_soon(self.worker, queue)
        if self.stop_reason:
            self.rec.record(ev.RunPaused(reason="daily_quota", message=self.stop_reason))
            return "paused"
        view = self.view
        self.rec.record(ev.RunCompleted(ok=len(view.applied), failed=len(view.failed), skipped=view.skipped))
        self.progress.phase("completed", f"{len(view.applied)} ok, {len(view.failed)} failed")
        return "completed"

    async def _acquire_slot(self) -> None:
        while True:
            wait = self.throttle.may_start(trio.current_time())
            if wait == 0.0:
                self.throttle.started(trio.current_time())
                return
            async with self.changed:
                if wait < 0:
                    await self.changed.wait()
                else:
                    with trio.move_on_after(wait):
                        await self.changed.wait()

    async def _release_slot(self) -> None:
        self.throttle.finished()
        async with self.changed:
            self.changed.notify_all()

    async def worker(self, queue: list[str]) -> None:
        while queue and not self.stop_reason:
            key = queue.pop()
            if self.view.settled(key):
                continue
            await self.do_item(key)

    async def do_item(self, key: str) -> None:
        task = self.view.tasks[key]
        request = request_line(task, self.view.uploads)
        attempt = self.view.call_attempts.get(key, 0)
        tries = 0
        while True:
            await self._acquire_slot()
            attempt += 1
            tries += 1
            # shielded: a call in flight finishes and is applied even when Ctrl-C arrives
            with trio.CancelScope(shield=True):
                self.rec.record(ev.CallStarted(key=key, attempt=attempt))
                try:
                    crash_point("before", "call")
                    raw = await trio.to_thread.run_sync(self._call, task.model, request)
                    crash_point("after", "call")
                except GeminiError as exc:
                    await self._release_slot()
                    if isinstance(exc, RateLimited):
                        tries -= 1  # a rate limit is not the item's fault: no try spent
                    retry = await self._on_error(key, task, attempt, tries, exc)
                    if not retry:
                        return
                    continue
                await self._release_slot()
                self.throttle.on_success()
                outcome = from_response(RESPONSE_DECODER.decode(raw))
                event = await trio.to_thread.run_sync(apply_outcome, self.ctx, task, outcome, raw)
                self.rec.record(event)
            self.progress.advance("items")
            self._status()
            return

    def _call(self, model: str, request: dict[str, Any]) -> bytes:
        return msgspec.json.encode(self.gw.generate(model=model, request=request))

    async def _on_error(self, key: str, task: ev.Task, attempt: int, tries: int, exc: GeminiError) -> bool:
        """Journal the failed try; return True to try again."""
        now = trio.current_time()
        if isinstance(exc, DailyQuotaExhausted):
            self.rec.record(ev.CallFailed(key=key, attempt=attempt, kind="daily_quota", status=exc.status,
                                          message=str(exc), retry_after=exc.retry_after))
            self.stop_reason = f"per-day quota exhausted ({exc}); resume when it resets"
            return False
        if isinstance(exc, RateLimited):
            delay = exc.retry_after if exc.retry_after is not None else self.opt.retry.delay(min(tries, 5))
            self.throttle.on_rate_limited(now, delay)
            self.rec.record(ev.CallFailed(key=key, attempt=attempt, kind="rate_limit", status=exc.status,
                                          message=str(exc), retry_after=exc.retry_after))
            self._status()
            return True
        if isinstance(exc, TransientError):
            self.rec.record(ev.CallFailed(key=key, attempt=attempt, kind="transient", status=exc.status,
                                          message=str(exc), retry_after=exc.retry_after))
            if tries >= MAX_TRIES:
                self.rec.record(fail(self.ctx, task, "call", f"http_{exc.status}" if exc.status else "transport",
                                     f"gave up after {tries} tries: {exc}", True))
                self.progress.advance("items")
                return False
            await trio.sleep(self.opt.retry.delay(tries, exc.retry_after) * random.uniform(0.8, 1.0))
            return True
        self.rec.record(ev.CallFailed(key=key, attempt=attempt, kind="permanent", status=exc.status,
                                      message=str(exc)))
        self.rec.record(fail(self.ctx, task, "call", f"http_{exc.status}", str(exc), False))
        self.progress.advance("items")
        return False

    def _status(self) -> None:
        t = self.throttle
        share = t.rate_limited / t.calls if t.calls else 0.0
        self.progress.status("live", f"concurrency {math.floor(t.limit)}/{t.ceiling}, {t.calls} calls, "
                             f"{t.rate_limited} answered 429 ({share:.0%})")
