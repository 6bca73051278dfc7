"""Emulator settings: one frozen dataclass shared by the Python API and the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves.

    ``job_seconds`` is the whole life of a batch job (half pending, half running; 0 means
    done on the first get after create). ``rpm`` caps accepted generateContent calls per
    ``quota_window_s`` seconds (None: no cap). ``image_bytes`` pads each PNG to about that
    size. ``file_ttl_s`` is the files' lifetime (48 h like Google). ``data_dir`` makes the
    state survive restarts. ``faults`` is the initial fault set (rule dicts, see the package
    docstring). ``shuffle`` scrambles output line order (seeded by ``seed``, as is the
    fault RNG), because Google does not keep it.
    """

    job_seconds: float = 0.0
    rpm: int | None = None
    quota_window_s: float = 60.0
    image_bytes: int = 0
    file_ttl_s: float = 48 * 3600
    data_dir: Path | str | None = None
    faults: list[dict[str, Any]] | None = None
    shuffle: bool = True
    seed: int = 0
    host: str = "127.0.0.1"
    port: int = 0
