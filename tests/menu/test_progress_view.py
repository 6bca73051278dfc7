"""The run display: the engine's calls, in the order the engine makes them, read as phase lines."""

from __future__ import annotations

import io

from chargen_es.cli.progress_view import PlainView, human_bytes


def narrate(calls: list[tuple[str, tuple]]) -> list[str]:
    out = io.StringIO()
    view = PlainView(out)
    for method, args in calls:
        getattr(view, method)(*args)
    view.close()
    return [" ".join(line.split()) for line in out.getvalue().splitlines()]


BATCH_RUN = [
    ("phase", ("staging", "3 tasks in 1 chunks")),
    ("start", ("uploads", 2, "files")), ("advance", ("uploads", 0)), ("start", ("upload bytes", 6564, "bytes")),
    ("advance", ("uploads", 0)),
    ("advance", ("uploads",)), ("advance", ("upload bytes", 6000)),
    ("advance", ("uploads",)), ("advance", ("upload bytes", 564)),
    ("phase", ("submitted", "")), ("start", ("items", 3, "items")), ("advance", ("items", 0)),
    ("phase", ("submitting", "chunk 0")), ("phase", ("running", "chunk 0: batches/abc")),
    ("status", ("job", "chunk 0 JOB_STATE_RUNNING: lines 1 ok, 0 failed of 3")),
    ("status", ("job", "chunk 0 JOB_STATE_SUCCEEDED: lines 3 ok, 0 failed of 3")),
    ("phase", ("downloading", "chunk 0")), ("start", ("download 0", None, "bytes")),
    ("advance", ("download 0", 1500)), ("advance", ("download 0", 800)),
    ("phase", ("applying", "chunk 0")), ("advance", ("items",)), ("advance", ("items",)), ("advance", ("items",)),
    ("phase", ("applied", "chunk 0: 3 ok, 0 failed")), ("phase", ("completed", "3 ok, 0 failed, 0 skipped")),
]


def test_a_batch_run_reads_as_one_line_per_phase_in_the_order_it_happened() -> None:
    lines = narrate(BATCH_RUN)
    steps = [line for line in lines if not line.startswith("job chunk")]
    assert steps[0] == "inputs 2 files: 2 uploaded (6.6 kB)"
    assert steps[1] == "submitted chunk 0 as batches/abc"
    assert steps[2].startswith("job done chunk 0 after ")
    assert steps[3:] == ["downloaded chunk 0 (2.3 kB)", "applied chunk 0: 3 ok, 0 failed",
                         "completed 3 ok, 0 failed, 0 skipped"]
    assert "job chunk 0: running; lines 1 ok, 0 failed of 3" in lines
    assert "job chunk 0: succeeded; lines 3 ok, 0 failed of 3" in lines
    assert not any("chunks" in line or "[submitted]" in line for line in lines)


def test_reused_uploads_say_reused_and_send_no_bytes() -> None:
    calls = [("phase", ("staging", "1 tasks in 1 chunks")), ("start", ("uploads", 3, "files")),
             ("advance", ("uploads", 1)), ("start", ("upload bytes", 6564, "bytes")), ("advance", ("uploads", 2)),
             ("phase", ("submitted", ""))]
    assert narrate(calls) == ["inputs 3 files, all reused from earlier uploads"]
    mixed = [("phase", ("staging", "")), ("start", ("uploads", 3, "files")), ("advance", ("uploads", 2)),
             ("start", ("upload bytes", 900, "bytes")), ("advance", ("uploads", 0)), ("advance", ("uploads",)),
             ("advance", ("upload bytes", 900)), ("phase", ("submitted", ""))]
    assert narrate(mixed) == ["inputs 3 files: 1 uploaded (900 B), 2 reused"]


def test_a_resumed_job_says_it_was_submitted_earlier() -> None:
    calls = [("phase", ("staging", "")), ("start", ("uploads", 0, "files")), ("phase", ("submitted", "")),
             ("phase", ("running", "chunk 2: batches/x"))]
    assert narrate(calls) == ["inputs none to upload", "waiting on chunk 2 (batches/x), submitted earlier",
                              "job chunk 2: waiting for Gemini"]


def test_live_calls_are_counted_without_those_settled_before() -> None:
    calls = [("phase", ("calling", "2 items, up to 4 at once")), ("start", ("items", 5, "items")),
             ("advance", ("items", 3)), ("advance", ("items",)), ("advance", ("items",)),
             ("phase", ("completed", "5 ok, 0 failed"))]
    lines = [line for line in narrate(calls) if not line.startswith("progress ")]
    assert lines[0] == "calling 2 items, up to 4 at once"
    assert lines[1].startswith("called 2 items in ")
    assert lines[2] == "completed 5 ok, 0 failed"


class Clock:
    """Virtual time for the view: each call reads ``now``, the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_live_calls_show_done_of_all_elapsed_and_time_left_every_ten_seconds() -> None:
    out, clock = io.StringIO(), Clock()
    view = PlainView(out, clock=clock, every=10.0)
    view.phase("calling", "8 items, up to 4 at once")
    view.start("items", 10, "items")
    view.advance("items", 2)  # settled by an earlier invocation: no time of ours
    view.status("live", "concurrency 4/4, 0 calls, 0 answered 429 (0%)")
    for _ in range(4):
        clock.now += 5
        view.status("live", "concurrency 4/4, 4 calls, 1 answered 429 (25%)")
        view.advance("items")
    clock.now += 30
    view.advance("items", 4)
    view.phase("completed", "10 ok, 0 failed")
    lines = [" ".join(line.split()) for line in out.getvalue().splitlines()]
    assert [line for line in lines if line.startswith("progress ")] == [
        "progress [2/10] 0s elapsed; concurrency 4/4, 0 calls, 0 answered 429 (0%)",
        "progress [3/10] 10s elapsed, about 70s left; concurrency 4/4, 4 calls, 1 answered 429 (25%)",
        "progress [5/10] 20s elapsed, about 33s left; concurrency 4/4, 4 calls, 1 answered 429 (25%)",
        "progress [10/10] 50s elapsed; concurrency 4/4, 4 calls, 1 answered 429 (25%)",
    ]
    assert lines[-2:] == ["called 8 items in 50s", "completed 10 ok, 0 failed"]


def test_sizes_read_like_a_file_manager() -> None:
    assert [human_bytes(n) for n in (0, 999, 6564, 2_300_000)] == ["0 B", "999 B", "6.6 kB", "2.3 MB"]
