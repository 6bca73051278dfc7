"""Write the committed sample run: a journal covering every event type, and its projections.

Run once (``python tests/core/make_sample_run.py``) and commit the output. The test
``test_sample_run.py`` then proves that this old journal still replays, byte for byte, to
the committed projections; regenerate only on purpose, when a projection's format changes.
"""

from __future__ import annotations

from pathlib import Path

from chargen_es import events as ev
from chargen_es.journal import LOCK_NAME, Journal
from projections import project, render

HERE = Path(__file__).parent / "data" / "sample_run"
T0 = 1766145600.0  # 2025-12-19T12:00:00Z
RUN = "2025-12-19T12-00-00Z"


def _task(i: int, chunk: int) -> ev.Task:
    slug = ("ada", "bram")[i % 2]
    return ev.Task(
        key=f"characters/{slug}/scene{i}@sha256:{i:016x}", kind="generate", entity_type="characters",
        slug=slug, scene=f"scene{i}", prompt=f"Ink style. {slug.title()}, scene {i}: by the harbour at dusk.",
        model="gemini-3-pro-image-preview", output_dir=f"characters/{slug}/images",
        output_stem=f"scene{i}-20251219T120000Z", title=f"Scene {i}",
        references=(ev.FileRef(path=f"characters/{slug}/images/ref.png", sha256=f"{i % 2 + 1:064x}", size=2048,
                               mime="image/png"),),
        generation_config={"aspect_ratio": "1:1"}, chunk=chunk, entity_file=f"characters/{slug}/image_ideas.yaml",
    )


