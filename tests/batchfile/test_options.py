"""The batch generation guide's options: ``options: {delay, maxConcurrent, stopOnError}`` and
per-item ``retries``, in YAML and JSON batch files and in chargen.yaml.

The runs go through the engine in this process on trio's virtual clock (retry backoff and
pacing take no wall time) with the unmodified SDK over HTTP into the emulator, which
records how many calls it answered at once (``max_in_flight``): ``maxConcurrent: 1`` is
checked on the wire, not in our own counters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.engine.live import Throttle
from chargen_es.errors import BatchFileInvalid, TransientError, ValidationFailed
from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.batchfile import build_batch_plan
from tests.engine import inproc
from tests.engine.harness import copy_sample

CALL = "models.generateContent"


def batch_file(folder: Path, items: int, options: dict[str, Any] | None = None,
               retries: dict[str, int] | None = None, as_json: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"name": "guide", "items": [
        {"id": f"item{n}", "prompt": f"Scene number {n}: item{n} at the harbour."} for n in range(items)]}
    if options is not None:
        doc["options"] = options
    for item in doc["items"]:
        if retries and item["id"] in retries:
            item["retries"] = retries[item["id"]]
    path = folder / ("guide.json" if as_json else "guide.yaml")
    path.write_text(json.dumps(doc, indent=2) if as_json else yaml.safe_dump(doc, sort_keys=False))
    return path


def plan_of(path: Path) -> Any:
    return build_batch_plan(path, PlanOptions(root=path.parent, run_stamp="20300101T000000Z"))


def by_key(finished: inproc.Finished, tag: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in finished.tagged(tag):
        counts[e.key] = counts.get(e.key, 0) + 1
    return counts


# ---------------------------------------------------------------------------- the file


@pytest.mark.parametrize("as_json", [False, True])
def test_options_and_retries_are_read_into_the_plan(tmp_path: Path, as_json: bool) -> None:
    path = batch_file(tmp_path, 3, {"delay": 250, "maxConcurrent": 2, "stopOnError": True},
                      {"item1": 4}, as_json=as_json)
    plan = plan_of(path)
    assert plan.config["options"] == {"delay_ms": 250, "max_concurrent": 2, "stop_on_error": True}
    key = next(t.key for t in plan.tasks if t.scene == "item1")
    assert plan.config["item_retries"] == {key: 4}
    assert len({t.key for t in plan.tasks}) == 3


def test_retries_and_options_do_not_change_the_task_keys(tmp_path: Path) -> None:
    plain = {t.scene: t.key for t in plan_of(batch_file(tmp_path / "a", 3)).tasks}
    tuned = {t.scene: t.key for t in plan_of(batch_file(tmp_path / "b", 3, {"maxConcurrent": 1}, {"item0": 3})).tasks}
    assert plain == tuned


def test_bad_options_are_refused_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\noptions:\n  delay: -5\n  maxConcurrent: 0\n  stopOnError: sometimes\n  speed: 3\n"
                    "items:\n  - id: a\n    prompt: A.\n    retries: -1\n  - id: b\n    prompt: B.\n    retries: true\n")
    with pytest.raises(BatchFileInvalid) as caught:
        plan_of(path)
    f = str(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{f}:3: options.delay must be a whole number of milliseconds >= 0",
        f"{f}:4: options.maxConcurrent must be a whole number >= 1 (live workers)",
        f"{f}:5: options.stopOnError must be true or false",
        f"{f}:6: unknown option 'speed'; options are delay, maxConcurrent, stopOnError",
        f"{f}:10: retries must be a whole number >= 0 (new tries after a retryable failure)",
        f"{f}:13: retries must be a whole number >= 0 (new tries after a retryable failure)",
    ]


def test_chargen_yaml_options_reach_a_tree_plan(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with (root / "chargen.yaml").open("a", encoding="utf-8") as f:
        f.write("\noptions:\n  maxConcurrent: 1\n  delay: 100\n")
    plan = build_plan(PlanOptions(root=root, run_stamp="20300101T000000Z"))
    assert plan.config["options"] == {"max_concurrent": 1, "delay_ms": 100}
    with (root / "chargen.yaml").open("a", encoding="utf-8") as f:
        f.write("keep_results: maybe\n")
    with pytest.raises(ValidationFailed, match=r"chargen.yaml:\d+: keep_results must be true or false"):
        build_plan(PlanOptions(root=root, run_stamp="20300101T000000Z"))


def test_delay_is_the_least_gap_between_call_starts() -> None:
    throttle = Throttle(ceiling=4, min_gap=0.25)
    throttle.started(10.0)
    assert throttle.start_delay(10.0) == pytest.approx(0.25)
    assert throttle.start_delay(10.3) == 0.0


# ---------------------------------------------------------------------------- the runs


def test_every_item_is_delivered_under_503s_with_one_call_at_a_time_on_the_wire(tmp_path: Path) -> None:
    path = batch_file(tmp_path, 12, {"delay": 50, "maxConcurrent": 1, "stopOnError": False},
                      {f"item{n}": 8 for n in range(12)})
    faults = [{"op": CALL, "kind": "status", "status": 503, "rate": 0.3},
              {"op": CALL, "kind": "latency", "seconds": 0.02}]
    with Emulator(EmulatorConfig(seed=11, faults=faults)) as emu:
        done = inproc.run_batch_file(path, emu.base_url, runner="live", workers=8)
        stats = emu.stats()
    assert done.outcome == "completed"
    assert len(done.tagged("line.applied")) == 12 and done.tagged("item.failed") == []
    failures = done.tagged("call.failed")
    assert failures and all(f.status == 503 for f in failures), "the 503s were injected and retried"
    assert stats["operations"][CALL] == 12 + len(failures)
    assert stats["max_in_flight"][CALL] == 1, "maxConcurrent: 1 on the wire (--workers 8 was given)"


def test_the_batch_runner_delivers_every_item_once_under_503s_on_every_operation(tmp_path: Path) -> None:
    """30% 503s on every operation (uploads, creates, polls, downloads): an effect's five
    tries can all fail (about one invocation in ten here), which ends the invocation with
    the error; ``resume`` goes on from the journal. Every item arrives, each sent in one job."""
    path = batch_file(tmp_path, 12, {"delay": 50, "maxConcurrent": 1, "stopOnError": False},
                      {f"item{n}": 8 for n in range(12)})
    with Emulator(EmulatorConfig(seed=1, faults=[{"op": "*", "kind": "status", "status": 503, "rate": 0.3}])) as emu:
        done: inproc.Finished | None = None
        for invocation in range(10):
            try:
                done = (inproc.run_batch_file(path, emu.base_url, chunk_size=4, upload_concurrency=1) if invocation == 0
                        else inproc.resume(path.parent, emu.base_url, upload_concurrency=1))
            except TransientError:
                continue
            if done.outcome == "completed":
                break
        stats = emu.stats()
    assert done is not None and done.outcome == "completed"
    model = done.recorder.model
    assert model.outcome_counts() == (12, 0)
    assert sorted(stats["batch_keys"].values()) == [1] * 12, "each item sent in exactly one job"
    with Emulator(EmulatorConfig(seed=1)) as clean:
        assert inproc.run_batch_file(batch_file(tmp_path / "clean", 12), clean.base_url, chunk_size=4,
                                     upload_concurrency=1).outcome == "completed"
        calls = sum(clean.stats()["operations"].values())
    assert sum(stats["operations"].values()) > calls, "503s were answered and the calls made again"


def test_without_max_concurrent_the_wire_sees_calls_at_once(tmp_path: Path) -> None:
    """The measure is real: the same file with maxConcurrent 4 overlaps calls on the wire."""
    path = batch_file(tmp_path, 8, {"maxConcurrent": 4})
    with Emulator(EmulatorConfig(seed=11, faults=[{"op": CALL, "kind": "latency", "seconds": 0.2}])) as emu:
        done = inproc.run_batch_file(path, emu.base_url, runner="live", workers=1)
        stats = emu.stats()
    assert done.outcome == "completed"
    assert 1 < stats["max_in_flight"][CALL] <= 4


def test_live_retries_cap_the_tries_of_retryable_failures(tmp_path: Path) -> None:
    path = batch_file(tmp_path, 3, retries={"item0": 2, "item1": 1})
    faults = [{"kind": "line", "line_kind": "no_image", "key_contains": "item0 at", "count": 2},
              {"kind": "line", "line_kind": "no_image", "key_contains": "item1 at", "count": 5}]
    with Emulator(EmulatorConfig(seed=3, faults=faults)) as emu:
        done = inproc.run_batch_file(path, emu.base_url, runner="live")
    plan = {t.scene: t.key for t in done.recorder.model.tasks.values()}
    calls = by_key(done, "call.started")
    assert calls[plan["item0"]] == 3 and calls[plan["item1"]] == 2 and calls[plan["item2"]] == 1
    model = done.recorder.model
    assert isinstance(model.outcomes[plan["item0"]], ev.LineApplied)
    failed = model.outcomes[plan["item1"]]
    assert isinstance(failed, ev.ItemFailed) and failed.code == "NO_IMAGE" and failed.retryable


def test_batch_retries_send_a_new_attempt_for_those_items_only(tmp_path: Path) -> None:
    path = batch_file(tmp_path, 4, retries={"item2": 2})
    faults = [{"kind": "line", "line_kind": "no_image", "key_contains": "/item2@", "count": 1}]
    with Emulator(EmulatorConfig(seed=3, faults=faults)) as emu:
        done = inproc.run_batch_file(path, emu.base_url)
        stats = emu.stats()
    assert done.outcome == "completed"
    assert len(done.tagged("line.applied")) == 4
    assert [e.reason for e in done.tagged("items.reopened")] == ["retries"]
    sent = {k.split("/")[2].split("@")[0]: n for k, n in stats["batch_keys"].items()}
    assert sent == {"item0": 1, "item1": 1, "item2": 2, "item3": 1}


@pytest.mark.parametrize("runner", ["live", "batch"])
def test_stop_on_error_pauses_at_the_first_permanent_failure_and_resume_goes_on(tmp_path: Path,
                                                                                runner: ev.Runner) -> None:
    path = batch_file(tmp_path, 5, {"maxConcurrent": 1, "stopOnError": True})
    faults = [{"kind": "line", "line_kind": "safety", "key_contains": "item1"}]
    with Emulator(EmulatorConfig(seed=3, faults=faults)) as emu:
        done = inproc.run_batch_file(path, emu.base_url, runner=runner, chunk_size=1, max_jobs=1)
        assert done.outcome == "paused"
        [paused] = done.tagged("run.paused")
        assert paused.reason == "stop_on_error" and "item1" in paused.message
        # chunks take their turn in whatever order trio starts them (max_jobs 1): what came
        # before item1 is applied, and nothing is sent after its permanent failure
        [failure] = [e for e in done.tagged("item.failed") if "item1" in e.key]
        sent_after = [e for e in done.tagged("job.submitting", "call.started") if e.seq > failure.seq]
        assert not sent_after, f"sent after the failure: {sent_after}"
        assert len(done.tagged("line.applied")) < 5, "the run stopped before the rest"
        again = inproc.resume(path.parent, emu.base_url)
    assert again.outcome == "completed"
    model = again.recorder.model
    failed = [k for k, o in model.outcomes.items() if isinstance(o, ev.ItemFailed)]
    assert len(failed) == 1 and "item1" in failed[0]
    assert model.outcome_counts() == (4, 1)
