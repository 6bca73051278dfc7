"""Benchmark: planning 10,000 entities against bare ``yaml.CSafeLoader`` parsing.

docs/run-format.md (section 3) budgets planning at <= 1.5x the time it takes just to parse the same
YAML files with PyYAML's C loader. This script writes a tree of 10,000 entities (6,000
characters, 2,000 locations, 2,000 chapters; 6 scenes each, so 60,000 scenes; one small
reference PNG per entity) to a temp folder, then times, in the same process and
alternately, (a) reading and parsing every YAML file with ``yaml.CSafeLoader`` and (b)
``build_plan`` on the tree. It prints both best-of-N times and, as the last line, the
ratio ours/bare.

    python tools/bench_plan.py [--entities 10000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import struct
import tempfile
import time
import zlib
from pathlib import Path

import yaml

from chargen_es.planner import PlanOptions, build_plan

TYPES = (("characters", "character.yaml", 0.6), ("locations", "location.yaml", 0.2), ("chapters", "chapter.yaml", 0.2))
SCENES = 6
RATIOS = ("1:1", "16:9", "4:3", "3:2", "9:16", "21:9")


def tiny_png(seed: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + bytes([(seed + x) & 255, (seed * 7) & 255, x * 16]) * 1 for x in range(4)) * 4
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_tree(root: Path, entities: int) -> list[Path]:
    """Write the tree; return every YAML file (what the bare baseline parses)."""
    yamls: list[Path] = []
    (root / "chargen.yaml").write_text("style: Painterly storybook illustration.\naspect_ratio: '4:3'\n")
    yamls.append(root / "chargen.yaml")
    n = 0
    for entity_type, file_name, share in TYPES:
        for i in range(int(entities * share)):
            folder = root / entity_type / f"{entity_type[:-1]}-{i:05d}"
            (folder / "refs").mkdir(parents=True)
            (folder / "refs" / "ref.png").write_bytes(tiny_png(n))
            entity_file = folder / file_name
            entity_file.write_text(
                f"name: Entity {n}\n"
                f"description: >-\n  A description of entity number {n}, with a few words about how it\n"
                f"  looks, what it wears and where it is usually found.\n"
                f"references:\n  - refs/ref.png\n",
                encoding="utf-8",
            )
            lines = ["scenes:"]
            for s in range(SCENES):
                lines += [
                    f"  - id: scene-{s}",
                    f"    title: Scene {s} of {n}",
                    f"    prompt: Entity {n} in scene {s}, doing something memorable in good light.",
                ]
                if s % 2:
                    lines.append(f"    aspect_ratio: '{RATIOS[s % len(RATIOS)]}'")
                if s % 3 == 0:
                    lines.append("    negative_prompt: text, watermark")
            ideas = folder / "image_ideas.yaml"
            ideas.write_text("\n".join(lines) + "\n", encoding="utf-8")
            yamls += [entity_file, ideas]
            n += 1
    return yamls


def bare(files: list[Path]) -> float:
    loader = yaml.CSafeLoader
    t0 = time.perf_counter()
    for path in files:
        with open(path, "rb") as fh:
            yaml.load(fh.read(), Loader=loader)
    return time.perf_counter() - t0


def ours(root: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    plan = build_plan(PlanOptions(root=root, run_stamp="20251219T120000Z"))
    return time.perf_counter() - t0, len(plan.tasks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="write the tree here and keep it")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chargen-bench-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        files = make_tree(tmp, args.entities)
        print(f"tree: {args.entities} entities, {len(files)} YAML files in {time.perf_counter() - t0:.1f}s ({tmp})")
        bare_times, our_times = [], []
        tasks = 0
        for _ in range(args.repeat):
            gc.collect()
            bare_times.append(bare(files))
            gc.collect()
            elapsed, tasks = ours(tmp)
            our_times.append(elapsed)
        b, o = min(bare_times), min(our_times)
        print(f"bare yaml.CSafeLoader parse: {b:.3f}s (best of {args.repeat}: {', '.join(f'{t:.3f}' for t in bare_times)})")
        print(f"build_plan ({tasks} tasks):  {o:.3f}s (best of {args.repeat}: {', '.join(f'{t:.3f}' for t in our_times)})")
        print(f"ratio ours/bare: {o / b:.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