def sample_steps() -> list[tuple[float, list[ev.Event]]]:
    """(seconds after T0, events appended in one group commit)."""
    sha_a, sha_b, sha_c = f"{1:064x}", f"{2:064x}", f"{3:064x}"
    keys = [_task(i, 0).key for i in range(4)]
    req = f".chargen/batch/{RUN}/requests-000.jsonl"
    return [
        (0.0, [ev.RunStarted(run_id=RUN, tool_version="0.1.0", mode="generate", runner="batch", root="/tree",
                             pid=100, config={"chunk_size": 500, "poll_interval": 30, "scope": "characters"})]),
        (0.2, [ev.TaskPlanned(task=_task(i, 0)) for i in range(4)]
              + [ev.TaskSkipped(key="characters/ada/old@sha256:00000000000000ff", reason="done",
                                entity_type="characters", slug="ada", scene="old")]
              + [ev.PlanSealed(tasks=4, skipped=1, chunks=1, plan_sha256="ab" * 32, estimated_cost_usd=0.268,
                               live_cost_usd=0.536)]),
        (1.0, [ev.UploadStarted(purpose="reference", path="characters/ada/images/ref.png", sha256=sha_b,
                                size=2048, mime="image/png", display_name=f"chargen-es:{sha_b}")]),
        (1.5, [ev.UploadCompleted(purpose="reference", path="characters/ada/images/ref.png", sha256=sha_b,
                                  size=2048, mime="image/png", display_name=f"chargen-es:{sha_b}", name="files/ref-ada",
                                  uri="https://emulator/v1beta/files/ref-ada", expires="2025-12-21T12:00:01Z")]),
        (1.6, [ev.UploadReused(path="characters/bram/images/ref.png", sha256=sha_a, name="files/ref-bram",
                               uri="https://emulator/v1beta/files/ref-bram", expires="2025-12-20T20:00:00Z",
                               from_run="2025-12-18T09-00-00Z", mime="image/png", size=2048)]),
        (2.0, [ev.RequestsWritten(chunk=0, path=req, sha256="cd" * 32, lines=4, bytes=3600)]),
        (2.1, [ev.UploadStarted(purpose="requests", path=req, sha256=sha_c, size=3600, mime="application/jsonl",
                                display_name=f"chargen-es:{sha_c}", chunk=0)]),
        (2.5, [ev.UploadCompleted(purpose="requests", path=req, sha256=sha_c, size=3600, mime="application/jsonl",
                                  display_name=f"chargen-es:{sha_c}", name="files/req-0",
                                  uri="https://emulator/v1beta/files/req-0", expires="2025-12-21T12:00:02Z", chunk=0)]),
        (3.0, [ev.JobSubmitting(chunk=0, display_name=f"chargen-es:{RUN}:0:1", attempt=1,
                                model="gemini-3-pro-image-preview", input_file="files/req-0")]),
        (3.4, [ev.RunFailed(code="network", message="connection refused while creating the batch")]),
        (60.0, [ev.RunResumed(pid=101, tool_version="0.1.0", from_seq=15)]),
        (60.5, [ev.JobSubmitted(chunk=0, job_name="batches/job-0", display_name=f"chargen-es:{RUN}:0:1",
                                adopted=True)]),
        (61.0, [ev.JobStateChanged(chunk=0, job_name="batches/job-0", state="PENDING")]),
        (62.0, [ev.RunPaused(reason="detached", message="jobs submitted; `chargen-es resume` collects them")]),
        (600.0, [ev.RunResumed(pid=102, tool_version="0.1.0", from_seq=19)]),
        (601.0, [ev.JobStateChanged(chunk=0, job_name="batches/job-0", state="RUNNING",
                                    stats={"requestCount": 4})]),
        (900.0, [ev.JobStateChanged(chunk=0, job_name="batches/job-0", state="SUCCEEDED",
                                    stats={"requestCount": 4, "successfulRequestCount": 4},
                                    output_file="files/batch-out-0")]),
        (905.0, [ev.ResultsDownloaded(chunk=0, path=f".chargen/batch/{RUN}/results-000.jsonl", sha256="ef" * 32,
                                      bytes=9000, lines=5, remote_name="files/batch-out-0")]),
        (906.0, [
            ev.LineApplied(key=keys[0], chunk=0, outputs=(ev.Output(
                path="characters/ada/images/scene0-20251219T120000Z.png", sha256="01" * 32, bytes=1800,
                mime="image/png"),), files_updated=("characters/ada/imagery.yaml",),
                usage=ev.Usage(prompt_tokens=310, output_tokens=1290, total_tokens=1600)),
            ev.LineApplied(key=keys[1], chunk=0, outputs=(ev.Output(
                path="characters/bram/images/scene1-20251219T120000Z.png", sha256="02" * 32, bytes=1900,
                mime="image/png"),), files_updated=("characters/bram/imagery.yaml",),
                usage=ev.Usage(prompt_tokens=300, output_tokens=1290, total_tokens=1590)),
            ev.ItemFailed(key=keys[2], stage="result", code="IMAGE_SAFETY", message="finishReason IMAGE_SAFETY",
                          detail_path=f".chargen/batch/{RUN}/failed/scene2.json", chunk=0),
            ev.ResultIgnored(key=keys[1], chunk=0, reason="duplicate", line=5),
            ev.ItemFailed(key=keys[3], stage="missing", code="missing", message="no result line for this key",
                          chunk=0),
        ]),
        (907.0, [ev.RunCancelled(by="user", jobs=())]),
        (950.0, [ev.RunResumed(pid=103, tool_version="0.1.0", from_seq=29)]),
        (951.0, [ev.CallStarted(key=keys[3], attempt=1)]),
        (952.0, [ev.CallFailed(key=keys[3], attempt=1, kind="rate_limit", status=429, message="quota",
                               retry_after=2.5)]),
        (955.0, [ev.CallStarted(key=keys[3], attempt=2)]),
        (957.0, [ev.LineApplied(key=keys[3], chunk=0, outputs=(ev.Output(
            path="characters/bram/images/scene3-20251219T120000Z.png", sha256="03" * 32, bytes=2000,
            mime="image/png"),), files_updated=("characters/bram/imagery.yaml",),
            usage=ev.Usage(prompt_tokens=305, output_tokens=1290, total_tokens=1595))]),
        (958.0, [ev.FilesDeleted(names=("files/req-0",), jobs=("batches/job-0",))]),
        (958.5, [ev.RunCompleted(ok=3, failed=1, skipped=1)]),
        # appended later (the lines above stay byte-identical): the real-service events
        (958.6, [ev.UploadLost(sha256=sha_b, name="files/ref-ada", path="characters/ada/images/ref.png",
                                reason="not listed when chunk 0's results were applied")]),
        (958.7, [ev.JobQueued(chunk=0, display_name=f"chargen-es:{RUN}:0:2", attempt=2,
                               message="429 RESOURCE_EXHAUSTED: too many concurrent batch jobs", retry_after=120.0,
                               wait_s=120.0)]),
        (958.8, [ev.ItemsReopened(chunk=0, keys=(keys[3],), attempt=1, reason="file_missing")]),
        # issue 14 (appended after those): a deadline, a chunk
        # that falls back, its cancel racing a SUCCEEDED job, and a paid duplicate
        (960.0, [ev.RunResumed(pid=104, tool_version="0.1.0", from_seq=39)]),
        (960.5, [ev.FallbackPolicy(deadline="2025-12-19T12:16:30.000Z", duration_s=30.0, fallback="live",
                                   keep_batch=False, max_cost=5.0)]),
        (961.0, [ev.ChunkFallback(chunk=0, reason="deadline", job_name="batches/job-0", keys=1,
                                  live_cost_usd=0.145)]),
        (961.5, [ev.JobCancelling(chunk=0, job_name="batches/job-0")]),
        (962.0, [ev.JobCancelConfirmed(chunk=0, job_name="batches/job-0", state="SUCCEEDED")]),
        (962.5, [ev.ResultIgnored(key=keys[1], chunk=0, reason="already_applied", via="live",
                                  usage=ev.Usage(prompt_tokens=300, output_tokens=1290, total_tokens=1590))]),
        (963.0, [ev.RunCompleted(ok=3, failed=1, skipped=1)]),
        # issue 22 (appended after those): the collected results file deleted (one copy of each image)
        (963.5, [ev.ResultsDiscarded(chunk=0, path=f".chargen/batch/{RUN}/results-000.jsonl", sha256="ef" * 32,
                                     bytes=9000)]),
    ]


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    (HERE / "journal.jsonl").unlink(missing_ok=True)
    with Journal.open(HERE, create=True) as journal:
        for offset, group in sample_steps():
            journal.append_many(group, now=T0 + offset)
        events = list(journal.events)
    (HERE / LOCK_NAME).unlink()
    expected = HERE / "expected"
    expected.mkdir(exist_ok=True)
    for name, data in render(project(events)).items():
        (expected / name).write_bytes(data)
    print(f"wrote {len(events)} events to {HERE / 'journal.jsonl'} and {len(render(project(events)))} projections")


if __name__ == "__main__":
    main()
