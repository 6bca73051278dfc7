"""Exactly once across runs: one owner per task key in a workspace (engine.keyclaims).

Real chargen-es processes race on one tree against one emulator (the unmodified SDK over
HTTP); the emulator counts every key of every job's lines, so a key paid twice shows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine.harness import (
    BASE_ARGS,
    chargen,
    child_env,
    copy_sample,
    crash,
    imagery_keys,
    outputs,
    start_process,
)
from tests.procs import run_child, spawn_on_terminal

RUN_A = "2030-01-01T00-00-00Z"
RUN_B = "2030-01-02T00-00-00Z"
DOV = ("--only", "dov")
STAMPED = re.compile(r"-\d{8}T\d{6}Z\.\w+$")  # an output of a run (the tree ships other images)


def run(root: Path, base_url: str, run_id: str, *extra: str) -> list[str]:
    return ["run", "--yes", "--run-id", run_id, *DOV, *extra]


def assert_each_key_once(stats: dict, root: Path) -> None:
    keys = stats["batch_keys"]
    assert keys, "no key was sent"
    assert all(n == 1 for n in keys.values()), f"a key was sent twice: {keys}"
    for name, recorded in imagery_keys(root).items():
        assert len(recorded) == len(set(recorded)), f"{name} records a key twice"
    images = [p for p in outputs(root) if p.startswith("characters/dov/") and STAMPED.search(p)]
    scenes = {STAMPED.sub("", Path(p).name) for p in images}
    assert len(images) == len(scenes) == len(keys), f"one image per scene: {images}"


def test_two_runs_of_one_scope_started_together_send_each_key_once(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.5)) as emu:
        first = start_process(root, emu.base_url, *run(root, emu.base_url, RUN_A))
        second = start_process(root, emu.base_url, *run(root, emu.base_url, RUN_B))
        outs = [p.communicate(timeout=120) for p in (first, second)]
        assert first.returncode == 0 and second.returncode == 0, outs
        stats = emu.stats()
    assert_each_key_once(stats, root)
    said = "".join(out + err for out, err in outs)
    # the loser names the winner, whichever it was, and how to continue it (or, when the
    # winner was done before the loser planned, finds nothing left)
    assert "held by" in said or "holds" in said or "already done" in said, said


def test_a_killed_holder_keeps_its_keys_until_it_is_resumed(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        # SIGKILL right after the plan is sealed: the claim is durable, nothing was sent
        crash(root, emu.base_url, "after:append:run.started", *run(root, emu.base_url, RUN_A))
        second = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_B))
        assert second.returncode == 0, second.stderr
        assert f"held by unfinished run {RUN_A}" in second.stdout
        assert f"chargen-es resume {RUN_A} --root {root}" in second.stdout
        assert not (root / ".chargen" / "batch" / RUN_B).exists(), "a run with nothing to send was created"
        assert emu.stats()["batch_keys"] == {}
        # status says the same: held by RUN_A, not to do (its export matches what run planned)
        shown = run_child(["status", "--root", str(root), "--json", "--only", "dov"], env=child_env())
        doc = json.loads(shown.stdout)
        states = {r["scene"]: (r["state"], r["reason"]) for r in doc["scenes"]}
        assert {s for s, _ in states.values()} <= {"held", "done"} and ("held", f"run {RUN_A} holds it") in \
            states.values(), states
        assert doc["todo"]["generate"] == []
        resumed = chargen(root, emu.base_url, "resume", RUN_A)
        assert resumed.returncode == 0, resumed.stderr
        # the claim ended with the run: the same scope now has nothing left to do
        again = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_B))
        assert again.returncode == 0 and "every task is already done" in again.stdout, again.stdout
        stats = emu.stats()
    assert_each_key_once(stats, root)


def test_a_kill_before_the_seal_leaves_no_claim(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        crash(root, emu.base_url, "before:append:run.started", *run(root, emu.base_url, RUN_A))
        second = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_B))
        assert second.returncode == 0, second.stderr
        assert "held" not in second.stdout
        stats = emu.stats()
    assert_each_key_once(stats, root)


def test_disjoint_scopes_run_side_by_side(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.5)) as emu:
        first = start_process(root, emu.base_url, "run", "--yes", "--run-id", RUN_A, "--only", "dov")
        second = start_process(root, emu.base_url, "run", "--yes", "--run-id", RUN_B, "--only", "ada")
        outs = [p.communicate(timeout=120) for p in (first, second)]
        assert first.returncode == 0 and second.returncode == 0, outs
        stats = emu.stats()
    assert "held" not in "".join(o for o, _ in outs)
    assert all(n == 1 for n in stats["batch_keys"].values())
    for entity in ("characters/dov", "characters/ada"):
        recorded = imagery_keys(root)[f"{entity}/imagery.yaml"]
        assert recorded and len(recorded) == len(set(recorded))
    reports = [json.loads((root / ".chargen" / "batch" / r / "report.json").read_text()) for r in (RUN_A, RUN_B)]
    assert all(r["summary"]["failed"] == 0 and r["summary"]["ok"] > 0 for r in reports), reports


def test_a_failed_run_is_not_resumed_over_keys_another_run_delivered(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        emu.set_faults([{"kind": "job", "job_state": "FAILED"}])
        failed = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_A))
        assert failed.returncode != 0
        emu.set_faults([])
        # a failed run holds nothing: the same scope is planned and delivered by another run
        second = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_B))
        assert second.returncode == 0, second.stderr
        resumed = chargen(root, emu.base_url, "resume", RUN_A)
        stats = emu.stats()
    assert resumed.returncode == 1
    assert f"delivered by run {RUN_B}" in resumed.stderr and f"chargen-es cancel {RUN_A}" in resumed.stderr
    sent_twice = {k: n for k, n in stats["batch_keys"].items() if n > 2}
    assert not sent_twice, sent_twice  # once in the failed job, once in the delivering one; never a third


def test_a_run_confirmed_after_another_delivered_its_keys_plans_again(tmp_path: Path) -> None:
    """Two terminals at the "submit?" question: the first to answer delivers; the second,
    answered afterwards, plans again under the claims lock and sends nothing."""
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        waiting = spawn_on_terminal(["run", "--root", str(root), "--base-url", emu.base_url, *BASE_ARGS, *DOV],
                                    env=child_env())
        waiting.expect("submit 2 tasks in 1 chunk")
        first = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_A))
        assert first.returncode == 0, first.stderr
        waiting.sendline("y")
        waiting.expect(pexpect.EOF, timeout=120)
        waiting.close()
        stats = emu.stats()
    assert waiting.exitstatus == 0, waiting.before
    assert "planned again (0 left)" in waiting.before and "every task is already done" in waiting.before
    assert_each_key_once(stats, root)


def test_a_run_that_cannot_reach_its_backend_holds_nothing(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    no_key = {k: v for k, v in child_env().items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        refused = run_child(["run", "--root", str(root), "--base-url", emu.base_url, "--yes", *DOV], env=no_key)
        assert refused.returncode == 1 and "no API key" in refused.stderr
        second = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_B))
        stats = emu.stats()
    assert second.returncode == 0 and "held" not in second.stdout, second.stdout
    assert not [p for p in (root / ".chargen" / "batch").iterdir() if p.name != RUN_B]
    assert_each_key_once(stats, root)


def test_a_resume_killed_right_after_it_claims_again_still_holds_the_keys(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        emu.set_faults([{"kind": "job", "job_state": "FAILED"}])
        assert chargen(root, emu.base_url, *run(root, emu.base_url, RUN_A)).returncode != 0  # failed: holds nothing
        emu.set_faults([])
        crash(root, emu.base_url, "after:append:run.resumed", "resume", RUN_A)
        second = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_B))
        assert second.returncode == 0 and f"held by unfinished run {RUN_A}" in second.stdout, second.stdout
        assert chargen(root, emu.base_url, "resume", RUN_A).returncode == 0
        stats = emu.stats()
    assert {n for n in stats["batch_keys"].values()} == {2}  # the failed job, then the resumed attempt: never a third


def test_a_resume_that_cannot_reach_its_backend_does_not_reopen_a_failed_run(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    no_key = {k: v for k, v in child_env().items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        emu.set_faults([{"kind": "job", "job_state": "FAILED"}])
        assert chargen(root, emu.base_url, *run(root, emu.base_url, RUN_A)).returncode != 0
        emu.set_faults([])
        refused = run_child(["resume", RUN_A, "--root", str(root), "--base-url", emu.base_url], env=no_key)
        assert refused.returncode == 1 and "no API key" in refused.stderr
        second = chargen(root, emu.base_url, *run(root, emu.base_url, RUN_B))
    assert second.returncode == 0 and "held" not in second.stdout, second.stdout


def test_a_failed_run_is_not_resumed_over_keys_a_since_deleted_run_delivered(tmp_path: Path) -> None:
    """The index forgets a deleted run's results, imagery.yaml does not: resume asks it."""
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        emu.set_faults([{"kind": "job", "job_state": "FAILED"}])
        assert chargen(root, emu.base_url, *run(root, emu.base_url, RUN_A)).returncode != 0
        emu.set_faults([])
        assert chargen(root, emu.base_url, *run(root, emu.base_url, RUN_B)).returncode == 0
        deleted = run_child(["delete", RUN_B, "--root", str(root), "--base-url", emu.base_url], env=child_env())
        assert deleted.returncode == 0, deleted.stderr
        resumed = chargen(root, emu.base_url, "resume", RUN_A)
        stats = emu.stats()
    assert resumed.returncode == 1 and f"delivered by run {RUN_B}" in resumed.stderr, resumed.stderr
    assert not {k: n for k, n in stats["batch_keys"].items() if n > 2}


