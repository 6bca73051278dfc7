"""``chargen-es review``: walk the scenes waiting for a verdict and judge their takes.

A scene waits while none of its takes is picked and at least one has no verdict. Each
scene is shown with all of its takes as paths (with the verdicts already given), then each
take still waiting is asked about, one key each: ``p`` picks it (the scene is settled: on to
the next scene), ``r`` rejects it and asks for a note, ``s`` skips it, ``q`` stops. Every
verdict is recorded at once (``chargen_es.engine.review``: the same path as ``pick`` and
``reject``), so stopping anywhere loses nothing. On a terminal a key is read without Enter;
otherwise one line per answer, so a script can pipe its answers in.
"""

from __future__ import annotations

import os
import sys
import termios
import tty
from pathlib import Path
from typing import Any

import click

from chargen_es.cli.common import root_option
from chargen_es.engine import review
from chargen_es.errors import UsageError
from chargen_es.imagery import folder_of_image
from projections.review import ImageState, Review, scene_verdict

KEYS = "[p]ick  [r]eject with a note  [s]kip  [q]uit"


def waiting_scenes(root: Path, only: tuple[str, ...]) -> tuple[Review, list[list[review.Image]]]:
    """The review so far and the scenes waiting for a verdict, each as its takes (in path order)."""
    verdicts = review.load(root)
    allowed = _selected(root, only)
    scenes: dict[str, list[review.Image]] = {}
    for image in review.images(root):
        if allowed is None or folder_of_image(image.key, image.path) in allowed:
            scenes.setdefault(image.scene, []).append(image)
    out = []
    for scene in sorted(scenes):
        takes = sorted(scenes[scene], key=lambda i: i.path)
        states = [_state(verdicts, i) for i in takes]
        if scene_verdict(states) == "waiting" and None in states:
            out.append(takes)
    return verdicts, out


def _state(verdicts: Review, image: review.Image) -> ImageState | None:
    verdict = verdicts.of(image.key, image.sha256)
    return verdict.state if verdict else None


def _selected(root: Path, only: tuple[str, ...]) -> set[str] | None:
    """The entity folders ``--only`` selects (the planner's globs), or None for all."""
    if not only:
        return None
    from chargen_es.planner.tree import ENTITY_FILES, select

    return {f"{t}/{slug}" for t, slug in select(root, list(ENTITY_FILES), only)}


class _Answers:
    """Answers from the user: one key on a terminal (cbreak mode, set once before the first
    prompt, so a key typed as soon as the prompt shows is never flushed away by a mode
    change), else the first character of a line; a note is always a line."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno() if sys.stdin.isatty() else None
        self.saved: list[Any] | None = None

    def __enter__(self) -> _Answers:
        if self.fd is not None:
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)

    def key(self, prompt: str) -> str:
        click.echo(prompt, nl=False)
        if self.fd is not None:
            answer = os.read(self.fd, 1).decode("utf-8", "replace")
            click.echo(answer)
            return answer.lower() if answer else "q"
        text = sys.stdin.readline()
        click.echo("")
        return text.strip()[:1].lower() if text else "q"

    def note(self) -> str:
        if self.fd is not None and self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)  # a line, with echo and editing
        try:
            click.echo("  note (Enter for none): ", nl=False)
            return sys.stdin.readline().strip()
        finally:
            if self.fd is not None:
                tty.setcbreak(self.fd, termios.TCSANOW)


@click.command("review")
@root_option
@click.option("--only", "only", multiple=True, metavar="GLOB",
              help="Review only entities whose slug or type/slug matches this glob (repeatable).")
def review_scenes(root: Path, only: tuple[str, ...]) -> int:
    """Walk the scenes waiting for a verdict: pick a take, reject takes with a note, or skip."""
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a folder")
    verdicts, scenes = waiting_scenes(root, only)
    if not scenes:
        click.echo("no scene is waiting for a verdict")
        return 0
    with _Answers() as answers:
        counts = _walk(root, verdicts, scenes, answers)
    _summary(counts)
    return 0


def _walk(root: Path, verdicts: Review, scenes: list[list[review.Image]], answers: _Answers) -> dict[str, int]:
    """Ask about every waiting take; each verdict is recorded as it is given."""
    counts = {"picked": 0, "rejected": 0, "skipped": 0}
    for n, takes in enumerate(scenes, start=1):
        click.echo(f"\n[{n}/{len(scenes)}] {takes[0].scene} ({len(takes)} take{'s' if len(takes) != 1 else ''})")
        for i, image in enumerate(takes, start=1):
            verdict = verdicts.of(image.key, image.sha256)
            shown = f"  [{verdict.state}" + (f": {verdict.note}" if verdict and verdict.note else "") + "]" \
                if verdict else ""
            click.echo(f"  {i}. {root / image.path}{shown}")
        for i, image in enumerate(takes, start=1):
            if verdicts.of(image.key, image.sha256) is not None:
                continue
            answer = ""
            while answer not in ("p", "r", "s", "q"):
                answer = answers.key(f"take {i}: {KEYS}? ")
            if answer == "q":
                return counts
            if answer == "s":
                counts["skipped"] += 1
                continue
            note = answers.note() if answer == "r" else ""
            decision: review.Decision = "pick" if answer == "p" else "reject"
            review.record(root, image, decision, note)
            counts["picked" if answer == "p" else "rejected"] += 1
            click.echo(f"  {'picked' if answer == 'p' else 'rejected'} {image.path}")
            if answer == "p":
                break
    return counts


def _summary(counts: dict[str, int]) -> None:
    click.echo(f"{counts['picked']} picked, {counts['rejected']} rejected, {counts['skipped']} skipped; "
               "`chargen-es run` re-plans the scenes whose takes are all rejected")


COMMANDS: list[click.Command] = [review_scenes]
