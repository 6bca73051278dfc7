"""Applying batch results: chargen-es against a bare decode + base64 + write + fsync loop.

Builds a real run (a generated tree of characters, the plan journaled by the engine, a
SUCCEEDED job and a downloaded results file of image lines shaped like Gemini 3's: a text
part and a JPEG part of about 1.5 MB, each final part carrying a ``thoughtSignature``,
together about 2 MB of base64 per line beside the image, as recorded answers carry 0.6 to
2.9 million characters per part), then
times ``Results.collect`` on it: decode, per-key join, atomic image writes, imagery.yaml
updates and ``line.applied`` appends, all durable. The baseline decodes the same lines,
base64-decodes the image, writes and fsyncs it, nothing else. Both run in child processes
so peak RSS is measured per process; a second pass applies a results file of about 1 GB
and reports its peak RSS (budget: under 200 MB).

    python tools/bench_apply.py [--images 300] [--image-mb 1.5] [--signature-mb 1.5] [--big-gb 1.0]

The last line is the throughput ratio chargen-es / bare (budget: >= 0.5).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import trio

from chargen_es import engine
from chargen_es import events as ev
from chargen_es.engine.collect import Results
from chargen_es.engine.uploads import Uploads
from chargen_es.journal import Journal
from chargen_es.planner import PlanOptions, build_plan

SCENES_PER_CHARACTER = 6
RUN_ID = "2030-01-01T00-00-00Z"


def make_tree(root: Path, images: int) -> None:
    for i in range((images + SCENES_PER_CHARACTER - 1) // SCENES_PER_CHARACTER):
        folder = root / "characters" / f"c{i:04d}"
        folder.mkdir(parents=True)
        (folder / "character.yaml").write_text(f"name: Character {i}\ndescription: A bench subject.\n")
        scenes = [{"id": f"s{j}", "prompt": f"scene {j} of character {i}"} for j in range(SCENES_PER_CHARACTER)
                  if i * SCENES_PER_CHARACTER + j < images]
        (folder / "image_ideas.yaml").write_text(json.dumps({"scenes": scenes}))


def make_run(root: Path, images: int, image_bytes: int, signature_bytes: int) -> tuple[Path, int]:
    """A journaled run whose only chunk is downloaded and ready to apply."""
    make_tree(root, images)
    plan = build_plan(PlanOptions(root=root, run_stamp=engine.run_stamp(RUN_ID), chunk_size=images))
    record = engine.PlanRecord(tasks=plan.tasks, skipped=[], chunks=plan.chunks, config=plan.config,
                             estimated_cost_usd=0.0, live_cost_usd=0.0)
    run_dir = engine.runs_root(root) / RUN_ID
    journal = engine.start(run_dir, RUN_ID, root, "generate", "batch", record).journal
    results = run_dir / "results-000.jsonl"
    digest = hashlib.sha256()
    size = 0
    half = signature_bytes // 2
    signatures = [base64.b64encode(bytes([k]) * half).decode() for k in (1, 2)]
    with open(results, "wb") as f:
        for n, task in enumerate(plan.tasks):
            payload = b"\xff\xd8\xff\xe0" + (n.to_bytes(4, "big") * (image_bytes // 4 + 1))[:image_bytes - 4]
            response = {"candidates": [{"content": {"parts": [
                {"text": f"Here is scene {n}.", "thoughtSignature": signatures[0]},
                {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(payload).decode()},
                 "thoughtSignature": signatures[1]}], "role": "model"}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1283, "totalTokenCount": 1467,
                                  "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
                                  "thoughtsTokenCount": 174},
                "modelVersion": "gemini-3-pro-image", "responseId": f"bench{n:017d}"}
            line = json.dumps({"response": response, "key": task.key}, separators=(",", ":")).encode() + b"\n"
            f.write(line)
            digest.update(line)
            size += len(line)
    journal.append_many([
        ev.JobSubmitting(chunk=0, display_name=f"chargen-es:{RUN_ID}:0:1", attempt=1),
        ev.JobSubmitted(chunk=0, job_name="batches/bench", display_name=f"chargen-es:{RUN_ID}:0:1"),
        ev.JobStateChanged(chunk=0, job_name="batches/bench", state="SUCCEEDED", output_file="files/batch-bench"),
        ev.ResultsDownloaded(chunk=0, path=results.relative_to(root).as_posix(), sha256=digest.hexdigest(),
                             bytes=size, lines=len(plan.tasks)),
    ])
    journal.close()
    return results, size


def child_ours(root: Path) -> None:
    run_dir = engine.runs_root(root) / RUN_ID
    journal = Journal.open(run_dir)
    recorder = engine.Recorder(journal)
    options = engine.EngineOptions(root=root, run_dir=run_dir, cleanup=False, generated_at="2030-01-01T00:00:00Z")
    progress = engine.Progress()
    uploads = Uploads(recorder, None, options, progress)  # type: ignore[arg-type]  # collecting makes no call
    results = Results(recorder, None, options, progress, uploads)  # type: ignore[arg-type]
    start = time.perf_counter()
    trio.run(results.collect, 0)
    elapsed = time.perf_counter() - start
    applied = sum(1 for e in journal.events if isinstance(e, ev.LineApplied))
    journal.close()
    print(json.dumps({"seconds": elapsed, "applied": applied,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


class _Data(msgspec.Struct):
    data: str = ""


class _Part(msgspec.Struct):
    inlineData: _Data | None = None  # noqa: N815


class _Content(msgspec.Struct):
    parts: list[_Part] = []


class _Candidate(msgspec.Struct):
    content: _Content | None = None


class _Response(msgspec.Struct):
    candidates: list[_Candidate] = []


class _Line(msgspec.Struct):
    key: str = ""
    response: _Response | None = None


def child_bare(results: Path, out: Path) -> None:
    """Decode, base64, write, fsync: the least any applier must do."""
    decoder = msgspec.json.Decoder(_Line)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n = 0
    with open(results, "rb") as f:
        for raw in f:
            line = decoder.decode(raw)
            data = base64.b64decode(line.response.candidates[0].content.parts[-1].inlineData.data)  # type: ignore[union-attr]
            fd = os.open(out / f"{n}.jpg", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            n += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"seconds": elapsed, "applied": n,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--image-mb", type=float, default=1.5)
    parser.add_argument("--signature-mb", type=float, default=1.5,
                        help="decoded thoughtSignature bytes per line (0: none; 1.5 MB is 2 MB of base64)")
    parser.add_argument("--big-gb", type=float, default=1.0, help="results file size for the RSS pass (0: skip)")
    parser.add_argument("--child", choices=["ours", "bare"])
    parser.add_argument("--root")
    parser.add_argument("--results")
    args = parser.parse_args()
    if args.child == "ours":
        child_ours(Path(args.root))
        return
    if args.child == "bare":
        child_bare(Path(args.results), Path(args.root))
        return
    image_bytes = int(args.image_mb * 1024 * 1024)
    signature_bytes = int(args.signature_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="bench-apply-", dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp) / "tree"
        results, size = make_run(root, args.images, image_bytes, signature_bytes)
        bare = _child("--child", "bare", "--results", str(results), "--root", str(Path(tmp) / "bare"))
        ours = _child("--child", "ours", "--root", str(root))
        assert ours["applied"] == args.images, ours
        mb = size / 1e6
        print(f"results file: {args.images} lines, {mb:.0f} MB")
        print(f"bare decode+base64+write+fsync: {bare['seconds']:.2f} s  {args.images / bare['seconds']:.0f} lines/s "
              f"{mb / bare['seconds']:.0f} MB/s  peak RSS {bare['rss_mb']:.0f} MB")
        print(f"chargen-es apply:               {ours['seconds']:.2f} s  {args.images / ours['seconds']:.0f} lines/s "
              f"{mb / ours['seconds']:.0f} MB/s  peak RSS {ours['rss_mb']:.0f} MB")
        ratio = bare["seconds"] / ours["seconds"]
    if args.big_gb > 0:
        with tempfile.TemporaryDirectory(prefix="bench-apply-big-", dir=os.environ.get("BENCH_TMP")) as tmp:
            root = Path(tmp) / "tree"
            count = max(1, int(args.big_gb * 1e9 / ((image_bytes + signature_bytes) * 4 / 3 + 600)))
            results, size = make_run(root, count, image_bytes, signature_bytes)
            big = _child("--child", "ours", "--root", str(root))
            print(f"1 GB pass: {count} lines, {size / 1e9:.2f} GB, applied {big['applied']:.0f} in "
                  f"{big['seconds']:.1f} s, peak RSS {big['rss_mb']:.0f} MB (budget 200 MB)")
    print(f"ratio chargen-es/bare: {ratio:.2f}")


if __name__ == "__main__":
    main()
