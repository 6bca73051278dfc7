"""``chargen-es emulator``: serve the embedded Gemini API emulator until SIGINT/SIGTERM.

The base URL is the first line of stdout, flushed at once, so a parent process (a test,
a script, another terminal) can read it and point the SDK there; ``--port 0`` picks a
free port, which is why the URL has to be printed rather than known in advance.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click


def _load_faults(path: Path | None) -> list[dict[str, Any]] | None:
    if path is None:
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--faults") from exc
    rules = raw.get("faults", []) if isinstance(raw, dict) else raw
    if not isinstance(rules, list):
        raise click.BadParameter(f"{path}: expected a list of rules", param_hint="--faults")
    return rules


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback).")
@click.option("--port", default=0, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep state in DIR so it survives a restart.")
@click.option("--job-seconds", default=0.0, show_default=True, type=float,
              help="How long a batch job takes (half pending, half running).")
@click.option("--faults", "faults_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="JSON file of fault rules (see chargen_es/emulator/README.md).")
@click.option("--rpm", default=None, type=int, help="generateContent requests per minute before 429.")
@click.option("--quota-window", default=60.0, show_default=True, type=float,
              help="Length in seconds of the --rpm window.")
@click.option("--image-bytes", default=0, show_default=True, type=int,
              help="Pad each generated image to about this many bytes.")
@click.option("--signature-bytes", default=0, show_default=True, type=int,
              help="Bytes of each final part's thoughtSignature (real ones: 0.45-2.2 MB; 0: a 32-byte digest).")
@click.option("--file-ttl", default=48 * 3600.0, show_default=True, type=float,
              help="Seconds before an uploaded file expires.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for shuffling and fault rates.")
def emulator(host: str, port: int, data_dir: Path | None, job_seconds: float, faults_file: Path | None,
             rpm: int | None, quota_window: float, image_bytes: int, signature_bytes: int, file_ttl: float,
             seed: int) -> None:
    """Serve the embedded Gemini API emulator; prints its base URL first."""
    from chargen_es.emulator import Emulator, EmulatorConfig, FaultError  # not for `--help`

    if not (host.startswith("127.") or host in ("localhost", "::1")):
        # any key is accepted, so the emulator must never be reachable from the network
        raise click.BadParameter(f"{host}: the emulator binds loopback addresses only", param_hint="--host")
    cfg = EmulatorConfig(host=host, port=port, data_dir=data_dir, job_seconds=job_seconds,
                         faults=_load_faults(faults_file), rpm=rpm, quota_window_s=quota_window,
                         image_bytes=image_bytes, signature_bytes=signature_bytes, file_ttl_s=file_ttl, seed=seed)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[signal.Signals, Any] = {s: signal.signal(s, _on_signal)
                                           for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        emu = Emulator(cfg).start()
    except FaultError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc
    try:
        click.echo(emu.base_url)
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


COMMANDS: list[click.Command] = [emulator]
