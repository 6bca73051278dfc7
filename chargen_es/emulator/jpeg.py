"""A tiny baseline JPEG writer (no PIL): the real size and marker layout of Gemini 3 images.

Why: Gemini 3 and 3.1 image models answer ``image/jpeg``, not PNG: a JFIF header, an
APP11 (0xFFEB) JUMBF/C2PA segment of about 6 KB and no EXIF, at 1408x768 for a request
with no aspect ratio, 1376x768 at 16:9 and 1024x1024 at 1:1 at the default 1K size, and
352x2928 at 1:8 (recorded answers of gemini-3-pro-image(-preview) and
gemini-3.1-flash-lite-image, 2025-11 to 2026-08). A client that names files by mime,
reads dimensions or keeps several megabytes per answer must meet those shapes here.

The picture is a grey band pattern from the seed (pure function of the request, like
:mod:`.png`): 8x8 blocks with only a DC coefficient, coded with the standard luminance DC
table and a one-symbol AC table (EOB), so even a 4K image is about 100 KB and takes
milliseconds. The C2PA segment is shaped like one (``JP`` box header, a ``jumb``
superbox labelled ``c2pa``), not a signed manifest. ``pad_to`` adds further APP11
segments, as a large C2PA manifest is split across several.
"""

from __future__ import annotations

import struct

# Width x height at 1K per aspect ratio. Recorded: default (no ratio) 1408x768, 16:9
# 1376x768, 1:1 1024x1024, 1:8 352x2928; the other 1K sizes are the table third-party
# docs quote for Nano Banana Pro (doc.ai.soraliststudio.com, read 2026-12-07); 1:4 and 4:1
# are estimated at the same area. 2K and 4K double and quadruple each side, 512 halves it.
SIZES_1K: dict[str, tuple[int, int]] = {
    "": (1408, 768), "1:1": (1024, 1024), "16:9": (1376, 768), "9:16": (768, 1376), "4:3": (1200, 896),
    "3:4": (896, 1200), "3:2": (1232, 816), "2:3": (816, 1232), "21:9": (1584, 672), "5:4": (1136, 896),
    "4:5": (896, 1136), "1:8": (352, 2928), "8:1": (2928, 352), "1:4": (512, 2048), "4:1": (2048, 512),
}
_SCALE = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}

# Standard luminance DC Huffman table (ITU T.81 Annex K.3): code lengths per category.
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))
_QUANT = 8


def dimensions(aspect_ratio: str | None, image_size: str | None) -> tuple[int, int]:
    """Width and height Gemini 3 makes for a ratio ("" or None: its default) and a size."""
    base = SIZES_1K.get(aspect_ratio or "", SIZES_1K[""])
    scale = _SCALE.get(image_size or "1K", 1.0)
    return max(8, int(base[0] * scale)), max(8, int(base[1] * scale))


def _dc_codes() -> dict[int, str]:
    codes: dict[int, str] = {}
    code, k = 0, 0
    for length, count in enumerate(_DC_BITS, 1):
        for _ in range(count):
            codes[_DC_VALUES[k]] = format(code, f"0{length}b")
            code += 1
            k += 1
        code <<= 1
    return codes


_DC = _dc_codes()
_EOB = "0"  # the AC table below has one symbol, 0x00 (end of block), with the 1-bit code 0


def _dc_bits(diff: int) -> str:
    if diff == 0:
        return _DC[0]
    cat = abs(diff).bit_length()
    value = diff if diff > 0 else diff + (1 << cat) - 1
    return _DC[cat] + format(value, f"0{cat}b")


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">HH", marker, len(body) + 2) + body


def _c2pa(seed: bytes, index: int, size: int) -> bytes:
    """One APP11 JUMBF segment shaped like a C2PA manifest's (``JP``, instance, sequence, box)."""
    label = b"c2pa\x00"
    jumd = b"jumd" + bytes(16) + b"\x03" + label
    payload = (seed * (size // max(1, len(seed)) + 1))[:max(0, size)]
    box = struct.pack(">I", 8 + 4 + len(jumd) + len(payload)) + b"jumb" + struct.pack(">I", 4 + len(jumd)) + jumd
    return _segment(0xFFEB, b"JP" + struct.pack(">HI", 1, index) + box + payload)


def render(seed: bytes, width: int, height: int, pad_to: int = 0) -> bytes:
    """A greyscale baseline JPEG of ``width`` x ``height`` in horizontal bands from ``seed``."""
    blocks_x, blocks_y = -(-width // 8), -(-height // 8)
    period = 2 + seed[0] % 6  # block rows per band
    levels = (seed[1] % 96 - 48, seed[2] % 96 - 48)  # quantised DC of the two band colours
    bits: list[str] = []
    previous = 0
    zero_block = _DC[0] + _EOB
    for by in range(blocks_y):
        dc = levels[(by // period) % 2]
        bits.append(_dc_bits(dc - previous) + _EOB + zero_block * (blocks_x - 1))
        previous = dc
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    data = int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""
    data = data.replace(b"\xff", b"\xff\x00")
    header = b"\xff\xd8" + _segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    header += _c2pa(seed, 1, 6 * 1024)
    header += _segment(0xFFDB, b"\x00" + bytes([_QUANT]) * 64)
    header += _segment(0xFFC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    header += _segment(0xFFC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALUES))
    header += _segment(0xFFC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    scan = _segment(0xFFDA, b"\x01\x01\x00\x00\x3f\x00") + data + b"\xff\xd9"
    missing = pad_to - len(header) - len(scan)
    index = 2
    while missing > 64:
        chunk = min(missing - 30, 60_000)
        header += _c2pa(seed, index, chunk)
        missing = pad_to - len(header) - len(scan)
        index += 1
    return header + scan


def size_of(data: bytes) -> tuple[int, int]:
    """Width and height from a JPEG's SOF0 segment (for tests and the emulator's own checks)."""
    pos = 2
    while pos + 4 <= len(data):
        marker, length = struct.unpack(">HH", data[pos:pos + 4])
        if marker == 0xFFC0:
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    raise ValueError("no SOF0 segment")
