"""``chargen-es review`` driven like a person does: a real pseudo-terminal, one key per answer."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pexpect

from chargen_es import events as ev
from chargen_es.journal import read_events
from tests.procs import TerminalChild, run_child, spawn_on_terminal
from tests.shared import read_yaml

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(root: Path, *args: str) -> TerminalChild:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    env["TERM"] = "xterm-256color"
    return spawn_on_terminal(["review", "--root", str(root), *args], env=env, timeout=30, dimensions=(50, 200))


def finish(child: TerminalChild) -> tuple[int, str]:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, ANSI.sub("", child.before or "").replace("\r", "")


def test_the_walk_shows_takes_as_paths_and_records_each_key(tree: Path) -> None:
    child = spawn(tree)
    child.expect(r"\[1/5\] character/ada/lost in the fog \(1 take\)")
    child.expect(r"take 1: \[p\]ick")
    child.send("s")
    child.expect(r"\[2/5\] character/ada/map-room \(3 takes\)")
    for n in (1, 2, 3):
        child.expect(rf"{n}\. {re.escape(str(tree))}/characters/ada/images/map-room")
    for n in (1, 2, 3):
        child.expect(rf"take {n}: \[p\]ick")
        child.send("r")
        child.expect("note")
        child.send("too dark\r")
        child.expect("rejected characters/ada/images/map-room")
    child.expect(r"\[3/5\] character/ada/rooftop-survey")
    child.expect(r"take 1: \[p\]ick")
    child.send("p")
    child.expect(r"\[4/5\] character/bram/tavern-story")  # the sample's own image (a plural legacy key)
    child.expect(r"take 1: \[p\]ick")
    child.send("q")
    code, out = finish(child)
    assert code == 0, out
    assert "1 picked, 3 rejected, 1 skipped" in out
    events = read_events(tree / ".chargen/review/journal.jsonl")
    assert [(type(e), getattr(e, "note", "")) for e in events] == [(ev.ImageRejected, "too dark")] * 3 + [
        (ev.ImagePicked, "")]
    shown = read_yaml((tree / "characters/ada/imagery.yaml").read_text())["generated_images"]
    assert sorted(e.get("review", "") for e in shown) == ["", "picked", "rejected", "rejected", "rejected"]
    again = spawn(tree, "--only", "a*")
    again.expect(r"\[1/1\] character/ada/lost in the fog")
    again.expect(r"take 1: \[p\]ick")
    again.send("q")
    code, out = finish(again)
    assert code == 0 and "0 picked, 0 rejected, 0 skipped" in out
    assert len(read_events(tree / ".chargen/review/journal.jsonl")) == 4, "quitting records nothing"


def test_nothing_waiting_and_a_selection_that_matches_nothing(tree: Path) -> None:
    done = run_child(["review", "--root", str(tree), "--only", "cyra"])
    assert done.returncode == 0 and done.stdout.strip() == "no scene is waiting for a verdict"
    bad = run_child(["review", "--root", str(tree), "--only", "nobody"])
    assert bad.returncode == 2 and "--only nobody" in bad.stderr


def test_the_menu_offers_the_review(tree: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEN_ES_")}
    env.update({"TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"})
    child = spawn_on_terminal(["menu", "--root", str(tree)], env=env, timeout=30, dimensions=(50, 200))
    child.expect("What do you want to do")
    child.expect("Review")
    child.send("\x1b[B" * 5 + "\r")  # Batch Generate, Batch Analyze, Resume, Inspect, Status, Review
    child.expect(re.escape(f"$ chargen-es review --root {tree}"))
    child.expect(r"\[1/5\] character/ada/lost in the fog")
    child.expect(r"take 1: \[p\]ick")
    child.send("q")
    child.expect("0 picked, 0 rejected, 0 skipped")
    child.expect("What do you want to do")  # a step of the session: back to the menu (cli/menu.py)
    child.expect("Quit")
    child.send("\x1b[B" * 7 + "\r")  # the four actions, Status, Review, Dashboard, then Quit
    code, _ = finish(child)
    assert code == 0
