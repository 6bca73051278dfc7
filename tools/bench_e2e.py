"""End to end: ``chargen-es run`` on 1,000 tasks against a minimal direct SDK script.

Both talk to the same kind of in-process emulator (a fresh one each, no job delay) over
loopback through the unmodified google-genai SDK. The tree has 1,000 scenes over
characters that each have one reference image. The baseline does the least a script
could: upload the references (5 threads), write and upload one JSONL per 500 requests,
create the jobs, poll, download, decode and write the images. No journal, no fsync, no
imagery.yaml, no crash safety. chargen-es does all of that, durably.

    python tools/bench_e2e.py [--tasks 1000]

The last line is the wall-time ratio chargen-es / baseline (budget: <= 1.2).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from google import genai
from google.genai import types

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.emulator.png import render

SCENES = 6
CHUNK = 500


def make_tree(root: Path, tasks: int) -> None:
    for i in range((tasks + SCENES - 1) // SCENES):
        folder = root / "characters" / f"c{i:04d}"
        folder.mkdir(parents=True)
        ref = render(i.to_bytes(4, "big") * 8, 32, 32)
        (folder / "ref.png").write_bytes(ref)
        (folder / "character.yaml").write_text(
            f"name: Character {i}\ndescription: A bench subject.\nreferences: [ref.png]\n")
        scenes = [{"id": f"s{j}", "prompt": f"scene {j} of character {i}"} for j in range(SCENES)
                  if i * SCENES + j < tasks]
        (folder / "image_ideas.yaml").write_text(json.dumps({"scenes": scenes}))


def baseline(root: Path, base_url: str) -> float:
    """Upload, create, poll, download, write: a script with no journal."""
    start = time.perf_counter()
    client = genai.Client(api_key="bench", http_options=types.HttpOptions(
        base_url=base_url, api_version="v1beta", client_args={"trust_env": False}))
    folders = sorted((root / "characters").iterdir())

    def upload(folder: Path) -> tuple[Path, str]:
        f = client.files.upload(file=str(folder / "ref.png"), config={"mime_type": "image/png"})
        return folder, f.uri or ""

    with ThreadPoolExecutor(5) as pool:
        uris = dict(pool.map(upload, folders))
    lines = []
    for folder in folders:
        for scene in json.loads((folder / "image_ideas.yaml").read_text())["scenes"]:
            lines.append({"key": f"{folder.name}/{scene['id']}", "request": {"contents": [{"role": "user", "parts": [
                {"fileData": {"fileUri": uris[folder], "mimeType": "image/png"}}, {"text": scene["prompt"]}]}],
                "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "1:1"}}}})
    jobs = []
    out = root / "baseline-out"
    out.mkdir()
    for n in range(0, len(lines), CHUNK):
        path = out / f"requests-{n // CHUNK}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines[n:n + CHUNK]))
        src = client.files.upload(file=str(path), config={"mime_type": "application/jsonl"})
        jobs.append(client.batches.create(model="gemini-3-pro-image", src=src.name or ""))
    for job in jobs:
        while True:
            got = client.batches.get(name=job.name or "")
            if got.done:
                break
            time.sleep(0.05)
        data = client.files.download(file=got.dest.file_name or "")  # type: ignore[union-attr]
        for raw in data.splitlines():
            line = json.loads(raw)
            parts = line["response"]["candidates"][0]["content"]["parts"]  # Gemini 3: thought parts first
            part = next(p for p in reversed(parts) if "inlineData" in p and not p.get("thought"))
            (out / (line["key"].replace("/", "_") + ".png")).write_bytes(base64.b64decode(part["inlineData"]["data"]))
    return time.perf_counter() - start


def baseline_process(root: Path, base_url: str) -> float:
    """The baseline as a script of its own, so both sides pay for starting Python."""
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--baseline-child", str(root), base_url], check=True)
    return time.perf_counter() - start


def ours(root: Path, base_url: str) -> float:
    env = {**os.environ, "GEMINI_API_KEY": "bench", "NO_PROXY": "127.0.0.1,localhost"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "chargen_es", "run", "--root", str(root), "--yes", "--base-url", base_url,
                    "--poll-interval", "0.05", "--chunk-size", str(CHUNK)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="best of N for each side")
    parser.add_argument("--baseline-child", nargs=2, metavar=("ROOT", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        baseline(Path(args.baseline_child[0]), args.baseline_child[1])
        return
    bare_times, our_times = [], []
    for n in range(args.rounds):
        bare, mine = one_round(args.tasks, n)
        bare_times.append(bare)
        our_times.append(mine)
    bare, mine = min(bare_times), min(our_times)
    print(f"baseline script (no journal, no fsync): best {bare:.2f} s of {', '.join(f'{t:.2f}' for t in bare_times)}")
    print(f"chargen-es run (journaled, durable):   best {mine:.2f} s of {', '.join(f'{t:.2f}' for t in our_times)}")
    print(f"both as fresh processes, {args.tasks} tasks, {args.tasks // CHUNK} jobs, same emulator settings")
    print(f"ratio chargen-es/baseline: {mine / bare:.2f}")


def one_round(tasks: int, n: int) -> tuple[float, float]:
    """One timed run of each side, in fresh trees against fresh emulators."""
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        make_tree(a, tasks)
        make_tree(b, tasks)
        with Emulator(EmulatorConfig(job_seconds=0.0, seed=1)) as emu:
            bare = baseline_process(a, emu.base_url)
        with Emulator(EmulatorConfig(job_seconds=0.0, seed=1)) as emu:
            mine = ours(b, emu.base_url)
        written = len(list(b.glob("characters/*/images/*.png")))
        assert written == tasks, f"chargen-es wrote {written} images"
        assert len(list((a / "baseline-out").glob("*.png"))) == tasks
    return bare, mine


if __name__ == "__main__":
    main()
