"""``run --mode generate --analyze-first`` end to end on the emulator, killed and resumed.

Real processes (``python -m chargen_es``), the unmodified SDK over HTTP into the
emulator, SIGKILL from the crash points. Run 1 analyses the consistency sources, run 2
generates with them; a kill in either is finished by ``resume`` of that run (and, after
run 1, the same command again), converging on the bytes of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine.harness import (
    RUN_ID,
    assert_exactly_once,
    chargen,
    copy_sample,
    crash,
    outputs,
    run_args,
)
from tests.procs import run_child
from tests.shared import once_per_session, read_yaml

FIRST = f"{RUN_ID}-analyses"
ARGS = run_args("--analyze-first")


def analyses(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.glob("*/*/**/*.analysis.json"))}


def replay_check(root: Path, run_id: str) -> None:
    check = run_child(["replay", run_id, "--check", "--root", str(root)])
    assert check.returncode == 0, check.stdout + check.stderr


def config() -> EmulatorConfig:
    return EmulatorConfig(job_seconds=0.0, seed=7)  # done when first asked: the waits are not the point


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, str]]:
    """One uninterrupted --analyze-first, then the checks of the issue's "done when"
    (once per session: ``tests.shared``)."""
    def make(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
        root = copy_sample(folder / "tree")
        with Emulator(config()) as emu:
            done = chargen(root, emu.base_url, *ARGS)
            assert done.returncode == 0, done.stdout + done.stderr
            assert f"== run 1 of 2: analyses, run {FIRST} ==" in done.stdout
            assert f"`chargen-es resume {FIRST} --root {root}`, then this command again" in done.stdout
            assert f"== run 2 of 2: generation, run {RUN_ID} ==" in done.stdout
            assert_exactly_once(root, emu.stats())
            replay_check(root, FIRST)

            # every character's prompts carry its analysed traits and palette
            sources = {"ada": "images/ada-portrait.png", "bram": "refs/bram-armor.png", "cyra": "refs/cyra-sketch.png",
                       "dov": "refs/dov-hat.png"}  # Ada names hers first; the others use their references
            for slug, source in sources.items():
                entries = read_yaml((root / "characters" / slug / "imagery.yaml").read_text())["generated_images"]
                traits = json.loads((root / "characters" / slug / f"{source}.analysis.json").read_text())["traits"]
                fresh = [e for e in entries if e["batch_run_id"] == RUN_ID]
                assert fresh and all(f"Keep consistent with: traits: {traits[0]}" in e["prompt_used"] for e in fresh)
                assert all("; palette: " in e["prompt_used"] for e in fresh)
            made = (outputs(root), analyses(root))

            again = chargen(root, emu.base_url, *run_args("--analyze-first", run_id="2030-01-02T00-00-00Z"))
            assert again.returncode == 0, again.stdout + again.stderr
            assert "no analyses to do first" in again.stdout and "nothing to do" in again.stdout
            assert (outputs(root), analyses(root)) == made
            assert not (root / ".chargen" / "batch" / "2030-01-02T00-00-00Z").exists()

            # a repainted portrait: analysed again, and only Ada's scenes are planned again
            (root / "characters/ada/images/ada-portrait.png").write_bytes(b"\x89PNG repainted")
            preview = chargen(root, emu.base_url, "run", "--dry-run")
            assert "characters/ada: stale images/ada-portrait.png" in preview.stdout
            edited = chargen(root, emu.base_url, *run_args("--analyze-first", run_id="2030-01-03T00-00-00Z"))
            assert edited.returncode == 0, edited.stdout + edited.stderr
            plan = json.loads((root / ".chargen/batch/2030-01-03T00-00-00Z/plan.json").read_text())
            # the scene with the portrait among its references: the workspace history names the cause
            assert {(t["slug"], t["reason"]) for t in plan["tasks"]} == {("ada", "analysis changed"),
                                                                         ("ada", "references changed")}
            assert len(plan["tasks"]) == 3
            first = json.loads((root / ".chargen/batch/2030-01-03T00-00-00Z-analyses/plan.json").read_text())
            assert [t["scene"] for t in first["tasks"]] == ["analyze:ada-portrait"]
        return made

    outputs_, analyses_ = once_per_session(tmp_path_factory, "analyze-first-reference", make)
    return outputs_, analyses_


# the 9 analyses of run 1 apply first: #2 kills run 1, #12 kills run 2 (the generation)
@pytest.mark.slow
@pytest.mark.parametrize("point", ["after:append:line.applied#2", "after:append:line.applied#12"])
def test_killed_and_resumed_converges(point: str, tmp_path: Path,
                                      reference: tuple[dict[str, str], dict[str, str]]) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(config()) as emu:
        crashed = crash(root, emu.base_url, point, *ARGS)
        in_second = (root / ".chargen" / "batch" / RUN_ID).exists()
        if in_second:
            done = chargen(root, emu.base_url, "resume", RUN_ID)
            assert done.returncode == 0, done.stdout + done.stderr
        else:
            assert f"if it stops: `chargen-es resume {FIRST}" in crashed.stdout
            resumed = chargen(root, emu.base_url, "resume", FIRST)
            assert resumed.returncode == 0, resumed.stdout + resumed.stderr
            done = chargen(root, emu.base_url, *ARGS)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "no analyses to do first" in done.stdout
        replay_check(root, FIRST)
        assert_exactly_once(root, emu.stats(), reference[0])
        assert analyses(root) == reference[1]
