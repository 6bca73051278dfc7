"""A tiny PNG writer (zlib + struct, no PIL): deterministic pictures, optionally padded.

Pixels come only from a seed (the hash of the canonical request), so a rerun of the same
request yields byte-identical images; that is what lets tests check exactly-once delivery
by content. Images stay small (about 64x64) to keep the emulator cheap; ``pad_to`` grows
the file to a realistic size with a private ancillary chunk, which decoders skip.
"""

from __future__ import annotations

import math
import struct
import zlib

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PAD_CHUNK = b"emPd"  # ancillary (e), private (m), reserved bit clear (P), safe-to-copy (d)
_BASE = 64


def size_for(aspect_ratio: str | None) -> tuple[int, int]:
    """Width and height for an ``"W:H"`` ratio at about 64x64 pixels of area."""
    try:
        w_s, h_s = (aspect_ratio or "1:1").split(":")
        w, h = float(w_s), float(h_s)
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        w, h = 1.0, 1.0
    return max(1, round(_BASE * math.sqrt(w / h))), max(1, round(_BASE * math.sqrt(h / w)))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def render(seed: bytes, width: int, height: int, pad_to: int = 0) -> bytes:
    """An RGB PNG of diagonal bands whose colours and period come from *seed*."""
    c0, c1 = seed[0:3], seed[3:6]
    period = 4 + seed[6] % 12
    tile = bytearray()
    for x in range(width + height + period * 2):
        tile += c0 if (x // period) % 2 == 0 else c1
    tile_b = bytes(tile)
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        raw += tile_b[3 * y: 3 * (y + width)]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = _SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(raw), 6))
    end = _chunk(b"IEND", b"")
    missing = pad_to - len(body) - len(end) - 12
    if missing > 0:
        filler = (seed * (missing // len(seed) + 1))[:missing]
        body += _chunk(_PAD_CHUNK, filler)
    return body + end
