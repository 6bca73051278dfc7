"""``chargen-es doctor`` as a user runs it: a real child process against the emulator,
a scripted Google (bad key, billing) and a closed port."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from chargen_es import catalogue
from tests.procs import run_child

from .servers import Reply, ScriptedServer

KEY = "doctor-test-key-0123456789"


def doctor(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    return run_child(["doctor", *args], env={**base, **(env or {})}, cwd=cwd, timeout=120)


def test_doctor_with_a_roundtrip_against_the_emulator(tmp_path: Path) -> None:
    done = doctor("--emulator", "--roundtrip", "--poll-interval", "0.05", "--emulator-job-seconds", "0.2",
                  "--root", str(tmp_path), env={"GOOGLE_GENAI_USE_VERTEXAI": "true"})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("catalogue drift: ok")]
    assert [line.split(":")[0] for line in lines] == [
        "environment", "api key", "privacy", "base url", "key accepted", "catalogue",
        f"model {catalogue.DEFAULT_GENERATE_MODEL} (generate)", f"model {catalogue.DEFAULT_ANALYZE_MODEL} (analyze)",
        "roundtrip"]
    assert all(": ok" in line for line in lines)
    assert f"{catalogue.CHEAPEST_TEXT_MODEL} answered" in lines[-1] and " in, " in lines[-1]


def test_doctor_json_names_a_shut_down_model_from_chargen_yaml(tmp_path: Path) -> None:
    (tmp_path / "chargen.yaml").write_text("models:\n  generate: gemini-3-pro-image-preview\n"
                                           f"  analyze: {catalogue.DEFAULT_ANALYZE_MODEL}\n", encoding="utf-8")
    done = doctor("--emulator", "--json", "--roundtrip", "--root", str(tmp_path))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    bad = [c for c in report["checks"] if not c["ok"]]
    assert bad[0]["check"] == "model gemini-3-pro-image-preview (generate)" and "not found" in bad[0]["detail"]
    assert bad[-1]["check"] == "roundtrip" and "not run" in bad[-1]["detail"]
    assert report["roundtrip"] is None


def test_doctor_without_a_key_says_how_to_get_one(tmp_path: Path) -> None:
    done = doctor("--root", str(tmp_path))
    assert done.returncode == 1
    key_file = Path(os.environ["XDG_CONFIG_HOME"]) / "chargen-es" / "credentials"  # tests/conftest.py: empty
    assert done.stdout.strip() == ("api key: FAIL: no API key: set GEMINI_API_KEY (create one at "
                                   f"https://aistudio.google.com/apikey), put `api_key: <key>` in {key_file} "
                                   "(chmod 600), or pass --emulator")


def test_doctor_names_an_unreachable_base_url(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        url = server.base_url
    done = doctor("--base-url", url, "--root", str(tmp_path), env={"GEMINI_API_KEY": KEY})
    assert done.returncode == 1
    assert f"base url: FAIL: cannot reach {url}" in done.stdout and KEY not in done.stdout + done.stderr


def test_doctor_tells_a_refused_key_from_a_billing_problem(tmp_path: Path) -> None:
    bad_key = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "API key not valid. Please pass a valid "
                         "API key."}}
    prepay = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Your prepayment credits are depleted."}}
    with ScriptedServer() as server:
        server.routes[("GET", "/v1beta/models")] = [Reply(400, bad_key), Reply(429, prepay)]
        first = doctor("--base-url", server.base_url, "--root", str(tmp_path), env={"GEMINI_API_KEY": KEY})
        second = doctor("--base-url", server.base_url, "--root", str(tmp_path), env={"GEMINI_API_KEY": KEY})
    assert first.returncode == second.returncode == 1
    assert "key accepted: FAIL: the key was refused" in first.stdout and "API key not valid" in first.stdout
    assert "key accepted: FAIL:" in second.stdout and "fix billing in AI Studio" in second.stdout
    assert KEY not in first.stdout + second.stdout


def test_doctor_roundtrip_shows_the_lifecycle_google_sends_on_the_answer(tmp_path: Path) -> None:
    """Lifecycle metadata rides on GenerateContentResponse.modelStatus, not on the Model resource."""
    from chargen_es.emulator import Emulator, EmulatorConfig
    from chargen_es.emulator.catalog import DEFAULT_MODELS, ModelSpec
    from tests.engine.harness import API_KEY

    models = [m if m.id != catalogue.CHEAPEST_TEXT_MODEL else ModelSpec(
        id=m.id, display_name=m.display_name, model_status={"modelStage": "LEGACY", "retirementTime": "2027-05-07T00:00:00Z"})
        for m in DEFAULT_MODELS]
    with Emulator(EmulatorConfig(models=models)) as emu:
        done = doctor("--roundtrip", "--poll-interval", "0.05", "--base-url", emu.base_url, "--root", str(tmp_path),
                      env={"GEMINI_API_KEY": API_KEY})
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("roundtrip: ok") and "Google says: modelStage LEGACY, retirementTime 2027-05-07" in last
