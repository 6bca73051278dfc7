"""Analyses from the emulator read like analyses: the palette is the picture's own colours
(read from its pixels), the other fields words from fixed vocabularies; the same request
gives the same answer. Through the unmodified SDK over HTTP."""

from __future__ import annotations

import json
import re

from google import genai
from google.genai import types

from chargen_es import analysis
from chargen_es.emulator import describe
from chargen_es.emulator import png as png_mod
from chargen_es.planner import sample_tree

from .helpers import upload_bytes

SEED = bytes([200, 40, 40, 30, 128, 128, 5]) + bytes(range(25))  # red and teal bands
PICTURE = png_mod.render(SEED, 32, 32)
DRAWN = {f"#{SEED[0]:02x}{SEED[1]:02x}{SEED[2]:02x}", f"#{SEED[3]:02x}{SEED[4]:02x}{SEED[5]:02x}"}
CONFIG = {"response_mime_type": "application/json", "response_schema": analysis.SCHEMA}
HEX = re.compile(r"\(#([0-9a-f]{6})\)$")


def analyse(client: genai.Client, picture: types.Part) -> dict:
    response = client.models.generate_content(model="gemini-3.5-flash", contents=[picture, analysis.DEFAULT_PROMPT],
                                              config=CONFIG)
    return json.loads(response.text or "")


def test_an_analysis_names_the_colours_the_picture_holds_and_reads_like_words(client: genai.Client) -> None:
    uploaded = upload_bytes(client, PICTURE, "image/png")
    part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="image/png")
    first = analyse(client, part)
    assert analysis.problems(first) == []
    assert {"#" + HEX.search(c).group(1) for c in first["palette"]} == DRAWN  # type: ignore[union-attr]
    assert set(first["traits"]) <= set(describe.VOCABULARY["traits"]) and len(set(first["traits"])) == len(
        first["traits"])
    for name in ("archetype", "mood", "style"):
        assert first[name] in describe.VOCABULARY[name]
    assert analyse(client, part) == first  # deterministic
    inline = analyse(client, types.Part.from_bytes(data=PICTURE, mime_type="image/png"))
    assert inline["palette"] == first["palette"]


def test_the_palette_of_a_filtered_png_is_read_right() -> None:
    face = (sample_tree() / "characters" / "ada" / "refs" / "ada-face.png").read_bytes()
    colours = describe.palette(face)
    assert 1 <= len(colours) <= 3 and all(HEX.search(c) for c in colours)
    assert describe.palette(b"not a png") == []


def test_colour_names_follow_hue_and_brightness() -> None:
    named = {c.split(" (#")[0] for c in describe.palette(png_mod.render(bytes([30, 128, 128, 230, 170, 30, 0] * 5),
                                                                        16, 16))}
    assert named == {"teal", "amber"}
