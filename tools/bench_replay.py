"""Replay benchmark: a 1,000,000-event journal into every projection vs bare msgspec decode.

The journal is generated through the real ``Journal.append_many`` (stamping, sealing,
group commit) in a temp folder, with a realistic mix: run.started, task.planned with
references, some task.skipped, plan.sealed, reference and requests uploads, job
submitting / submitted / state changes per chunk of 500, results.downloaded, line.applied
with outputs and usage for most tasks and item.failed for some, run.completed.

Ours: read the file, verify every line's CRC and seq, decode, fold into the projections
model (``read_events`` + ``project``). Rendering the four JSON files is timed apart.
Baseline: the faster of ``Decoder(AnyEvent).decode_lines`` over the whole file and a
per-line ``Decoder.decode`` loop, best of three each. The ratio baseline/ours is the last
line (target >= 0.5).

    python tools/bench_replay.py [--events N]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from chargen_es import events as ev
from chargen_es.journal import JOURNAL_NAME, Journal, read_events
from projections import project, render

CHUNK = 500


def generate_events(total: int) -> Iterator[ev.Event]:
    """About ``total`` events shaped like a real batch run (2.1 events per task)."""
    n_tasks = max(1, int(total / 2.13))
    n_chunks = (n_tasks + CHUNK - 1) // CHUNK
    yield ev.RunStarted(run_id="2025-12-19T12-00-00Z", tool_version="0.1.0", mode="generate", runner="batch",
                        root="/tmp/tree", pid=4242, config={"chunk_size": CHUNK, "model": "gemini-3-pro-image-preview"})
    for i in range(n_tasks):
        ref = ev.FileRef(path=f"characters/c{i // 20}/images/ref.png", sha256=f"{i // 20:064x}", size=123456,
                         mime="image/png")
        yield ev.TaskPlanned(task=ev.Task(
            key=f"characters/c{i // 20}/scene{i % 20}@sha256:{i:016x}", kind="generate",
            entity_type="characters", slug=f"c{i // 20}", scene=f"scene{i % 20}",
            prompt=f"Style preamble. Character c{i // 20}: a tall figure in a long coat. Scene {i}: "
                   "standing at the harbour at dusk, rain, lanterns, cinematic light.",
            model="gemini-3-pro-image-preview", output_dir=f"characters/c{i // 20}/images",
            output_stem=f"scene{i % 20}-20251219T120000Z", title=f"Scene {i}", references=(ref,),
            generation_config={"aspect_ratio": "1:1"}, chunk=i // CHUNK, entity_file=f"characters/c{i // 20}/image_ideas.yaml"))
    for i in range(n_tasks // 100):
        yield ev.TaskSkipped(key=f"characters/d{i}/scene@sha256:{i:016x}", reason="done", entity_type="characters",
                             slug=f"d{i}", scene="scene")
    yield ev.PlanSealed(tasks=n_tasks, skipped=n_tasks // 100, chunks=n_chunks, plan_sha256="ab" * 32,
                        estimated_cost_usd=n_tasks * 0.067, live_cost_usd=n_tasks * 0.134)
    for r in range(0, n_tasks, 20):
        sha = f"{r // 20:064x}"
        common = dict(purpose="reference", path=f"characters/c{r // 20}/images/ref.png", sha256=sha, size=123456,
                      mime="image/png", display_name=f"chargen-es:{sha}")
        yield ev.UploadStarted(**common)  # type: ignore[arg-type]
        yield ev.UploadCompleted(**common, name=f"files/r{r}", uri=f"https://x/files/r{r}",  # type: ignore[arg-type]
                                 expires="2025-12-21T12:00:00Z")
    for c in range(n_chunks):
        path = f".chargen/batch/x/requests-{c:03d}.jsonl"
        yield ev.RequestsWritten(chunk=c, path=path, sha256="cd" * 32, lines=CHUNK, bytes=CHUNK * 900)
        yield ev.UploadStarted(purpose="requests", path=path, sha256=f"{c:064x}", size=CHUNK * 900,
                               mime="application/jsonl", display_name=f"chargen-es:{c}", chunk=c)
        yield ev.UploadCompleted(purpose="requests", path=path, sha256=f"{c:064x}", size=CHUNK * 900,
                                 mime="application/jsonl", display_name=f"chargen-es:{c}", name=f"files/q{c}",
                                 uri=f"https://x/files/q{c}", expires="2025-12-21T12:00:00Z", chunk=c)
        name = f"chargen-es:2025-12-19T12-00-00Z:{c}:1"
        yield ev.JobSubmitting(chunk=c, display_name=name, attempt=1, model="gemini-3-pro-image-preview",
                               input_file=f"files/q{c}")
        yield ev.JobSubmitted(chunk=c, job_name=f"batches/{c}", display_name=name)
        for state in ("PENDING", "RUNNING", "SUCCEEDED"):
            yield ev.JobStateChanged(chunk=c, job_name=f"batches/{c}", state=state,
                                     stats={"requestCount": CHUNK, "successfulRequestCount": CHUNK if state == "SUCCEEDED" else 0})
        yield ev.ResultsDownloaded(chunk=c, path=f".chargen/batch/x/results-{c:03d}.jsonl", sha256="ef" * 32,
                                   bytes=CHUNK * 1_500_000, lines=CHUNK)
    for i in range(n_tasks):
        key = f"characters/c{i // 20}/scene{i % 20}@sha256:{i:016x}"
        if i % 19 == 7:
            yield ev.ItemFailed(key=key, stage="result", code="SAFETY", message="finishReason IMAGE_SAFETY",
                                detail_path=f".chargen/batch/x/failed/{i}.json", chunk=i // CHUNK)
        else:
            yield ev.LineApplied(key=key, chunk=i // CHUNK, outputs=(ev.Output(
                path=f"characters/c{i // 20}/images/scene{i % 20}-20251219T120000Z.png", sha256=f"{i:064x}",
                bytes=1_400_000, mime="image/png"),), files_updated=(f"characters/c{i // 20}/imagery.yaml",),
                usage=ev.Usage(prompt_tokens=300, output_tokens=1290, total_tokens=1590))
    yield ev.RunCompleted(ok=n_tasks - n_tasks // 19, failed=n_tasks // 19, skipped=n_tasks // 100)


def write_journal(run_dir: Path, total: int) -> Path:
    batch: list[ev.Event] = []
    with Journal.open(run_dir, create=True) as journal:
        for e in generate_events(total):
            batch.append(e)
            if len(batch) == 10_000:
                journal.append_many(batch, now=1766145600.0)
                batch.clear()
        journal.append_many(batch, now=1766145600.0)
    return run_dir / JOURNAL_NAME


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        t0 = time.perf_counter()
        path = write_journal(Path(tmp) / "run", args.events)
        size = path.stat().st_size
        n = len(read_events(path))
        print(f"generated {n} events, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")
        decoder: msgspec.json.Decoder[ev.AnyEvent] = msgspec.json.Decoder(ev.AnyEvent)

        def bare_lines() -> object:
            return decoder.decode_lines(path.read_bytes())

        def bare_loop() -> object:
            decode = decoder.decode
            with open(path, "rb") as f:
                return [decode(line) for line in f]

        def ours() -> object:
            return project(read_events(path))

        t_lines = best_of(bare_lines)
        t_loop = best_of(bare_loop)
        t_ours = best_of(ours)
        model = project(read_events(path))
        t_render = best_of(lambda: render(model), repeat=1)
        bare = min(t_lines, t_loop)
        print(f"bare decode_lines: {t_lines:.3f} s ({n / t_lines:,.0f} events/s)")
        print(f"bare per-line decode loop: {t_loop:.3f} s ({n / t_loop:,.0f} events/s)")
        print(f"ours (read + verify + decode + project): {t_ours:.3f} s ({n / t_ours:,.0f} events/s)")
        print(f"render four projection files (not in the ratio): {t_render:.3f} s")
        print(f"ratio bare/ours = {bare / t_ours:.2f}")


if __name__ == "__main__":
    main()
