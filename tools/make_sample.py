"""Regenerate the shipped sample tree's PNG images (tiny, valid, deterministic).

The YAML files of ``chargen_es/sample`` are written by hand; this script only draws the
reference and existing images, so the tree stays small and byte-for-byte reproducible:
``python tools/make_sample.py``.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "chargen_es" / "sample"

IMAGES = [
    "characters/ada/refs/ada-face.png",
    "characters/ada/images/ada-portrait.png",
    "characters/bram/refs/bram-armor.png",
    "characters/bram/refs/bram-sword.png",
    "characters/cyra/refs/cyra-sketch.png",
    "characters/dov/refs/dov-hat.png",
    "characters/dov/images/dov-old-drawing.png",
    "locations/harbor-town/refs/harbor-map.png",
    "locations/harbor-town/images/harbor-sketch.png",
    "locations/sky-library/refs/library-dome.png",
    "chapters/ch01-arrival/refs/ship.png",
    "chapters/ch02-storm/refs/storm-palette.png",
    # outputs recorded in the sample's imagery.yaml files (so a plan shows "done" skips)
    "characters/bram/images/tavern-story-20251201T090000Z.png",
    "locations/sky-library/images/great-dome-20251201T090000Z.png",
]


def png(width: int, height: int, seed: str) -> bytes:
    """An RGB PNG whose colours are a pure function of ``seed``."""
    h = hashlib.sha256(seed.encode()).digest()
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((h[0] + x * h[3]) & 255, (h[1] + y * h[4]) & 255, (h[2] + (x ^ y) * h[5]) & 255))
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(
        b"IEND", b""
    )


def main() -> None:
    for rel in IMAGES:
        path = SAMPLE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png(16, 16, rel))
        print(rel)


if __name__ == "__main__":
    main()
