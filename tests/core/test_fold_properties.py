"""The one fold: properties over random histories, and the rules for the three histories
the engine's old fold and the projections once answered differently.

Events come from small domains (three keys, two chunks, two contents, two job names per
chunk) so that intents, outcomes, attempts and late job states collide the way real runs
make them collide. Any event type at all comes from ``tests/core/strategies.py``.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chargen_es import events as ev
from chargen_es.engine.decide import Step, next_step
from projections import Projections, fold, mutate, project, render
from tests.core.strategies import any_event, stamp
from tests.shared import examples

KEYS = [f"characters/ada/s{n}@sha256:{n:016x}" for n in range(3)]
SHAS = ["a" * 64, "b" * 64]
STATES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED"]
START = ev.RunStarted(run_id="r", tool_version="0", mode="generate", runner="batch")


def task(key: str) -> ev.Task:
    return ev.Task(key=key, kind="generate", entity_type="characters", slug="ada", scene=key[15:17], prompt="p",
                   model="m", output_dir="characters/ada/images", output_stem="s", chunk=KEYS.index(key) % 2)


keys, shas, chunks = st.sampled_from(KEYS), st.sampled_from(SHAS), st.sampled_from([0, 1])
job_names = st.sampled_from(["a", "b"])
EVENT = st.one_of(
    st.builds(lambda s: ev.UploadStarted(purpose="reference", path="r.png", sha256=s, size=1, mime="image/png",
                                         display_name=f"chargen-es:{s}"), shas),
    st.builds(lambda s: ev.UploadCompleted(purpose="reference", path="r.png", sha256=s, size=1, mime="image/png",
                                           display_name="d", name="files/x", uri="u", expires="2099-01-01T00:00:00Z"),
              shas),
    st.builds(lambda c, a: ev.JobSubmitting(chunk=c, display_name=f"chargen-es:r:{c}:{a}", attempt=a),
              chunks, st.integers(1, 3)),
    st.builds(lambda c, j: ev.JobSubmitted(chunk=c, job_name=f"batches/{c}{j}", display_name="d"), chunks, job_names),
    st.builds(lambda c, j, s: ev.JobStateChanged(chunk=c, job_name=f"batches/{c}{j}", state=s), chunks, job_names,
              st.sampled_from(STATES)),
    st.builds(lambda c: ev.ResultsDownloaded(chunk=c, path="x", sha256="s", bytes=1, lines=1), chunks),
    st.builds(lambda k: ev.LineApplied(key=k, chunk=0), keys),
    st.builds(lambda k: ev.ItemFailed(key=k, stage="result", code="x", message="m"), keys),
    st.builds(lambda k, a: ev.CallStarted(key=k, attempt=a), keys, st.integers(1, 4)),
    st.just(ev.RunResumed(pid=1, tool_version="0", from_seq=0)),
    st.just(ev.RunFailed(code="x", message="m")),
    st.just(ev.RunPaused(reason="interrupted")),
    st.just(ev.RunCompleted(ok=0, failed=0, skipped=0)),
    st.just(ev.RunCancelled(by="u")),
)
HISTORY = st.lists(EVENT, max_size=40).map(lambda tail: [START, *(ev.TaskPlanned(task=task(k)) for k in KEYS), *tail])


def _stamped(events: list[ev.Event]) -> list[ev.Event]:
    return stamp(events)


# ---------------------------------------------------------------- the three histories


def test_applied_then_failed_stays_applied() -> None:
    k = KEYS[0]
    model = project(_stamped([START, ev.TaskPlanned(task=task(k)), ev.LineApplied(key=k, chunk=0),
                              ev.ItemFailed(key=k, stage="result", code="late", message="m")]))
    assert isinstance(model.outcomes[k], ev.LineApplied)
    assert model.outcome_counts() == (1, 0)
    assert model.pending_keys(0) == [] and model.settled(k)
    assert b'"failures": []' in render(model)["report.json"], "report.json agrees with the engine"


def test_failed_then_applied_is_applied() -> None:
    k = KEYS[0]
    model = project(_stamped([START, ev.TaskPlanned(task=task(k)),
                              ev.ItemFailed(key=k, stage="result", code="x", message="m"),
                              ev.LineApplied(key=k, chunk=0)]))
    assert isinstance(model.outcomes[k], ev.LineApplied)


def test_completed_and_cancelled_are_not_reopened_by_a_resume() -> None:
    for end in (ev.RunCompleted(ok=0, failed=0, skipped=0), ev.RunCancelled(by="u")):
        model = project(_stamped([START, end, ev.RunResumed(pid=1, tool_version="0", from_seq=2)]))
        assert model.closed and model.ended is not None and model.ended.__class__ is end.__class__
        assert len(model.resumes) == 1, "the resume is still history"


def test_failed_and_paused_are_reopened_by_a_resume() -> None:
    for end in (ev.RunFailed(code="x", message="m"), ev.RunPaused(reason="interrupted")):
        model = project(_stamped([START, end]))
        assert model.message and not model.closed
        reopened = fold(model, _stamped([ev.RunResumed(pid=1, tool_version="0", from_seq=2)])[0:1])
        assert reopened.ended is None and reopened.message == ""


def test_a_late_state_of_an_earlier_attempts_job_is_history_only() -> None:
    events = _stamped([
        START, ev.TaskPlanned(task=task(KEYS[0])),
        ev.JobSubmitting(chunk=0, display_name="chargen-es:r:0:1", attempt=1),
        ev.JobSubmitted(chunk=0, job_name="batches/old", display_name="chargen-es:r:0:1"),
        ev.JobStateChanged(chunk=0, job_name="batches/old", state="FAILED"),
        ev.JobSubmitting(chunk=0, display_name="chargen-es:r:0:2", attempt=2),
        ev.JobSubmitted(chunk=0, job_name="batches/new", display_name="chargen-es:r:0:2", attempt=2),
        ev.JobStateChanged(chunk=0, job_name="batches/old", state="SUCCEEDED", output_file="files/old-out"),
    ])
    model = project(events)
    job = model.jobs[0]
    assert (job.job_name, job.state, job.output_file, job.attempt) == ("batches/new", "PENDING", "", 2)
    assert model.chunks[0]["job_name"] == "batches/new" and model.chunks[0]["job_state"] == "SUBMITTED"
    assert model.phase == "submitted", "the late state does not move the phase either"
    assert next_step(model, 0, retry_failed=False) == Step.POLL


# ---------------------------------------------------------------- properties


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(any_event(), max_size=30), st.integers(0, 30))
def test_folding_in_two_parts_is_folding_once(events: list[ev.Event], cut: int) -> None:
    stamped = stamp(events)
    whole = project(stamped)
    head = project(stamped[:cut])
    assert fold(head, stamped[cut:]) == whole
    assert head == project(stamped[:cut]), "fold left its argument alone"


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(any_event(), max_size=30))
def test_mutating_in_place_is_the_fold(events: list[ev.Event]) -> None:
    stamped = stamp(events)
    model = Projections()
    for e in stamped:
        mutate(model, e)
    assert model == project(stamped)


@settings(max_examples=examples(300), deadline=None)
@given(HISTORY)
def test_a_key_has_one_outcome_and_applied_is_final(history: list[ev.Event]) -> None:
    model = project(_stamped(history))
    for key in KEYS:
        kinds = [e.__class__ for e in history if isinstance(e, ev.LineApplied | ev.ItemFailed) and e.key == key]
        if ev.LineApplied in kinds:
            assert isinstance(model.outcomes[key], ev.LineApplied)
        elif kinds:
            assert isinstance(model.outcomes[key], ev.ItemFailed)
        else:
            assert key not in model.outcomes and key in model.pending_keys(task(key).chunk)


@settings(max_examples=examples(300), deadline=None)
@given(HISTORY)
def test_an_outcome_settles_its_intent(history: list[ev.Event]) -> None:
    model = project(_stamped(history))
    for sha in SHAS:
        last_start = max((n for n, e in enumerate(history) if isinstance(e, ev.UploadStarted) and e.sha256 == sha),
                         default=-1)
        last_outcome = max((n for n, e in enumerate(history) if isinstance(e, ev.UploadCompleted)
                            and e.sha256 == sha), default=-1)
        assert (sha in model.upload_intents) == (last_start > last_outcome)
        assert (sha in model.uploads) == (last_outcome >= 0)


@settings(max_examples=examples(300), deadline=None)
@given(HISTORY)
def test_a_chunk_follows_its_latest_attempt(history: list[ev.Event]) -> None:
    model = project(_stamped(history))
    for chunk in (0, 1):
        at = [n for n, e in enumerate(history) if isinstance(e, ev.JobSubmitting) and e.chunk == chunk]
        if not at:
            continue
        job = model.jobs[chunk]
        assert job.attempt == history[at[-1]].attempt  # type: ignore[attr-defined]
        after = history[at[-1]:]
        names = [e.job_name for e in after if isinstance(e, ev.JobSubmitted) and e.chunk == chunk]
        assert job.job_name == (names[-1] if names else "")
        if not names:
            assert job.state == "", "no job yet: no state, whatever states other jobs reported"
        assert (chunk in model.downloads) == any(isinstance(e, ev.ResultsDownloaded) and e.chunk == chunk
                                                 for e in after)
        assert model.chunks[chunk]["attempt"] >= job.attempt


@settings(max_examples=examples(300), deadline=None)
@given(HISTORY)
def test_the_run_is_closed_exactly_when_its_latest_end_is_completed_or_cancelled(history: list[ev.Event]) -> None:
    events = _stamped(history)
    model = project(events)
    ends = [e for e in events if isinstance(e, ev.RunCompleted | ev.RunCancelled | ev.RunFailed | ev.RunPaused)]
    assert model.closed == bool(ends and isinstance(ends[-1], ev.RunCompleted | ev.RunCancelled))
    if model.closed:
        assert model.ended == ends[-1]


@settings(max_examples=examples(300), deadline=None)
@given(HISTORY, st.booleans())
def test_next_step_is_total_and_never_resubmits_a_live_job(history: list[ev.Event], retry_failed: bool) -> None:
    model = project(_stamped(history))
    for chunk in (0, 1):
        step = next_step(model, chunk, retry_failed)
        job = model.jobs.get(chunk)
        if step == Step.SUBMIT and job is not None:
            assert job.job_name and job.state in ("FAILED", "EXPIRED") and retry_failed
        if not model.pending_keys(chunk):
            assert step == Step.DONE
