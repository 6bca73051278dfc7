"""Properties of the engine's decision fold and of ``next_step`` over random histories.

Events are drawn from small domains (three keys, two chunks, two contents) so that
intents, outcomes, attempts and failures collide the way real runs make them collide.
"""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from chargen_es import events as ev
from chargen_es.engine.batch import Step, next_step
from chargen_es.engine.view import RunView, apply, build

KEYS = [f"characters/ada/s{n}@sha256:{n:016x}" for n in range(3)]
SHAS = ["a" * 64, "b" * 64]
STATES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED"]


def task(key: str) -> ev.Task:
    return ev.Task(key=key, kind="generate", entity_type="characters", slug="ada", scene=key[15:17], prompt="p",
                   model="m", output_dir="characters/ada/images", output_stem="s", chunk=KEYS.index(key) % 2)


keys, shas, chunks = st.sampled_from(KEYS), st.sampled_from(SHAS), st.sampled_from([0, 1])
EVENT = st.one_of(
    st.builds(lambda k, s: ev.UploadStarted(purpose="reference", path="r.png", sha256=s, size=1, mime="image/png",
                                            display_name=f"chargen-es:{s}"), keys, shas),
    st.builds(lambda s: ev.UploadCompleted(purpose="reference", path="r.png", sha256=s, size=1, mime="image/png",
                                           display_name="d", name="files/x", uri="u", expires="2099-01-01T00:00:00Z"),
              shas),
    st.builds(lambda c, a: ev.JobSubmitting(chunk=c, display_name=f"chargen-es:r:{c}:{a}", attempt=a),
              chunks, st.integers(1, 3)),
    st.builds(lambda c: ev.JobSubmitted(chunk=c, job_name=f"batches/{c}", display_name="d"), chunks),
    st.builds(lambda c, s: ev.JobStateChanged(chunk=c, job_name=f"batches/{c}", state=s), chunks,
              st.sampled_from(STATES)),
    st.builds(lambda c: ev.ResultsDownloaded(chunk=c, path="x", sha256="s", bytes=1, lines=1), chunks),
    st.builds(lambda k: ev.LineApplied(key=k, chunk=0), keys),
    st.builds(lambda k: ev.ItemFailed(key=k, stage="result", code="x", message="m"), keys),
    st.builds(lambda: ev.RunResumed(pid=1, tool_version="0", from_seq=0)),
)
HISTORY = st.lists(EVENT, max_size=40).map(lambda tail: [ev.TaskPlanned(task=task(k)) for k in KEYS] + tail)


def stamped(events: list[ev.Event]) -> list[ev.AnyEvent]:
    return [msgspec.structs.replace(e, seq=n, at="2030-01-01T00:00:00.000Z")  # type: ignore[misc]
            for n, e in enumerate(events, 1)]


@settings(max_examples=300, deadline=None)
@given(HISTORY)
def test_a_key_is_never_both_applied_and_failed(history: list[ev.Event]) -> None:
    view = build(stamped(history))
    assert not set(view.applied) & set(view.failed)


@settings(max_examples=300, deadline=None)
@given(HISTORY)
def test_an_outcome_settles_its_intent(history: list[ev.Event]) -> None:
    view = build(stamped(history))
    for sha in SHAS:
        last_start = max((n for n, e in enumerate(history) if isinstance(e, ev.UploadStarted) and e.sha256 == sha),
                         default=-1)
        last_outcome = max((n for n, e in enumerate(history) if isinstance(e, ev.UploadCompleted)
                            and e.sha256 == sha), default=-1)
        assert (sha in view.upload_intents) == (last_start > last_outcome)


@settings(max_examples=300, deadline=None)
@given(HISTORY)
def test_a_chunk_follows_its_latest_attempt(history: list[ev.Event]) -> None:
    view = build(stamped(history))
    for chunk in (0, 1):
        attempts = [e.attempt for e in history if isinstance(e, ev.JobSubmitting) and e.chunk == chunk]
        if attempts:
            assert view.jobs[chunk].attempt == attempts[-1]
            after = history[max(n for n, e in enumerate(history)
                                if isinstance(e, ev.JobSubmitting) and e.chunk == chunk):]
            assert (chunk in view.downloads) == any(isinstance(e, ev.ResultsDownloaded) and e.chunk == chunk
                                                    for e in after)


@settings(max_examples=300, deadline=None)
@given(HISTORY, st.booleans())
def test_next_step_is_total_and_never_resubmits_a_live_job(history: list[ev.Event], retry_failed: bool) -> None:
    view = build(stamped(history))
    for chunk in (0, 1):
        step = next_step(view, chunk, retry_failed)
        job = view.jobs.get(chunk)
        if step == Step.SUBMIT and job is not None:
            assert job.job_name and job.state in ("FAILED", "EXPIRED") and retry_failed
        if not view.pending_keys(chunk):
            assert step == Step.DONE


@settings(max_examples=200, deadline=None)
@given(HISTORY, st.integers(0, 40))
def test_folding_in_two_parts_is_folding_once(history: list[ev.Event], cut: int) -> None:
    events = stamped(history)
    whole = build(events)
    parts: RunView = build(events[:cut])
    for event in events[cut:]:
        apply(parts, event)
    assert parts == whole
