"""The menu driven like a person does: a real pseudo-terminal (pexpect), real keys, a real run.

Each test spawns ``python -m chargen_es`` on a pty (forked warm: ``tests.procs``), answers the prompts with arrow keys and
Enter, and lets the run go against the embedded emulator (``--emulator``, chosen in the
menu). Nothing of ours is replaced: the run is the ``run`` command itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from pathlib import Path

import click
import pexpect
import pytest

from chargen_es.cli import cli
from tests.engine.harness import copy_sample
from tests.procs import TerminalChild, run_child, spawn_on_terminal

DOWN, ENTER = "\x1b[B", "\r"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

COMMANDS = set(cli.list_commands(click.Context(cli)))  # the group loads its commands lazily


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items()
           if not k.startswith("CHARGEN_ES_") and k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    # PROMPT_TOOLKIT_NO_CPR: this terminal does not answer cursor-position requests (a real
    # one does), so prompt_toolkit is told not to ask and wait for the answer
    out.update({"NO_PROXY": "127.0.0.1,localhost", "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"})
    return out


def spawn(*args: str, cwd: Path | None = None) -> TerminalChild:
    return spawn_on_terminal(args, cwd=cwd, env=env(), timeout=60, dimensions=(50, 160))


def finish(child: TerminalChild) -> tuple[int, str]:
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    return child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 0), child.before


def plain(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "")


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def choose(child: TerminalChild, prompt: str, downs: int = 0) -> None:
    child.expect(prompt)
    child.send(DOWN * downs + ENTER)


def test_batch_generate_one_entity_runs_and_prints_the_equivalent_command(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    child = spawn("menu", "--root", str(root))
    child.expect("What do you want to do")
    child.expect("Quit")
    menu_text = plain(child.before)
    assert ("Status" in menu_text) == ("status" in COMMANDS)
    assert ("Dashboard" in menu_text) == ("dashboard" in COMMANDS)
    child.send(ENTER)  # Batch Generate
    choose(child, "Which part of the tree", downs=4)  # one entity
    child.expect("Entity")
    child.send("characters/dov")
    child.expect("characters/dov")
    child.send(ENTER)
    choose(child, "Backend")  # the embedded emulator (no key set)
    choose(child, "Model:")  # the current default: no --model flag
    choose(child, "Runner")  # batch
    child.expect(r"\$ chargen-es (run [^\r\n]*)")
    command = plain(child.match.group(1)).strip()
    child.expect(r"submit 2 tasks in 1 chunk\?")
    child.sendline("y")
    code, tail = finish(child)
    out = plain(tail)
    assert code == 0, out
    assert "completed   2 ok, 0 failed, 0 skipped" in out
    assert shlex.split(command) == ["run", "--root", str(root), "--scope", "characters", "--only", "dov",
                                    "--emulator"]
    images = sorted(p.name for p in (root / "characters" / "dov" / "images").iterdir())
    assert len([n for n in images if n.endswith("Z.jpg")]) == 2  # Gemini 3 answers JPEG
    again = run_child([*shlex.split(command)], env=env())
    assert again.returncode == 0, again.stderr
    assert "skipped:  2 (done 2)" in again.stdout and "nothing to do" in again.stdout


def test_resume_lists_an_interrupted_run_and_finishes_it(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    detached = run_child(["run", "--root", str(root), "--only", "dov",
                               "--emulator", "--yes", "--detach", "--run-id", "2030-01-01T00-00-00Z"], env=env())
    assert detached.returncode == 0, detached.stderr
    child = spawn("menu", "--root", str(root))
    choose(child, "What do you want to do", downs=2)  # Resume a run
    child.expect("Resume which run")
    child.expect("back")
    listed = plain(child.before)
    assert "2030-01-01T00-00-00Z  generate, batch: 0 ok, 0 failed of 2;" in listed
    child.send(ENTER)
    choose(child, "Backend")
    child.expect(r"\$ chargen-es (resume [^\r\n]*)")
    assert shlex.split(plain(child.match.group(1))) == ["resume", "2030-01-01T00-00-00Z", "--root", str(root),
                                                        "--emulator"]
    code, tail = finish(child)
    assert code == 0, plain(tail)
    assert "run 2030-01-01T00-00-00Z: completed; 2 ok" in plain(tail)


@pytest.mark.parametrize("at", ["What do you want to do", "Which part of the tree", "Runner"])
def test_ctrl_c_at_a_prompt_exits_130_with_nothing_written(tmp_path: Path, at: str) -> None:
    root = copy_sample(tmp_path / "tree")
    before = snapshot(root)
    child = spawn("menu", "--root", str(root))
    if at != "What do you want to do":
        choose(child, "What do you want to do")
        if at == "Runner":
            choose(child, "Which part of the tree", downs=1)  # all characters
            choose(child, "Backend")
            choose(child, "Model:")
    child.expect(at)
    child.sendintr()
    code, _ = finish(child)
    assert code == 130
    assert snapshot(root) == before


def test_no_command_on_a_terminal_opens_the_menu(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    child = spawn(cwd=root)
    choose(child, "What do you want to do", downs=4 + sum(n in COMMANDS for n in ("status", "review", "dashboard")))
    code, _ = finish(child)  # Quit
    assert code == 0


def test_a_filtered_set_becomes_an_only_glob(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    child = spawn("menu", "--root", str(root))
    choose(child, "What do you want to do")
    choose(child, "Which part of the tree", downs=5)
    child.expect("Glob on slugs")
    child.send("zz*" + ENTER)
    child.expect("matches no entity")  # refused in place, the prompt stays
    child.send("\b" * 3 + "b*" + ENTER)
    choose(child, "Backend")
    choose(child, "Model:")
    choose(child, "Runner", downs=1)  # live
    child.expect("Workers")
    child.send("\b" + "3" + ENTER)
    child.expect(r"\$ chargen-es (run [^\r\n]*)")
    assert shlex.split(plain(child.match.group(1)))[3:] == ["--only", "b*", "--emulator", "--runner", "live",
                                                           "--workers", "3"]
    child.expect(r"submit \d+ tasks? in")
    child.sendline("n")
    code, _ = finish(child)
    assert code == 130  # declined: nothing submitted
    assert not (root / ".chargen" / "batch").exists()


def test_a_step_of_the_session_returns_to_the_menu_and_quit_leaves(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    child = spawn("menu", "--root", str(root))
    choose(child, "What do you want to do", downs=4)  # Status
    child.expect("totals: ")
    choose(child, "What do you want to do", downs=3)  # Inspect runs: none yet
    child.expect("no runs under")
    choose(child, "What do you want to do", downs=4 + sum(n in COMMANDS for n in ("status", "review", "dashboard")))
    code, _ = finish(child)
    assert code == 0


@pytest.mark.parametrize("args", [[], ["menu"]])
def test_without_a_terminal_the_menu_points_to_the_commands(tmp_path: Path, args: list[str]) -> None:
    done = run_child([*args], cwd=tmp_path, env=env())
    assert done.returncode == 2
    assert "the menu needs a terminal; use the commands instead" in done.stderr
