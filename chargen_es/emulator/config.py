"""Emulator settings: one frozen dataclass shared by the Python API and the command line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chargen_es.emulator.clock import Clock


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves.

    ``job_seconds`` is the whole life of a batch job (half pending, half running; 0 means
    done on the first get after create). ``rpm`` caps accepted generateContent calls per
    ``quota_window_s`` seconds (None: no cap). ``image_bytes`` pads each image to about that
    size. ``file_ttl_s`` is the files' lifetime (48 h like Google), output files included;
    ``job_ttl_s`` is how long a job may stay PENDING/RUNNING before it ends EXPIRED (48 h).
    ``data_dir`` makes the state survive restarts. ``faults`` is the initial fault set
    (rule dicts, see the package docstring). ``shuffle`` scrambles output line order
    (seeded by ``seed``, as is the fault RNG), because Google does not keep it.

    ``models`` replaces the served model set (``ModelSpec`` objects or dicts with the same
    fields; None: ``catalog.DEFAULT_MODELS``); ``shut_down`` replaces the ids answering 404
    (None: ``catalog.DEFAULT_SHUT_DOWN``). ``thoughts=False`` turns every model's thought
    parts (draft images, thought text) off. ``clock`` is the time source (None: wall clock).
    """

    job_seconds: float = 0.0
    rpm: int | None = None
    quota_window_s: float = 60.0
    image_bytes: int = 0
    file_ttl_s: float = 48 * 3600
    job_ttl_s: float = 48 * 3600
    data_dir: Path | str | None = None
    faults: list[dict[str, Any]] | None = None
    shuffle: bool = True
    seed: int = 0
    host: str = "127.0.0.1"
    port: int = 0
    models: Sequence[Any] | None = None
    shut_down: Sequence[str] | None = None
    thoughts: bool = True
    clock: Clock | None = None
    # Google keeps generate requests without ``store`` in the project's logs when the project
    # stores by default (paid projects created on or after 2026-10-26); ``stats`` counts them.
    stores_by_default: bool = True
    # decoded bytes of each final part's ``thoughtSignature`` (0: a 32-byte digest); real ones
    # are 0.45-2.2 MB, so benchmarks set about 1.5 MB (2 MB of base64)
    signature_bytes: int = 0
