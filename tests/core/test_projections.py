"""Unit tests of the folds' meaning: phases, the files cache, the report."""

from __future__ import annotations

import json
from pathlib import Path

from chargen_es import events as ev
from chargen_es.journal import read_events
from projections import (
    fold,
    in_flight_uploads,
    project,
    render,
    workspace_files_cache,
)
from tests.core.strategies import stamp

SAMPLE = Path(__file__).parent / "data" / "sample_run" / "journal.jsonl"


def _phases(events: list[ev.Event]) -> list[str]:
    return [project(events[:n]).phase for n in range(1, len(events) + 1)]


def test_sample_run_walks_the_phases_in_order() -> None:
    events = read_events(SAMPLE)
    phases = _phases(events)
    order = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
    # failed and paused reopen on run.resumed; cancelled does not (closed is final), so the
    # old journal's resume after its cancel is history only, until its run.completed
    assert order == ["planning", "planned", "staging", "staged", "failed", "staged", "submitted", "running",
                     "paused", "running", "downloading", "applying", "cancelled", "completed"]


def test_upload_intent_without_outcome_is_in_flight_until_settled() -> None:
    started = ev.UploadStarted(purpose="reference", path="a.png", sha256="s1", size=3, mime="image/png",
                               display_name="chargen-es:s1")
    completed = ev.UploadCompleted(purpose="reference", path="a.png", sha256="s1", size=3, mime="image/png",
                                   display_name="chargen-es:s1", name="files/a", uri="u", expires="2025-12-21T00:00:00Z")
    events = stamp([ev.RunStarted(run_id="r1", tool_version="0", mode="generate", runner="batch"), started])
    model = project(events)
    assert list(in_flight_uploads(model)) == ["s1"]
    assert model.files == {}
    settled = fold(model, stamp([completed], first_seq=3))
    assert in_flight_uploads(settled) == {}
    assert settled.files["a.png"]["name"] == "files/a"
    assert settled.files["a.png"]["from_run"] == "r1"
    assert list(in_flight_uploads(model)) == ["s1"], "fold left the original alone"


def _upload(sha: str, name: str, expires: str) -> ev.UploadCompleted:
    return ev.UploadCompleted(purpose="reference", path=f"{sha}.png", sha256=sha, size=1, mime="image/png",
                              display_name=f"chargen-es:{sha}", name=name, uri=f"u/{name}", expires=expires)


def test_workspace_cache_keeps_the_latest_live_upload_per_hash() -> None:
    old = stamp([_upload("s1", "files/old", "2025-12-20T00:00:00Z"), _upload("s2", "files/gone", "2025-12-30T00:00:00Z")])
    new = stamp([_upload("s1", "files/new", "2025-12-21T00:00:00.5+00:00"),
                 ev.FilesDeleted(names=("files/gone",))])
    cache = workspace_files_cache([("run-a", old), ("run-b", new)])
    assert list(cache) == ["s1"]
    assert cache["s1"]["name"] == "files/new" and cache["s1"]["from_run"] == "run-b"


def test_report_counts_latest_outcome_per_key_and_sums_usage_once() -> None:
    usage = ev.Usage(prompt_tokens=10, output_tokens=20, total_tokens=30)
    events = stamp([
        ev.ItemFailed(key="k", stage="call", code="UNAVAILABLE", message="503", retryable=True),
        ev.LineApplied(key="k", chunk=0, usage=usage),
        ev.LineApplied(key="k", chunk=0, usage=usage),
        ev.ItemFailed(key="j", stage="result", code="SAFETY", message="blocked"),
    ])
    report = json.loads(render(project(events))["report.json"])
    assert report["summary"]["ok"] == 1 and report["summary"]["failed"] == 1
    assert report["usage"]["total_tokens"] == 30
    assert [f["key"] for f in report["failures"]] == ["j"]


