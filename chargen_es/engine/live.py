"""The live runner: N workers calling ``generateContent``, adaptive under rate limits.

Same plan, same apply path, same journal as the batch runner: each call is announced by
``call.started`` (fsynced) and ends in ``line.applied`` or ``item.failed``, with
``call.failed`` for every failed try, so ``resume``, ``inspect`` and ``replay`` work
unchanged. A live call has no remote record to settle against, so a crash between
``call.started`` and its outcome costs at most one repeated call for that item; the apply
path stays idempotent, so no item is ever applied twice.

Rate limits (the seeds' fixed waits, replaced): a :class:`Throttle` holds the allowed
concurrency, a shared "not before" instant and a gap between call starts. A 429 pushes
that instant to the server's RetryInfo delay (or a backoff); a new rate-limit event also
halves the concurrency and sets the gap from the rate the quota was seen to accept, so
calls start evenly just under that rate instead of bursting into the next refusal;
successes raise the concurrency again (AIMD) and shrink the gap slowly to probe for room.
A per-day quota (``QuotaFailure`` naming a per-day limit) or a billing refusal stops the
run cleanly and resumably instead of retrying into it (:mod:`chargen_es.engine.pauses`).
Concurrency is a ``trio.CapacityLimiter`` whose ``total_tokens`` is assigned the
throttle's limit after every call; starts are paced under one lock by the throttle's gap.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from chargen_es import events as ev
from chargen_es.engine import preflight
from chargen_es.engine.claims import Claims
from chargen_es.engine.crashpoints import crash_point
from chargen_es.engine.options import EngineOptions, RunOptions
from chargen_es.engine.outputs import OutputContext, write_answer, write_failure
from chargen_es.engine.pauses import pause_message, stop_on_error_message
from chargen_es.engine.preflight import models_ready
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.results import RESPONSE_DECODER, answer_from_response
from chargen_es.engine.staging import needed_inputs, request_line
from chargen_es.engine.uploads import Uploads
from chargen_es.errors import (
    BillingError,
    DailyQuotaExhausted,
    GeminiError,
    RateLimited,
    TransientError,
    is_local_io,
)
from chargen_es.gateway import Gateway, RemoteModel
from projections import Projections, Upload


@dataclass
class Throttle:
    """Adaptive concurrency and pacing shared by all workers; pure (it is handed ``now``).

    Three controls, all learned from the server's answers:

    - ``not_before``: no call starts before it; every 429 pushes it to at least the
      instant its RetryInfo names (when the quota frees a slot).
    - ``gap``: the least time between two call starts, i.e. an even pace instead of bursts.
      At each new rate-limit event (a 429 on a call started after the previous event; the
      429s of calls already in flight only push ``not_before``) the sustainable rate is
      learned from the calls the server accepted: the calls accepted in the last quota
      window (whose length is learned at the first event, as the time from the first
      accepted call to the instant the server said a slot frees) and the calls accepted
      since the previous event's retry instant, per second up to this one's; the larger
      rate wins, and the gap becomes its inverse plus a pad (``margin``, widened while
      refusals come back within a few windows: the server's clock jitters against ours),
      never shrinking at a 429. Each success shrinks the gap a little (``probe`` per
      window's worth of calls) down to a floor half a pad above the learned rate, and the
      floor ten times slower, so a stable quota is seldom hit again while a raised one is
      still found. A sliding window and a fixed one
      both reach their rate this way: a schedule that fits every sliding window also fits
      every fixed one, and a fixed window's RetryInfo points at its reset.
    - ``limit``: the allowed concurrency, AIMD within [1, ceiling]: halved once per
      rate-limit event, raised by 1/limit per success.
    """

    ceiling: int
    limit: float = 0.0
    not_before: float = 0.0
    gap: float = 0.0  # minimum seconds between call starts
    min_gap: float = 0.0  # options.delay: the gap never goes below the user's own
    last_start: float = -math.inf
    in_flight: int = 0
    successes: int = 0
    rate_limited: int = 0
    calls: int = 0
    margin: float = 0.01  # pace at least this much slower than the learned rate
    pad: float = 0.0  # how much slower now: the margin, widened while refusals come close together
    probe: float = 0.005  # shrink the gap by this fraction per window's worth of successes
    floor: float = 0.0  # the gap never shrinks below this by probing; it decays 10 times slower
    window: float | None = None  # the quota window's length, once learned
    first_accept: float | None = None
    last_event: float = -math.inf  # when the latest rate-limit event was seen
    epoch: float | None = None  # the retry instant of the latest event: start of the span estimate
    epoch_accepted: int = 0
    accepted_at: deque[float] = field(default_factory=deque)  # recent successes (≈ admission times)

    def __post_init__(self) -> None:
        self.limit = float(self.ceiling)
        self.pad = self.margin

    @property
    def concurrency(self) -> int:
        """Calls allowed in flight now (what the runner's ``CapacityLimiter`` is set to)."""
        return max(1, math.floor(self.limit))

    def start_delay(self, now: float) -> float:
        """Seconds until the pace lets the next call start (``not_before`` and ``gap``)."""
        return max(self.not_before - now, self.last_start + max(self.gap, self.min_gap) - now, 0.0)

    def may_start(self, now: float) -> float:
        """Seconds to wait before another call may start (0 = go, -1 = wait for a call to end)."""
        if self.in_flight >= self.concurrency:
            return -1.0  # wait for a call to finish
        return self.start_delay(now)

    def started(self, now: float) -> None:
        self.in_flight += 1
        self.calls += 1
        self.last_start = now

    def finished(self) -> None:
        self.in_flight -= 1

    def on_success(self, now: float) -> None:
        self.successes += 1
        self.epoch_accepted += 1
        if self.first_accept is None:
            self.first_accept = now
        self.accepted_at.append(now)
        keep = 2 * self.window if self.window else math.inf
        while self.accepted_at and (now - self.accepted_at[0] > keep or len(self.accepted_at) > 100_000):
            self.accepted_at.popleft()
        self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))
        if self.gap > 0 and self.window:
            per_window = max(1.0, self.window / self.gap)
            self.floor *= 1.0 - self.probe / per_window / 10
            self.gap = max(self.floor, self.gap * (1.0 - self.probe / per_window))

    def on_rate_limited(self, now: float, retry_after: float, started_at: float | None = None) -> None:
        """A 429 seen at ``now``; ``retry_after`` is the server's wait; ``started_at`` the call's start."""
        self.rate_limited += 1
        free_at = now + max(retry_after, 0.0)
        self.not_before = max(self.not_before, free_at)
        if started_at is not None and started_at < self.last_event:
            return  # in flight when the previous event was seen: the same event
        if self.window and now - self.last_event < 3 * self.window:
            # refused again soon, though paced under the learned rate: the server's clock and
            # ours disagree by more than the pad (jitter), so keep further away from the limit
            self.pad = min(0.1, self.pad * 1.5)
        else:
            self.pad = max(self.margin, self.pad * 0.8)
        self.last_event = now
        self.limit = max(1.0, self.limit / 2)
        rate = self._learned_rate(now, free_at)
        if rate > 0:
            self.gap = max(self.gap * (1.0 + self.margin), (1.0 + self.pad) / rate)
            self.floor = (1.0 + self.pad / 2) / rate
        else:
            self.gap *= 1.0 + self.margin
        self.epoch, self.epoch_accepted = free_at, 0

    def _learned_rate(self, now: float, free_at: float) -> float:
        """Calls per second the quota accepted, judged at a rate-limit event (0 = unknown)."""
        if self.window is None and self.first_accept is not None and free_at > self.first_accept:
            self.window = free_at - self.first_accept
        rates = []
        if self.window:
            # the oldest call in the window leaves at free_at; the one before it left at least
            # a gap earlier, so half a gap of slack keeps float noise from dropping the oldest
            since = free_at - self.window - 0.5 * self.gap - 1e-6 * self.window
            in_window = sum(1 for t in self.accepted_at if since <= t <= now)
            rates.append(in_window / self.window)
        if self.epoch is not None and self.window and free_at - self.epoch >= self.window:
            rates.append(self.epoch_accepted / (free_at - self.epoch))
        return max(rates, default=0.0)


class LiveRunner:
    def __init__(self, recorder: Recorder, gateway: Gateway, options: EngineOptions, progress: Progress,
                 workspace: dict[str, tuple[str, Upload]] | None = None, uploads: Uploads | None = None,
                 claims: Claims | None = None) -> None:
        """``uploads`` and ``claims`` are the batch runner's when this runs a fallback (engine.fallback)."""
        self.rec = recorder
        self.gw = gateway
        self.opt = options
        self.progress = progress
        self.uploads = uploads or Uploads(recorder, gateway, options, progress, workspace)
        self.claims = claims
        run = recorder.model.run
        self.run_options = RunOptions.of(run.config if run else {})
        # options.maxConcurrent (a batch file's or chargen.yaml's) is the worker count
        # the run was planned with; --workers otherwise
        workers = self.run_options.max_concurrent or options.workers
        self.throttle = Throttle(ceiling=max(1, workers), min_gap=self.run_options.delay_s)
        # concurrency: the throttle's limit, assigned to the limiter as it changes (AIMD)
        self.slots = trio.CapacityLimiter(self.throttle.concurrency)
        self.pace = trio.Lock()  # one call start at a time, spaced by the throttle's gap
        self.stop_reason = ""
        self.stop_kind: ev.PauseReason | None = None  # the run.paused reason, once every worker stops
        self.ctx = OutputContext(root=options.root, run_dir=options.run_dir, run_id=recorder.model.run_id,
                                 generated_at=options.generated_at, runner="live")

    @property
    def model(self) -> Projections:
        return self.rec.model

    async def run(self) -> str:
        model = self.model
        chunks = sorted(model.chunk_keys)
        keys = [k for c in chunks for k in model.pending_keys(c)]
        if keys and not await models_ready(self.rec, self.get_model, {model.tasks[k].model for k in keys},
                                           preflight.LIVE_METHOD):
            return "failed"
        if needed_inputs(model, chunks):
            self.progress.phase("staging", "uploading references")
            await self.uploads.stage(chunks)
        self.progress.phase("calling", f"{len(keys)} items, up to {self.throttle.ceiling} at once")
        self.progress.start("items", len(model.tasks), "items")
        self.progress.advance("items", len(model.outcomes))
        await self.call(keys)
        if self.stop_kind is not None:
            self.rec.record(ev.RunPaused(reason=self.stop_kind, message=self.stop_reason))
            return "paused"
        ok, failed = model.outcome_counts()
        self.rec.record(ev.RunCompleted(ok=ok, failed=failed, skipped=len(model.skipped)))
        self.progress.phase("completed", f"{ok} ok, {failed} failed")
        return "completed"

    async def call(self, keys: list[str]) -> None:
        """Call ``keys`` (in order) with up to the throttle's ceiling of workers, until every
        one is settled or a worker met a stop (then ``stop_kind`` says which): the live run,
        a batch run's deadline fallback and its preview all call through here."""
        queue = list(reversed(keys))
        async with trio.open_nursery() as nursery:
            for _ in range(min(self.throttle.ceiling, len(keys))):
                nursery.start_soon(self.worker, queue)

    async def get_model(self, model: str) -> RemoteModel:
        return await self.opt.retry.call(trio.to_thread.run_sync, self.gw.get_model, model)

    async def wait_start(self) -> float:
        """Wait (holding a slot) until the pace lets this call start; returns the start instant."""
        async with self.pace:
            while (delay := self.throttle.start_delay(trio.current_time())) > 0:
                await trio.sleep(delay)
            now = trio.current_time()
            self.throttle.started(now)
            return now

    def _call_ended(self) -> None:
        self.throttle.finished()
        self.slots.total_tokens = self.throttle.concurrency

    async def worker(self, queue: list[str]) -> None:
        while queue and not self.stop_reason:
            key = queue.pop()
            if self.model.settled(key):
                continue
            await self.do_item(key)

    async def do_item(self, key: str) -> None:
        task = self.model.tasks[key]
        request = request_line(task, self.model.uploads, self.model.store)
        attempt = self.model.call_attempts.get(key, 0)
        tries = 0
        while True:
            wait: float | None = None
            async with self.slots:
                started_at = await self.wait_start()
                attempt += 1
                tries += 1
                # shielded: a call in flight finishes and is written even when Ctrl-C arrives
                # (waits between tries happen outside, so Ctrl-C never waits on a backoff)
                with trio.CancelScope(shield=True):
                    self.rec.record(ev.CallStarted(key=key, attempt=attempt))
                    try:
                        crash_point("before", "call")
                        raw = await trio.to_thread.run_sync(self._call, task.model, request)
                        crash_point("after", "call")
                    except GeminiError as exc:
                        self._call_ended()
                        if isinstance(exc, RateLimited):
                            tries -= 1  # a rate limit is not the item's fault: no try spent
                        wait = self._on_error(key, task, attempt, tries, exc, started_at)
                        self.slots.total_tokens = self.throttle.concurrency
                        if wait is None:
                            return
                    else:
                        self._call_ended()
                        self.throttle.on_success(trio.current_time())
                        self.slots.total_tokens = self.throttle.concurrency
                        if self.claims is not None and not self.claims.take(key, "live"):
                            self.rec.record(self._duplicate(task, raw))  # the batch delivered it first
                        else:
                            outcome = await trio.to_thread.run_sync(self._write, task, raw)
                            self.rec.record(outcome)
                            wait = self._after_answer(key, tries, outcome)
            if wait is not None:
                await trio.sleep(wait)
                continue
            self.progress.advance("items")
            self._status()
            return

    def _max_tries(self, key: str) -> int:
        """Tries of one item for retryable failures: its ``retries`` + 1, else the policy's."""
        retries = self.run_options.item_retries.get(key)
        return retries + 1 if retries is not None else self.opt.retry.attempts

    def _after_answer(self, key: str, tries: int, outcome: ev.Event) -> float | None:
        """A failed answer: the seconds before the item's next try when it has ``retries``
        left and the failure is retryable (no image this time, say); None to stop there."""
        if not isinstance(outcome, ev.ItemFailed):
            return None
        if not outcome.retryable:
            self._stop_on_error(outcome)
            return None
        if key in self.run_options.item_retries and tries < self._max_tries(key):
            return self.opt.retry.backoff(tries)
        return None

    def _stop_on_error(self, failure: ev.ItemFailed) -> None:
        """stopOnError: the first permanent failure stops every worker; the run pauses."""
        if self.run_options.stop_on_error and self.stop_kind is None:
            self.stop_kind = "stop_on_error"
            self.stop_reason = stop_on_error_message(failure)

    def _write(self, task: ev.Task, raw: bytes) -> ev.Event:
        """Write a paid-for answer; anything that goes wrong fails the item, keeping the answer."""
        try:
            return write_answer(self.ctx, task, answer_from_response(RESPONSE_DECODER.decode(raw)), raw)
        except Exception as exc:  # noqa: BLE001 - a response we paid for is never dropped silently
            if is_local_io(exc):  # a full or failing disk stops the run, named; resume calls again
                raise
            return write_failure(self.ctx, task, "apply", "apply_error", f"{type(exc).__name__}: {exc}", True, raw)

    def _duplicate(self, task: ev.Task, raw: bytes) -> ev.Event:
        """A paid live answer for a key the batch path applied first: reported, never applied."""
        try:
            prompt, output, total = answer_from_response(RESPONSE_DECODER.decode(raw)).usage
            usage: ev.Usage | None = ev.Usage(prompt_tokens=prompt, output_tokens=output, total_tokens=total)
        except Exception:  # noqa: BLE001 - an unreadable duplicate is still reported
            usage = None
        return ev.ResultIgnored(key=task.key, chunk=task.chunk, reason="already_applied", via="live", usage=usage)

    def _call(self, model: str, request: dict[str, Any]) -> bytes:
        return msgspec.json.encode(self.gw.generate(model=model, request=request))

    def _on_error(self, key: str, task: ev.Task, attempt: int, tries: int, exc: GeminiError,
                  started_at: float | None = None) -> float | None:
        """Journal the failed try; return the seconds to wait before the next, or None to stop."""
        now = trio.current_time()
        if isinstance(exc, DailyQuotaExhausted | BillingError):
            # no wait frees these: every worker stops, the item stays open, the run pauses
            self.stop_kind, self.stop_reason = pause_message(exc)
            self.rec.record(ev.CallFailed(key=key, attempt=attempt, kind=self.stop_kind, status=exc.status,
                                          message=str(exc), retry_after=exc.retry_after))
            return None
        if isinstance(exc, RateLimited):
            delay = exc.retry_after if exc.retry_after is not None else self.opt.retry.backoff(
                min(max(tries, 1), self.opt.retry.attempts))
            self.throttle.on_rate_limited(now, delay, started_at)
            self.rec.record(ev.CallFailed(key=key, attempt=attempt, kind="rate_limit", status=exc.status,
                                          message=str(exc), retry_after=exc.retry_after))
            self._status()
            return 0.0  # the throttle holds every worker until the server's retry instant
        if isinstance(exc, TransientError):
            self.rec.record(ev.CallFailed(key=key, attempt=attempt, kind="transient", status=exc.status,
                                          message=str(exc), retry_after=exc.retry_after))
            if tries >= self._max_tries(key):
                self.rec.record(write_failure(self.ctx, task, "call", f"http_{exc.status}" if exc.status else "transport",
                                     f"gave up after {tries} tries: {exc}", True))
                self.progress.advance("items")
                return None
            return self.opt.retry.backoff(tries, exc.retry_after)
        self.rec.record(ev.CallFailed(key=key, attempt=attempt, kind="permanent", status=exc.status,
                                      message=str(exc)))
        failure = write_failure(self.ctx, task, "call", f"http_{exc.status}", str(exc), False)
        self.rec.record(failure)
        if isinstance(failure, ev.ItemFailed):
            self._stop_on_error(failure)
        self.progress.advance("items")
        return None

    def _status(self) -> None:
        t = self.throttle
        share = t.rate_limited / t.calls if t.calls else 0.0
        self.progress.status("live", f"concurrency {math.floor(t.limit)}/{t.ceiling}, {t.calls} calls, "
                             f"{t.rate_limited} answered 429 ({share:.0%})")
