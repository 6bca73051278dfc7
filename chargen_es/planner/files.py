"""Files the plan depends on: reading content files, resolving references, hashing.

Every path the planner hands on is relative to ``--root`` and posix, so task keys and
plans are the same on every machine. A reference may not leave the root: not through
``..``, not as an absolute path, not through a symlink. Hashes are computed once per
file per plan (many scenes share an entity's references).
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

# The image types Gemini accepts as input, for references and analysed images alike:
# PNG, JPEG, WEBP, HEIC and HEIF ("Images must be in one of the following image data MIME
# types", https://ai.google.dev/gemini-api/docs/prompting_with_media, "Image formats";
# skywork.ai's 2025 quote of the image-understanding page lists the same five; read
# 2026-12-02). Anything else
# fails at the server item by item, so the planner refuses it up front.
MIME_BY_EXT = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
}
ACCEPTED_KINDS = "png, jpeg, webp, heic or heif"
# Image files Gemini refuses; found in an entity's images/ they are a validation problem
# (a file there that is no image at all, such as a sidecar .json, is simply not analysed).
REFUSED_IMAGE_EXTS = frozenset({".gif", ".bmp", ".tif", ".tiff", ".avif", ".svg", ".ico", ".jxl", ".jp2"})
_DRIVE = re.compile(r"[A-Za-z]:/")  # C:/... or C:\... once backslashes are separators
ANALYSABLE_EXTS = frozenset(MIME_BY_EXT)


class PathProblem(Exception):
    """A reference that cannot be used; the message says why."""


# What the first bytes of an image say it is (the extension is only a name): the kinds
# Gemini takes, and the refused ones a renamed file most often turns out to be.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "png"), (0, b"\xff\xd8\xff", "jpeg"), (0, b"GIF87a", "gif"), (0, b"GIF89a", "gif"),
    (0, b"BM", "bmp"), (0, b"II*\x00", "tiff"), (0, b"MM\x00*", "tiff"),
)
_HEIF_BRANDS = {b"heic": "heic", b"heix": "heic", b"heim": "heic", b"heis": "heic", b"hevc": "heic",
                b"mif1": "heif", b"msf1": "heif", b"heif": "heif", b"avif": "avif"}
_KIND_OF_MIME = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/heic": "heic",
                 "image/heif": "heif"}
_HEAD = 16


def sniff_kind(head: bytes) -> str:
    """The image kind the first bytes show ('' when they show no image kind we know)."""
    for offset, magic, kind in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return _HEIF_BRANDS.get(head[8:12], "")
    return ""


def kind_problem(name: str, head: bytes) -> str | None:
    """Why a file named as an image Gemini takes holds a kind Gemini refuses, or None.

    Only a refused kind is refused (a .gif renamed .png would fail at the server, item by
    item); bytes of another accepted kind, or of no kind we know, pass: Gemini judges them.
    """
    found = sniff_kind(head)
    if not mime_for(name) or not found or found in _KIND_OF_MIME.values():
        return None
    return (f"reference {posixpath.basename(name)!r} holds {found.upper()} bytes, whatever its name says; "
            f"convert it (Gemini accepts {ACCEPTED_KINDS})")


def mime_for(name: str) -> str:
    """MIME type from the file extension ('' when it is not an image we know)."""
    return MIME_BY_EXT.get(os.path.splitext(name)[1].lower(), "")


@dataclass
class FileIndex:
    """Per-plan cache of the root's real path, folder real paths and file hashes."""

    root: Path
    real_root: str = ""
    _real_dirs: dict[str, str] = field(default_factory=dict)
    _hashes: dict[str, tuple[str, int]] = field(default_factory=dict)
    _heads: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.real_root = os.path.realpath(self.root)

    def rel_reference(self, entity_rel: str, ref: str) -> str:
        """Root-relative posix path of ``ref`` written in the entity at ``entity_rel``.

        Backslashes are read as separators so a tree written on Windows plans the same.
        """
        if not isinstance(ref, str) or not ref.strip():
            raise PathProblem("reference must be a non-empty path")
        text = ref.strip().replace("\\", "/")
        if "\x00" in text:
            raise PathProblem(f"reference {ref!r} contains a NUL byte")
        if text.startswith("/") or _DRIVE.match(text):
            raise PathProblem(f"reference {ref!r} is an absolute path; use a path relative to the entity folder")
        rel = posixpath.normpath(posixpath.join(entity_rel, text))
        if rel == ".." or rel.startswith("../"):
            raise PathProblem(f"reference {ref!r} leaves the root")
        self._check_real(self.real_dir(posixpath.dirname(rel)), ref)
        return rel

    def check_inside(self, rel: str, shown: str) -> None:
        """Refuse a path whose real location (symlinks followed) is outside the root."""
        folder, name = posixpath.split(rel)
        full = os.path.join(self.real_dir(folder), name)
        if os.path.islink(full):
            self._check_real(os.path.realpath(full), shown)

    def real_dir(self, folder: str) -> str:
        """Real path of a root-relative folder, one ``lstat`` per folder not seen before.

        Walking up through the cache keeps it at one system call per new folder instead
        of ``os.path.realpath``'s one per path component.
        """
        hit = self._real_dirs.get(folder)
        if hit is not None:
            return hit
        if not folder:
            real = self.real_root
        else:
            parent, name = posixpath.split(folder)
            real = os.path.join(self.real_dir(parent), name)
            if os.path.islink(real):
                real = os.path.realpath(real)
        self._real_dirs[folder] = real
        return real

    def remember_dir(self, folder: str, real: str) -> None:
        """Enter a folder already known not to be a symlink (from a directory listing)."""
        self._real_dirs[folder] = real

    def check_real(self, real: str, shown: str) -> None:
        """Raise PathProblem unless the real path ``real`` lies inside the root."""
        self._check_real(real, shown)

    def _check_real(self, real: str, shown: str) -> None:
        if real != self.real_root and not real.startswith(self.real_root + os.sep):
            raise PathProblem(f"reference {shown!r} points outside the root (symlink)")

    def digest(self, rel: str) -> tuple[str, int]:
        """SHA-256 hex and size of a root-relative file (cached).

        The folder's real path must be inside the root; the file itself is opened with
        ``O_NOFOLLOW`` so a symlinked file costs nothing extra unless it is one, and then
        it must point inside the root too.
        Raises OSError, or PathProblem for a symlink leading out or for image bytes of
        another kind than the name says (a .gif renamed .png).
        """
        hit = self._hashes.get(rel)
        if hit is None:
            hit = self._hash(rel)
        problem = kind_problem(rel, self._heads[rel])
        if problem is not None:
            raise PathProblem(problem)
        return hit

    def _hash(self, rel: str) -> tuple[str, int]:
        folder, name = posixpath.split(rel)
        real_dir = self.real_dir(folder)
        self._check_real(real_dir, rel)
        full = os.path.join(real_dir, name)
        try:
            fd = os.open(full, _NOFOLLOW)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            real = os.path.realpath(full)
            self._check_real(real, rel)
            fd = os.open(real, os.O_RDONLY)
        digest = hashlib.sha256()
        size = 0
        head = b""
        try:
            while chunk := os.read(fd, _CHUNK):
                if not size:
                    head = chunk[:_HEAD]
                digest.update(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        hit = (digest.hexdigest(), size)
        self._hashes[rel] = hit
        self._heads[rel] = head
        return hit


_CHUNK = 1 << 20
_NOFOLLOW = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)


def read_text(path: str | Path) -> tuple[str | None, str | None, int | None]:
    """Read a UTF-8 content file: ``(text, problem, line)``; text is None on a problem.

    ``None, None, None`` means the file does not exist (the caller decides if that is
    a problem). Empty files are a problem: an empty YAML file is almost always a mistake.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return None, None, None
    except IsADirectoryError:
        return None, "is a folder, expected a file", None
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}", None
    if not data.strip():
        return None, "file is empty", None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})", line
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None, None
