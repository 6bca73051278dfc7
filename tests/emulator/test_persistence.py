"""``data_dir``: files, bytes, jobs, outputs and counters survive a restart."""

from __future__ import annotations

import json
from pathlib import Path

from chargen_es.emulator import Emulator, EmulatorConfig

from .helpers import image_request, jsonl, make_client, upload_bytes


def test_state_survives_restart(tmp_path: Path) -> None:
    cfg = EmulatorConfig(data_dir=tmp_path / "emu", job_seconds=0.0)
    first = Emulator(cfg).start()
    try:
        client = make_client(first)
        ref = upload_bytes(client, b"reference bytes", "image/png", "ref")
        src = upload_bytes(client, jsonl([{"key": "a", "request": image_request("x")}]), "jsonl", "in")
        done = client.batches.create(model="gemini-3-pro-image", src=src.name, config={"display_name": "d"})
        done = client.batches.get(name=done.name)
        pending = client.batches.create(model="gemini-3-pro-image", src=src.name,
                                        config={"display_name": "p"})
        output = client.files.download(file=done.dest.file_name)
        stats_before = first.stats()
    finally:
        first.stop()
    assert not list((tmp_path / "emu").rglob("*.tmp"))
    with first.start() as second:  # the same object restarts from the data directory
        client = make_client(second, "v1beta")
        assert client.files.download(file=ref.name) == b"reference bytes"
        assert client.files.get(name=ref.name).sha256_hash == ref.sha256_hash
        again = client.batches.get(name=done.name)
        assert again.state.name == "JOB_STATE_SUCCEEDED"
        assert client.files.download(file=again.dest.file_name) == output
        resumed = client.batches.get(name=pending.name)  # computed after the restart
        assert resumed.state.name == "JOB_STATE_SUCCEEDED"
        assert json.loads(client.files.download(file=resumed.dest.file_name))["key"] == "a"
        stats = second.stats()
        assert stats["by_display_name"] == stats_before["by_display_name"]
        assert stats["uploads_by_sha256"] == stats_before["uploads_by_sha256"]
        assert stats["operations"]["files.upload_start"] == 2
        newer = upload_bytes(client, b"new", "text/plain")
        names = [f.name for f in client.files.list()]
        assert names[0] == newer.name  # sequence numbers continue after the restart
