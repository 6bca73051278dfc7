"""``run --preview N``: N tasks live, spread over entities, then a resumable stop; ``resume`` batches the rest.

Real ``chargen-es`` children on the embedded emulator; SIGKILL at the preview's calls and at
its switch to batch, then ``resume``: every key is delivered once, the preview's live and
the rest by batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargen_es import events as ev
from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.journal import read_events
from tests.engine.harness import RUN_ID, assert_exactly_once, chargen, copy_sample, crash, run_args
from tests.review.test_verdicts import cli
from tests.shared import sweep


def journal(root: Path) -> list[ev.Event]:
    return read_events(root / ".chargen/batch" / RUN_ID / "journal.jsonl")


def assert_delivered_once(root: Path, stats: dict) -> None:
    events = journal(root)
    planned = [e.task.key for e in events if isinstance(e, ev.TaskPlanned)]
    preview = next(e for e in events if isinstance(e, ev.RunStarted)).config["preview"]
    applied = [e for e in events if isinstance(e, ev.LineApplied)]
    assert sorted(e.key for e in applied) == sorted(planned), "each planned key applied exactly once"
    assert {e.key for e in applied if e.via == "live"} == set(preview)
    assert set(stats["batch_keys"]) == set(planned) - set(preview), "the preview's keys never go in a batch"
    assert all(n == 1 for n in stats["batch_keys"].values())
    assert events[-1].__class__ is ev.RunCompleted
    assert_exactly_once(root, stats)


def test_preview_three_then_resume_sends_the_rest_as_batch(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig()) as emu:
        first = chargen(root, emu.base_url, *run_args("--preview", "3"))
        assert first.returncode == 0, first.stderr
        assert emu.stats()["batches"] == 0, "nothing was sent as batch before the user had a look"
        events = journal(root)
        assert isinstance(events[-1], ev.RunPaused) and events[-1].reason == "preview"
        made = [o.path for e in events if isinstance(e, ev.LineApplied) for o in e.outputs]
        assert len(made) == 3 and len({p.split("/")[1] for p in made}) >= 2, made
        assert all(str(root / p) in first.stdout for p in made)
        assert f"chargen-es resume {RUN_ID} --root {root}" in first.stdout
        rejected = next(e for e in events if isinstance(e, ev.LineApplied))
        assert cli(root, "reject", rejected.outputs[0].path, "--note", "less fog").returncode == 0
        rest = chargen(root, emu.base_url, "resume", RUN_ID)
        assert rest.returncode == 0, rest.stderr
        assert_delivered_once(root, emu.stats())
        scene = rejected.key.partition("@")[0]
        assert f"rejected in the preview: {scene};" in rest.stdout
        again = json.loads(chargen(root, emu.base_url, "run", "--dry-run", "--json").stdout)
        assert [(t["key"].partition("@")[0], t["reason"]) for t in again["tasks"]] == [(scene, "rejected")]
        assert again["tasks"][0]["prompt"].endswith("Unlike the rejected takes: less fog.")


@pytest.mark.parametrize("point", sweep(["after:call#2", "before:append:run.paused", "after:append:run.paused"]))
def test_a_kill_in_the_preview_or_at_its_switch_resumes_exactly(tmp_path: Path, point: str) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig()) as emu:
        crash(root, emu.base_url, point, *run_args("--preview", "3"))
        rest = chargen(root, emu.base_url, "resume", RUN_ID)
        assert rest.returncode == 0, rest.stderr
        assert_delivered_once(root, emu.stats())


def test_preview_needs_the_batch_runner(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    with Emulator(EmulatorConfig()) as emu:
        done = chargen(root, emu.base_url, *run_args("--preview", "2", "--runner", "live"))
    assert done.returncode == 2 and "--preview" in done.stderr


def test_the_preview_spreads_over_entities_then_scenes_then_takes() -> None:
    from chargen_es.cli.run_cmd import preview_keys

    def task(slug: str, scene: str, take: int) -> ev.Task:
        return ev.Task(key=f"character/{slug}/{scene}@sha256:{take}", kind="generate", entity_type="characters",
                       slug=slug, scene=scene, prompt="p", model="m", output_dir="o", output_stem="s")

    plan = [task("ada", "a", 1), task("ada", "a", 2), task("ada", "b", 1), task("ada", "b", 2), task("bram", "c", 1)]
    assert preview_keys(plan, 4) == ["character/ada/a@sha256:1", "character/bram/c@sha256:1",
                                     "character/ada/b@sha256:1", "character/ada/a@sha256:2"]
    assert len(preview_keys(plan, 10)) == 5
