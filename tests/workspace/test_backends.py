"""Uploads belong to a backend: a file id is reused only on the server and account that hold
it, and only once this invocation's listing confirms it.

Two emulators stand for two servers (the demo's embedded emulator, then Google); real
chargen-es processes, the unmodified SDK over HTTP.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx2

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.gateway import Backend
from tests.engine.harness import API_KEY, chargen, copy_sample, crash, files_containing
from tests.procs import run_child

DOV = ("--only", "dov")


def report(root: Path, run_id: str) -> dict:
    return json.loads((root / ".chargen" / "batch" / run_id / "report.json").read_text())


def journal_text(root: Path, run_id: str) -> str:
    return (root / ".chargen" / "batch" / run_id / "journal.jsonl").read_text()


def test_uploads_from_the_embedded_emulator_are_not_sent_to_another_server(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    first = run_child(["run", "--root", str(root), "--emulator", "--yes", "--run-id", "A", *DOV,
                       "--poll-interval", "0.05", "--emulator-job-seconds", "0.2"], env=env)
    assert first.returncode == 0, first.stderr
    assert '"backend":"emulator:' in journal_text(root, "A")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as other:
        second = chargen(root, other.base_url, "run", "--yes", "--run-id", "B", "--force", *DOV)
        stats = other.stats()
    assert second.returncode == 0, second.stdout + second.stderr
    assert report(root, "B")["summary"]["failed"] == 0
    assert "upload.reused" not in journal_text(root, "B") and "file_missing" not in journal_text(root, "B")
    assert sum(stats["uploads_by_sha256"].values()) >= 2  # the references were uploaded to this server
    assert files_containing(root, API_KEY) == []  # only a fingerprint of the key is recorded


def test_a_file_gone_from_the_server_is_uploaded_anew_not_reused(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        assert chargen(root, emu.base_url, "run", "--yes", "--run-id", "A", "--no-cleanup", *DOV).returncode == 0
        files = json.loads((root / ".chargen" / "batch" / "A" / "files-cache.json").read_text())["files"]
        refs = [r["name"] for r in files.values() if r["purpose"] == "reference"]
        assert refs
        with httpx2.Client(base_url=emu.base_url, params={"key": API_KEY}) as http:
            for name in refs:  # gone behind the index's back (deleted elsewhere, expired early)
                assert http.delete(f"/v1beta/{name}").status_code == 200
        second = chargen(root, emu.base_url, "run", "--yes", "--run-id", "B", "--force", *DOV)
    assert second.returncode == 0, second.stdout + second.stderr
    assert report(root, "B")["summary"]["failed"] == 0
    text = journal_text(root, "B")
    assert "upload.reused" not in text and "file_missing" not in text and "upload.completed" in text


def test_a_backends_identity_names_server_version_and_key_without_the_key() -> None:
    google = Backend(api_key=API_KEY)
    assert API_KEY not in google.identity and google.identity.startswith("https://")
    assert google.identity != Backend(api_key=API_KEY + "x").identity
    assert google.identity != Backend(api_key=API_KEY, api_version="v1").identity
    assert google.identity != Backend(api_key=API_KEY, base_url="http://127.0.0.1:9").identity
    assert Backend(api_key="k", base_url="http://127.0.0.1:1", home="emulator:/x").identity == "emulator:/x"
    proxied = Backend(api_key="k", base_url="https://user:secret@proxy.example:8443/gemini/?token=t2").identity
    assert proxied.startswith("https://proxy.example:8443/gemini/v1beta#key-")
    assert "secret" not in proxied and "t2" not in proxied


def test_a_run_resumed_against_another_server_uploads_there_instead_of_sending_dead_ids(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as first:
        crash(root, first.base_url, "after:append:upload.completed", "run", "--yes", "--run-id", "A", *DOV)
    assert "upload.completed" in journal_text(root, "A")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as other:
        resumed = chargen(root, other.base_url, "resume", "A")
        stats = other.stats()
        identity = Backend(api_key=API_KEY, base_url=other.base_url).identity
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert report(root, "A")["summary"]["failed"] == 0
    text = journal_text(root, "A")
    assert "file_missing" not in text and f'"backend":"{identity}"' in text
    assert sum(stats["uploads_by_sha256"].values()) >= 2


def test_a_job_resumed_against_another_server_is_named_with_the_backend_that_holds_it(tmp_path: Path) -> None:
    """A detached run's job lives on the server it was created on; resuming against another
    one says where the job is and how to resume, instead of the bare 404 (nothing is sent
    again: the run fails before any new job)."""
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=3600)) as first, Emulator(EmulatorConfig()) as other:
        detached = chargen(root, first.base_url, "run", "--only", "ada", "--yes", "--run-id", "r1", "--detach")
        assert detached.returncode == 0, detached.stderr
        resumed = chargen(root, other.base_url, "resume", "r1")
        assert resumed.returncode == 1
        line = [x for x in resumed.stderr.splitlines() if x.startswith("chargen-es: ")][-1]
        here = Backend(api_key=API_KEY, base_url=other.base_url).identity
        there = Backend(api_key=API_KEY, base_url=first.base_url).identity
        assert f"was created on another backend ({there}), not this one ({here})" in line, line
        assert line.endswith(f"`chargen-es resume r1 --root {root} --base-url {first.base_url}/` continues it"), line
        assert int(other.stats()["operations"].get("batches.create", 0)) == 0
    submitted = [json.loads(x) for x in journal_text(root, "r1").splitlines() if '"job.submitted"' in x]
    assert submitted and all(e["backend"] == there for e in submitted)


def test_the_flags_that_reach_a_backend_come_from_its_identity(tmp_path: Path) -> None:
    google = Backend(api_key=API_KEY).identity
    proxy = Backend(api_key=API_KEY, base_url="https://user:pw@proxy.example:8443/gw/").identity
    embedded = Backend(api_key=API_KEY, base_url="http://127.0.0.1:9", home=str(tmp_path / "emulator")).identity
    assert Backend.flags_reaching(google) == ()
    assert Backend.flags_reaching(proxy) == ("--base-url", "https://proxy.example:8443/gw/")  # no credentials
    assert Backend.flags_reaching(embedded) == ("--emulator",)
