"""What the emulator says about a picture: the colours it really holds, and words.

A structured answer about an image (an analysis) used to be placeholders
(``traits[0-54727b``), and they flowed on into prompts and the gallery. The emulator
draws its own pictures (and the sample's are as simple), so it can describe them: the
palette is the picture's most common colours when it is a PNG (the emulator draws its
2.5-style pictures and the sample's that way; a JPEG's palette takes colour words), each
named by its hue band and brightness with
its hex code, read from the PNG's own pixels; the other fields take words from small
fixed vocabularies chosen by the field's name. Everything is a pure function of the
request and the bytes it refers to, so a repeated request gets the same answer.
"""

from __future__ import annotations

import colorsys
import functools
import struct
import zlib
from collections import Counter

# Colour names by hue band (degrees, upper bound), as a person would say them.
_HUES: tuple[tuple[float, str], ...] = (
    (12, "red"), (35, "orange"), (50, "amber"), (68, "yellow"), (95, "lime"), (150, "green"), (185, "teal"),
    (205, "cyan"), (245, "blue"), (275, "violet"), (320, "magenta"), (345, "rose"), (360, "red"),
)

VOCABULARY: dict[str, tuple[str, ...]] = {
    "archetype": ("wandering cartographer", "steadfast guardian", "curious scholar", "sly trader",
                  "weathered sailor", "harbor town", "floating library", "storm-bound coast", "quiet archive"),
    "traits": ("copper braids", "ink-stained fingers", "weathered coat", "brass goggles", "wide-brimmed hat",
               "patched satchel", "silver earring", "freckled cheeks", "heavy boots", "rolled maps",
               "lantern at the belt", "salt-streaked cloak", "sharp silhouette", "tall arched windows"),
    # colour words for a palette whose picture this decoder cannot read (a JPEG): plausible,
    # not the picture's own
    "palette": ("teal", "amber", "deep blue", "rust", "pale sand", "moss green", "charcoal", "rose"),
    "mood": ("quiet anticipation", "restless curiosity", "stormy tension", "warm nostalgia", "brisk morning calm",
             "hushed wonder"),
    "style": ("painterly storybook illustration", "ink and watercolour", "soft gouache", "loose charcoal sketch",
              "textured digital painting", "flat shapes with rim light"),
}
_ADJECTIVES = ("quiet", "bright", "weathered", "gilded", "misty", "bold", "faded", "sharp")
_NOUNS = ("lantern", "harbor", "archive", "compass", "tide", "window", "ribbon", "tower")
COLOUR_FIELDS = frozenset({"palette", "colors", "colours", "color", "colour"})


def words(field_name: str, pick: int, index: int = 0) -> str:
    """A plausible phrase for a text field (its own vocabulary, or two generic words);
    ``index`` steps through the list so the items of one array differ."""
    vocab = VOCABULARY.get(field_name.lower())
    if vocab:
        return vocab[(pick + index) % len(vocab)]
    return f"{_ADJECTIVES[(pick + index) % len(_ADJECTIVES)]} {_NOUNS[(pick // 7 + index) % len(_NOUNS)]}"


def palette(png: bytes, most: int = 3) -> list[str]:
    """The most common colours of a PNG as ``name (#rrggbb)``, most common first; empty
    when the bytes are not a PNG this small decoder reads (8-bit, not interlaced)."""
    return list(_palette(png, most))


@functools.lru_cache(maxsize=64)
def _palette(png: bytes, most: int) -> tuple[str, ...]:
    """Decoded in pure Python, pixel by pixel: a run analyses the same few pictures again
    and again (each scene's references), so each picture is decoded once per process."""
    pixels = _pixels(png)
    if not pixels:
        return ()
    out: list[str] = []
    for rgb, _ in Counter(pixels).most_common(most * 4):
        label = f"{_nearest(rgb)} (#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x})"
        if not any(o.split(" (#")[0] == label.split(" (#")[0] for o in out):
            out.append(label)
        if len(out) == most:
            break
    return tuple(out)


def _nearest(rgb: tuple[int, int, int]) -> str:
    """A colour's name: grey shades by brightness, else its hue band, "deep" when dark and
    "pale" when washed out."""
    hue, saturation, value = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    if saturation < 0.18 or value < 0.12:
        return "black" if value < 0.2 else "charcoal" if value < 0.45 else "grey" if value < 0.8 else "white"
    name = next(label for bound, label in _HUES if hue * 360 <= bound)
    if value < 0.45:
        return f"deep {name}"
    return f"pale {name}" if saturation < 0.4 and value > 0.7 else name


_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # grey, RGB, grey+alpha, RGBA


def _pixels(png: bytes) -> list[tuple[int, int, int]]:
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 33:
        return []
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", png[16:29])
    if depth != 8 or colour not in _CHANNELS or interlace or width * height > 1 << 20:
        return []
    idat, pos = bytearray(), 8
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind == b"IDAT":
            idat += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error:
        return []
    n = _CHANNELS[colour]
    stride = width * n
    if len(raw) < height * (stride + 1):
        return []
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        _unfilter(kind, line, previous, n)
        rows.append(line)
        previous = line
    out = []
    for line in rows:
        for x in range(0, stride, n):
            out.append((line[x], line[x], line[x]) if n < 3 else (line[x], line[x + 1], line[x + 2]))
    return out


def _unfilter(kind: int, line: bytearray, up: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b = up[i]
        c = up[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + a) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + b) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (a + b) // 2) & 0xFF
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
