"""``chargen-es emulator`` serves and prints its base URL as the first line of stdout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2

from chargen_es.emulator import Emulator


def test_command_prints_url_and_serves(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"faults": [{"op": "files.list", "kind": "status", "status": 503,
                                              "count": 1}]}))
    exe = Path(sys.executable).with_name("chargen-es")
    with subprocess.Popen([str(exe), "emulator", "--port", "0", "--faults", str(faults),
                           "--data", str(tmp_path / "d")], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            with httpx2.Client(base_url=url, headers={"x-goog-api-key": "k"}) as http:
                assert http.get("/v1beta/files").status_code == 503
                assert http.get("/v1beta/files").json() == {}
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
    assert (tmp_path / "d" / "counters.json").exists()


def test_emulator_imports_nothing_else_of_ours() -> None:
    """A standalone component: only chargen_es.emulator.*, never google.genai."""
    import ast

    package = Path(Emulator.__module__.replace(".", "/")).parent
    root = Path(__file__).resolve().parents[2] / package
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("google"), f"{path.name} imports {name}"
                if name.startswith("chargen_es"):
                    assert name.startswith("chargen_es.emulator"), f"{path.name} imports {name}"
