"""The live runner's Throttle: pure bookkeeping, so its invariants are checked without a clock."""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from chargen_es.engine.live import Throttle
from tests.shared import examples

# one step of a driver: start a call, finish one with a success or a 429, or let time pass
steps = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.floats(0.0, 2.0)),
        st.tuples(st.just("ok"), st.floats(0.0, 2.0)),
        st.tuples(st.just("429"), st.floats(0.0, 30.0)),
        st.tuples(st.just("tick"), st.floats(0.0, 5.0)),
    ),
    max_size=200,
)


@settings(max_examples=examples(300), deadline=None)
@given(ceiling=st.integers(1, 16), script=steps)
def test_invariants_under_any_sequence(ceiling: int, script: list[tuple[str, float]]) -> None:
    th = Throttle(ceiling=ceiling)
    now = 0.0
    flying: deque[float] = deque()  # start instants of the calls in flight
    for op, x in script:
        now += x if op == "tick" else 0.01
        if op == "start":
            wait = th.may_start(now)
            if wait != 0.0:
                continue
            assert now >= th.not_before, "never starts before not_before"
            assert now >= th.last_start + th.gap - 1e-9, "never starts within a gap of the last start"
            assert th.in_flight < max(1, int(th.limit)), "never more in flight than the limit"
            th.started(now)
            flying.append(now)
        elif flying:
            started_at = flying.popleft()
            th.finished()
            gap, not_before = th.gap, th.not_before
            if op == "ok":
                th.on_success(now)
                assert th.gap <= gap, "the gap never grows on a success"
            else:
                th.on_rate_limited(now, x, started_at)
                assert th.gap >= gap, "the gap never shrinks on a 429"
                assert th.not_before >= max(not_before, now + x), "RetryInfo is honoured"
        assert 1.0 <= th.limit <= ceiling
        assert th.in_flight == len(flying) >= 0
        assert th.gap >= 0.0


def sliding_window_start(th: Throttle, calls: int, spacing: float, latency: float, window: float) -> float:
    """Start ``calls`` calls ``spacing`` apart, all accepted after ``latency``; the next is refused.

    Returns the instant the refusal is seen. The quota is a sliding window of ``calls`` per
    ``window`` seconds, so the server's retry delay is when the first accepted call leaves it.
    """
    for i in range(calls):
        th.started(i * spacing)
        th.finished()
        th.on_success(i * spacing + latency)
    refused_start = calls * spacing
    th.started(refused_start)
    th.finished()
    seen = refused_start + latency
    th.on_rate_limited(seen, latency + window - seen, refused_start)
    return seen


def test_learns_the_rate_of_a_sliding_window_from_the_first_refusal() -> None:
    th = Throttle(ceiling=5)
    seen = sliding_window_start(th, calls=30, spacing=0.04, latency=0.2, window=6.0)
    assert th.window is not None and abs(th.window - 6.0) < 1e-9
    assert abs(th.gap - 6.0 / 30 * (1 + th.margin)) < 1e-9  # 30 calls per 6 s, a margin slower
    assert abs(th.not_before - 6.2) < 1e-9 and th.limit == 2.5
    assert th.may_start(seen) > 0


def test_a_refusal_of_a_call_already_in_flight_is_the_same_event() -> None:
    th = Throttle(ceiling=4)
    seen = sliding_window_start(th, calls=20, spacing=0.01, latency=0.2, window=3.0)
    gap, limit = th.gap, th.limit
    th.started(seen - 0.1)  # started before the refusal was seen: its 429 only pushes not_before
    th.finished()
    th.on_rate_limited(seen + 0.05, 4.0, seen - 0.1)
    assert (th.gap, th.limit) == (gap, limit)
    assert abs(th.not_before - (seen + 4.05)) < 1e-9
    th.started(th.not_before)  # started after the event: its 429 is a new event
    th.finished()
    th.on_rate_limited(th.not_before + 0.2, 0.5, th.not_before)
    assert th.gap > gap and th.limit == limit / 2


def test_gap_shrinks_on_success_and_grows_on_a_new_rate_limit() -> None:
    th = Throttle(ceiling=5)
    sliding_window_start(th, calls=10, spacing=0.02, latency=0.2, window=2.0)
    learned = th.gap
    now = th.not_before
    for _ in range(50):
        assert th.may_start(now) == 0.0
        th.started(now)
        th.finished()
        before = th.gap
        th.on_success(now + 0.2)
        assert th.gap < before
        now += th.gap
    assert th.gap < learned and th.limit == 5
    before = th.gap
    th.started(now)
    th.finished()
    th.on_rate_limited(now + 0.2, 0.01, now)
    assert th.gap > before


def test_limit_climbs_back_one_step_per_window_of_successes() -> None:
    th = Throttle(ceiling=8)
    for i in range(4):  # four separate events, no success in between: 8 -> 4 -> 2 -> 1 -> 1
        th.started(float(i))
        th.finished()
        th.on_rate_limited(float(i) + 0.1, 0.0, float(i))
    assert th.limit == 1.0
    for _ in range(3):
        th.on_success(10.0)
    assert 2.0 <= th.limit < 3.0
    for _ in range(1000):
        th.on_success(10.0)
    assert th.limit == 8.0


def test_without_a_success_the_gap_is_not_invented() -> None:
    """Refused from the first call (someone else used the quota): honour RetryInfo, learn nothing."""
    th = Throttle(ceiling=3)
    th.started(0.0)
    th.finished()
    th.on_rate_limited(0.2, 5.0, 0.0)
    assert th.gap == 0.0 and th.window is None
    assert abs(th.may_start(1.0) - 4.2) < 1e-9


def test_refusals_close_together_widen_the_pad_and_quiet_narrows_it() -> None:
    th = Throttle(ceiling=5)
    seen = sliding_window_start(th, calls=10, spacing=0.02, latency=0.2, window=2.0)
    assert th.pad == th.margin
    now = th.not_before
    th.started(now)
    th.finished()
    th.on_rate_limited(now + 0.2, 0.01, now)  # within three windows of the last event
    assert th.pad > th.margin
    widened = th.pad
    later = seen + 100.0
    th.started(later)
    th.finished()
    th.on_rate_limited(later + 0.2, 0.01, later)
    assert th.margin <= th.pad < widened
    assert th.floor < th.gap