def test_a_failed_run_is_not_resumed_while_another_run_holds_its_keys(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        emu.set_faults([{"kind": "job", "job_state": "FAILED"}])
        assert chargen(root, emu.base_url, *run(root, emu.base_url, RUN_A)).returncode != 0  # failed: holds nothing
        emu.set_faults([])
        crash(root, emu.base_url, "after:append:run.started", *run(root, emu.base_url, RUN_B))  # B holds them
        resumed = chargen(root, emu.base_url, "resume", RUN_A)
    assert resumed.returncode == 1 and f"held by run {RUN_B}" in resumed.stderr, resumed.stderr
    assert f"chargen-es resume {RUN_B} --root {root}" in resumed.stderr


def test_a_taken_run_id_is_refused_before_planning(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=0.3)) as emu:
        crash(root, emu.base_url, "after:append:run.started", *run(root, emu.base_url, RUN_A))
        again = chargen(root, emu.base_url, "run", "--run-id", RUN_A, *DOV, "--dry-run")
        assert again.returncode == 1 and "is taken" in again.stderr and "Summary" not in again.stdout
        assert f"chargen-es resume {RUN_A} --root {root}" in again.stderr  # unfinished: resume can continue it


def test_run_offers_the_unfinished_run_and_enter_means_no(tmp_path: Path) -> None:
    """On a terminal, `run` with an unfinished run in the tree asks "resume … instead?",
    No by default: Enter goes on with the new plan (here to its own "submit?", answered no)."""
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig(job_seconds=3600)) as emu:
        detached = chargen(root, emu.base_url, "run", "--yes", "--run-id", RUN_A, "--only", "ada", "--detach")
        assert detached.returncode == 0, detached.stderr
        asking = spawn_on_terminal(["run", "--root", str(root), "--base-url", emu.base_url, *BASE_ARGS, *DOV],
                                   env=child_env())
        asking.expect(r"resume 2030-01-01T00-00-00Z instead\? \[y/N\]")
        asking.sendline("")
        asking.expect("submit 2 tasks in 1 chunk")
        asking.sendline("n")
        asking.expect(pexpect.EOF, timeout=60)
        asking.close()
        created = int(emu.stats()["operations"].get("batches.create", 0))
    assert created == 1, "only the detached run's job: no resume, and the new plan was not submitted"
    assert asking.exitstatus == 130 and "chargen-es: aborted" in asking.before  # the submit question's no
    assert [p.name for p in (root / ".chargen" / "batch").iterdir()] == [RUN_A]  # nothing else planned or resumed
