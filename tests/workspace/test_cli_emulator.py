"""status, stats and the workspace index end to end: real chargen-es processes, the
unmodified SDK over HTTP into the embedded emulator (``--emulator``), real SIGKILL."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
from pathlib import Path

from tests.engine.harness import copy_sample, outputs
from tests.procs import run_child

RUN_A = "2030-01-01T00-00-00Z"
RUN_B = "2030-01-02T00-00-00Z"
FAST = ["--poll-interval", "0.05", "--emulator-job-seconds", "0.2"]


def cli(root: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    env.pop("GEMINI_API_KEY", None)
    env["COLUMNS"] = "200"
    if crash_at:
        env["CHARGEN_ES_CRASH_AT"] = crash_at
    return run_child([*args, "--root", str(root)], env=env, timeout=180)


def run(root: Path, run_id: str, *extra: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return cli(root, "run", "--yes", "--emulator", "--run-id", run_id, *FAST, *extra, crash_at=crash_at)


def status(root: Path, *extra: str) -> dict:
    done = cli(root, "status", "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_status_stats_and_inspect_after_runs_on_the_emulator(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    before = status(root)
    assert before["totals"]["scenes"]["never generated"] > 0 and before["totals"]["scenes"]["done"] == 2  # shipped
    first = run(root, RUN_A)
    assert first.returncode == 0, first.stderr
    assert "exactly the scenes `chargen-es status` lists" in first.stdout
    after = status(root)
    scenes = after["totals"]["scenes"]
    assert scenes["done"] == len(after["scenes"]) and scenes["never generated"] == 0
    made = [r for r in after["scenes"] if r["run"] == RUN_A]
    assert made and all(Path(root, r["file"]).is_file() for r in made)
    assert after["totals"]["analyses"]["absent"] == len(after["analyses"]) > 0

    # a deleted picture is missing, an edited one changed, a new prompt outdated
    by_scene = {r["scene"]: r for r in made}
    Path(root, by_scene["map-room"]["file"]).unlink()
    Path(root, by_scene["morning-drill"]["file"]).write_bytes(b"edited by hand")
    ideas = root / "characters" / "dov" / "image_ideas.yaml"
    ideas.write_text(ideas.read_text(encoding="utf-8").replace("prompt: ", "prompt: Rainy. ", 1), encoding="utf-8")
    states = {r["scene"]: (r["state"], r["reason"]) for r in status(root)["scenes"]}
    assert states["map-room"] == ("missing", "missing")
    assert states["morning-drill"] == ("changed", "changed")
    assert states["night-crossing"] == ("outdated", "prompt changed")
    # the strongest reason wins: a lost or edited picture says so even when its prompt changed too
    Path(root, by_scene["market-haggle"]["file"]).unlink()
    Path(root, by_scene["card-catalogue"]["file"]).write_bytes(b"edited by hand")
    cyra = root / "characters" / "cyra" / "image_ideas.yaml"
    cyra.write_text(cyra.read_text(encoding="utf-8").replace("prompt: Cyra sorting", "prompt: Rainy. Cyra sorting"),
                    encoding="utf-8")
    ideas.write_text(ideas.read_text(encoding="utf-8").replace("prompt: Dov haggling", "prompt: Rainy. Dov haggling"),
                     encoding="utf-8")
    states = {r["scene"]: (r["state"], r["reason"]) for r in status(root)["scenes"]}
    assert states["market-haggle"] == ("missing", "missing") and states["card-catalogue"] == ("changed", "changed")

    analysed = run(root, RUN_B, "--mode", "analyze", "--only", "ada")
    assert analysed.returncode == 0, analysed.stderr
    ada = [r for r in status(root, "--only", "ada")["analyses"]]
    assert {r["state"] for r in ada} == {"present"}

    table = cli(root, "stats", "--csv", str(tmp_path / "stats.csv"))
    assert table.returncode == 0, table.stderr
    rows = list(csv.DictReader((tmp_path / "stats.csv").read_text(encoding="utf-8").splitlines()))
    assert [r["id"] for r in rows] == [RUN_A, RUN_B, "TOTAL"]
    assert rows[0]["mode"] == "generate" and rows[1]["mode"] == "analyze" and rows[0]["runner"] == "batch"
    assert int(rows[2]["ok"]) == int(rows[0]["ok"]) + int(rows[1]["ok"]) > 0
    assert float(rows[0]["actual_usd"]) > 0 and float(rows[0]["saving_vs_live_usd"]) > 0
    only = json.loads(cli(root, "stats", "--json", "--mode", "analyze").stdout)
    assert [r["id"] for r in only["runs"]] == [RUN_B]
    none = json.loads(cli(root, "stats", "--json", "--from", "2031-01-01").stdout)
    assert none["runs"] == [] and none["totals"]["tasks"] is None
    bad = cli(root, "stats", "--from", "yesterday")
    assert bad.returncode != 0 and "--from 'yesterday'" in bad.stderr

    listing = cli(root, "inspect")
    assert RUN_A in listing.stdout and "generate (batch)" in listing.stdout and "completed" in listing.stdout
    checked = cli(root, "replay", "--workspace", "--check")
    assert checked.returncode == 0, checked.stderr


def test_export_is_exactly_what_run_plans(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    assert run(root, RUN_A, "--scope", "characters").returncode == 0
    Path(root, "characters/ada/images").joinpath(
        next(p.name for p in (root / "characters/ada/images").iterdir() if "map-room" in p.name)).unlink()
    export = tmp_path / "missing.json"
    done = cli(root, "status", "--export", str(export))
    assert done.returncode == 0, done.stderr
    assert f"wrote {export}" in done.stdout and "plans exactly these scenes" in done.stdout
    todo = json.loads(export.read_text(encoding="utf-8"))
    for mode in ("generate", "analyze"):
        planned = cli(root, "run", "--dry-run", "--json", "--mode", mode)
        assert planned.returncode == 0, planned.stderr
        keys = [t["key"] for t in json.loads(planned.stdout)["tasks"]]
        assert [t["key"] for t in todo[mode]["tasks"]] and sorted(keys) == sorted(
            t["key"] for t in todo[mode]["tasks"]), mode
        assert todo[mode]["command"].startswith("chargen-es run --root ")


def test_a_run_killed_mid_index_update_loses_nothing(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    killed = run(root, RUN_A, crash_at="before:index.write:end")
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    # the run itself finished: its journal ends completed, its pictures are on disk
    assert cli(root, "inspect", RUN_A).stdout.count("completed") >= 1
    stale = cli(root, "replay", "--workspace", "--check")
    assert stale.returncode == 1 and "behind its journal" in stale.stderr
    after = status(root)  # any reader catches the index up from the journals
    assert after["totals"]["scenes"]["never generated"] == 0
    assert {r["file"] for r in after["scenes"] if r["run"] == RUN_A} <= set(outputs(root))
    assert cli(root, "replay", "--workspace", "--check").returncode == 0
    # a damaged index file is rebuilt, with a note, and answers the same
    index = root / ".chargen" / "workspace.json"
    index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    noted = cli(root, "stats", "--json")
    assert noted.returncode == 0 and "note:" in noted.stderr and "damaged" in noted.stderr
    assert json.loads(noted.stdout)["runs"][0]["ok"] == len([r for r in after["scenes"] if r["run"] == RUN_A])
    assert cli(root, "replay", "--workspace", "--check").returncode == 0
