"""Per-key integrity of a downloaded results file: joined on key, never on position.

The run is real (planned from a tree, journaled by the engine, resumed by the command);
only the downloaded results file is written by hand, so it can hold what a server should
never send: a duplicate key, a key nobody planned, a garbage line, a missing key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

from chargen_es import engine
from chargen_es import events as ev
from chargen_es.emulator.png import render
from chargen_es.journal import read_events
from chargen_es.planner import PlanOptions, build_plan
from tests.engine.harness import RUN_ID, chargen


def make_downloaded_run(root: Path, lines: Callable[[list[ev.Task]], list[bytes]]) -> list[ev.Task]:
    """A journaled run whose only chunk's results are downloaded: ``lines(tasks)``."""
    folder = root / "characters" / "ada"
    folder.mkdir(parents=True)
    (folder / "character.yaml").write_text("name: Ada\ndescription: A cartographer.\n")
    scenes = [{"id": f"scene-{n}", "prompt": f"scene {n}"} for n in range(5)]
    (folder / "image_ideas.yaml").write_text(json.dumps({"scenes": scenes}))
    plan = build_plan(PlanOptions(root=root, run_stamp=engine.run_stamp(RUN_ID)))
    record = engine.PlanRecord(tasks=plan.tasks, skipped=[], chunks=plan.chunks, config=plan.config,
                             estimated_cost_usd=0.0, live_cost_usd=0.0)
    run_dir = engine.runs_root(root) / RUN_ID
    journal = engine.start(run_dir, RUN_ID, root, "generate", "batch", record).journal
    body = b"".join(line + b"\n" for line in lines(plan.tasks))
    results = run_dir / "results-000.jsonl"
    results.write_bytes(body)
    journal.append_many([
        ev.JobSubmitting(chunk=0, display_name=f"chargen-es:{RUN_ID}:0:1", attempt=1),
        ev.JobSubmitted(chunk=0, job_name="batches/x", display_name=f"chargen-es:{RUN_ID}:0:1"),
        ev.JobStateChanged(chunk=0, job_name="batches/x", state="SUCCEEDED", output_file="files/batch-x"),
        ev.ResultsDownloaded(chunk=0, path=results.relative_to(root).as_posix(),
                             sha256=hashlib.sha256(body).hexdigest(), bytes=len(body), lines=body.count(b"\n")),
    ])
    journal.close()
    return plan.tasks


def image_line(key: str, seed: int) -> bytes:
    png = render(hashlib.sha256(seed.to_bytes(4, "big")).digest(), 8, 8)
    return json.dumps({"key": key, "response": {"candidates": [{"content": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}}]},
        "finishReason": "STOP"}]}}).encode()


def test_duplicates_unknown_keys_garbage_and_missing_keys(tmp_path: Path) -> None:
    root = tmp_path / "tree"

    def lines(tasks: list[ev.Task]) -> list[bytes]:
        out = [image_line(t.key, n) for n, t in enumerate(tasks[:4])]  # the fifth key is missing
        out.append(image_line(tasks[1].key, 99))  # a second line for a key: reported, ignored
        out.append(image_line("characters/ada/intruder@sha256:0000000000000000", 5))  # never planned
        out.append(b'{"key": "characters/ada/scene-2@sha256:trunc')  # garbage
        random.Random(4).shuffle(out)  # order means nothing
        return out

    tasks = make_downloaded_run(root, lines)
    done = chargen(root, "http://127.0.0.1:9", "resume", RUN_ID, "--no-cleanup", "--keep-results")
    assert done.returncode == 3, done.stdout + done.stderr  # finished, with a failed item
    events = read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")
    applied = {e.key for e in events if isinstance(e, ev.LineApplied)}
    failed = {e.key: e for e in events if isinstance(e, ev.ItemFailed)}
    ignored = sorted(e.reason for e in events if isinstance(e, ev.ResultIgnored))
    assert applied == {t.key for t in tasks[:4]}
    assert list(failed) == [tasks[4].key] and failed[tasks[4].key].code == "missing"
    assert ignored == ["duplicate", "unknown", "unparseable"]
    # the first line for a key wins; the duplicate after it did not overwrite its image
    results = (root / ".chargen" / "batch" / RUN_ID / "results-000.jsonl").read_bytes().splitlines()
    first = next(json.loads(r) for r in results if r.startswith(b'{"key": "' + tasks[1].key.encode()))
    data = base64.b64decode(first["response"]["candidates"][0]["content"]["parts"][0]["inlineData"]["data"])
    written = next(e for e in events if isinstance(e, ev.LineApplied) and e.key == tasks[1].key).outputs[0]
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256((root / written.path).read_bytes()).hexdigest() == written.sha256
    assert not any((root / "characters").rglob("*intruder*"))


def test_a_broken_imagery_yaml_fails_its_own_items_not_the_run(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    tasks = make_downloaded_run(root, lambda tasks: [image_line(t.key, n) for n, t in enumerate(tasks)])
    (root / "characters" / "ada" / "imagery.yaml").write_text("generated_images: {not: a list}\n")
    done = chargen(root, "http://127.0.0.1:9", "resume", RUN_ID, "--no-cleanup")
    assert done.returncode == 3, done.stdout + done.stderr
    events = read_events(root / ".chargen" / "batch" / RUN_ID / "journal.jsonl")
    failed = [e for e in events if isinstance(e, ev.ItemFailed)]
    assert sorted(e.key for e in failed) == sorted(t.key for t in tasks)
    assert all(e.code == "imagery_yaml" and "generated_images must be a list" in e.message for e in failed)
    assert events[-1].__struct_config__.tag == "run.completed"
