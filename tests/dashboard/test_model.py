"""The dashboard's pure per-run fold: item states, touched keys and the ETA, from events alone."""

from __future__ import annotations

from chargen_es import events as ev
from chargen_es.dashboard.model import RunModel


def _task(key: str, chunk: int = 0) -> ev.TaskPlanned:
    return ev.TaskPlanned(task=ev.Task(key=key, kind="generate", entity_type="characters", slug="ada", scene=key,
                                       prompt="p", model="m", output_dir="characters/ada/images", output_stem=key,
                                       chunk=chunk))


def _stamp(events: list[ev.Event], start: int = 1) -> list[ev.Event]:
    import msgspec

    return [msgspec.structs.replace(e, seq=start + i, at=f"2030-01-01T00:00:{start + i:02d}.000Z")
            for i, e in enumerate(events)]


def test_batch_items_follow_their_chunks_job_then_their_outcome() -> None:
    model = RunModel("r")
    touched = model.take(_stamp([ev.RunStarted(run_id="r", tool_version="0", mode="generate", runner="batch"),
                                 _task("a"), _task("b"), _task("c", chunk=1),
                                 ev.TaskSkipped(key="s", reason="done", detail="intact"),
                                 ev.PlanSealed(tasks=3, skipped=1, chunks=2, plan_sha256="0")]))
    assert touched is None  # run-level events: every row may change
    assert [model.item_state(k)[0] for k in ("a", "c", "s")] == ["queued", "queued", "skipped"]
    assert model.item_state("s") == ("skipped", "done: intact")
    assert model.take(_stamp([ev.JobSubmitting(chunk=0, display_name="d", attempt=1)], 7)) == {"a", "b"}
    assert model.item_state("a")[0] == "submitted" and model.item_state("c")[0] == "queued"
    model.take(_stamp([ev.JobSubmitted(chunk=0, job_name="j", display_name="d", attempt=1)], 8))
    assert model.item_state("a")[0] == "submitted"
    model.take(_stamp([ev.JobStateChanged(chunk=0, job_name="j", state="RUNNING")], 9))
    assert model.item_state("b")[0] == "processing"
    touched = model.take(_stamp([ev.LineApplied(key="a", chunk=0),
                                 ev.ItemFailed(key="b", stage="result", code="SAFETY", message="blocked"),
                                 ev.CallStarted(key="stray", attempt=1)], 10))
    assert touched == {"a", "b"}  # a key the run never planned has no row
    assert model.item_state("a") == ("done", "")
    assert model.item_state("b") == ("failed", "result SAFETY: blocked")
    row = model.summary(active=True)
    assert (row["ok"], row["failed"], row["pending"], row["skipped"]) == (1, 1, 1, 1)


def test_live_items_are_processing_between_call_started_and_their_outcome() -> None:
    model = RunModel("r")
    model.take(_stamp([ev.RunStarted(run_id="r", tool_version="0", mode="generate", runner="live"), _task("a"),
                       _task("b"), ev.PlanSealed(tasks=2, skipped=0, chunks=1, plan_sha256="0")]))
    assert model.take(_stamp([ev.CallStarted(key="a", attempt=1)], 5)) == {"a"}
    assert model.item_state("a")[0] == "processing" and model.item_state("b")[0] == "queued"
    model.take(_stamp([ev.RunPaused(reason="interrupted")], 6))
    assert model.item_state("a")[0] == "queued"  # the process stopped: nothing is in flight


def test_the_eta_extrapolates_this_sessions_rate_from_journal_times_only() -> None:
    model = RunModel("r")
    model.take(_stamp([ev.RunStarted(run_id="r", tool_version="0", mode="generate", runner="live"),
                       *(_task(k) for k in "abcd"), ev.PlanSealed(tasks=4, skipped=0, chunks=1, plan_sha256="0")]))
    assert model.eta_at() == ""  # nothing settled yet: no rate
    model.take(_stamp([ev.LineApplied(key="a", chunk=0)], 17))  # at :17, 16 s after the start at :01
    # 3 pending at 16 s each, from the last outcome at :17
    assert model.eta_at() == "2030-01-01T00:01:05.000Z"
    assert model.summary(active=True)["eta_at"] == "2030-01-01T00:01:05.000Z"
    assert model.summary(active=False)["eta_at"] == ""
