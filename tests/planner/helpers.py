"""Building small content trees for planner tests."""

from __future__ import annotations

import hashlib
import struct
import textwrap
import zlib
from pathlib import Path

STAMP = "20251219T120000Z"


def png(seed: str = "x") -> bytes:
    """A tiny valid 2x2 PNG whose pixels depend on ``seed``."""
    h = hashlib.sha256(seed.encode()).digest()
    raw = b"".join(b"\x00" + h[i * 6 : i * 6 + 6] for i in range(2))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


ENTITY_FILE = {"characters": "character.yaml", "locations": "location.yaml", "chapters": "chapter.yaml"}


def entity(root: Path, entity_type: str, slug: str, scenes: str | None = None, *, refs: tuple[str, ...] = ("ref.png",),
           body: str | None = None) -> Path:
    """A valid entity with references (created) and the given image_ideas.yaml text."""
    folder = root / entity_type / slug
    ref_lines = "".join(f"  - {r}\n" for r in refs)
    text = body if body is not None else (
        f"name: {slug.title()}\ndescription: The {slug} of the story.\n"
        + (f"references:\n{ref_lines}" if refs else "")
    )
    write(root, f"{entity_type}/{slug}/{ENTITY_FILE[entity_type]}", text)
    for r in refs:
        write(root, f"{entity_type}/{slug}/{r}", png(f"{entity_type}/{slug}/{r}"))
    if scenes is None:
        scenes = """
        scenes:
          - id: one
            prompt: First scene.
          - id: two
            prompt: Second scene.
        """
    write(root, f"{entity_type}/{slug}/image_ideas.yaml", scenes)
    return folder


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and mtime, to prove nothing was written."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}
