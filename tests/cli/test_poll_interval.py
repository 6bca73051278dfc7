"""The poll interval follows the backend: the embedded emulator's own job time, Google's 30 s.

The options are parsed by the real ``run`` / ``resume`` commands (click) and turned into
the engine's options by the same code a run uses.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from chargen_es.cli.execute import ExecSettings, engine_options
from chargen_es.cli.resume_cmd import resume
from chargen_es.cli.run_cmd import run


@pytest.fixture(autouse=True)
def _in_a_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "chargen.yaml").write_text("style: ink\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # --root defaults to the working directory


def poll_of(command: click.Command, *argv: str) -> float:
    with command.make_context(command.name or "", list(argv)) as ctx:
        settings = ExecSettings.from_kwargs(dict(ctx.params))
    return engine_options(settings, Path("."), Path(".")).poll_interval


@pytest.mark.parametrize("command", [run, resume])
def test_a_plain_emulator_run_polls_at_the_emulators_pace(command: click.Command) -> None:
    assert poll_of(command, "--emulator") == 0.5  # the embedded emulator's job takes 2 s by default
    assert poll_of(command, "--emulator", "--emulator-job-seconds", "8") == 2.0
    assert poll_of(command, "--emulator", "--emulator-job-seconds", "0") == 0.05  # instant jobs: a floor


@pytest.mark.parametrize("command", [run, resume])
def test_google_and_any_base_url_poll_every_30_seconds_and_an_explicit_interval_wins(command: click.Command) -> None:
    assert poll_of(command) == 30.0
    assert poll_of(command, "--base-url", "http://127.0.0.1:9") == 30.0
    assert poll_of(command, "--emulator", "--poll-interval", "3") == 3.0
    assert poll_of(command, "--poll-interval", "0.5") == 0.5


def test_the_help_says_where_the_default_comes_from() -> None:
    with run.make_context("run", ["--help"], resilient_parsing=True) as ctx:
        text = run.get_help(ctx)
    assert "follows the backend" in " ".join(text.split())
