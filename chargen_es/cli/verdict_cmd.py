"""``chargen-es pick IMAGE`` / ``reject IMAGE --note TEXT`` / ``clear IMAGE``: one verdict each.

The scriptable forms of the review (``chargen-es review`` walks the scenes; the dashboard
posts the same decisions). IMAGE is a path of an image chargen-es made (relative to the
current folder or ``--root``) or its task key; the verdict goes into the workspace's
review journal and is shown in the image's imagery.yaml (``chargen_es.engine.review``).
"""

from __future__ import annotations

from pathlib import Path

import click

from chargen_es.cli.common import root_option
from chargen_es.engine import review
from chargen_es.errors import UsageError

_IMAGE = click.argument("image", metavar="IMAGE")


def decide(root: Path, spec: str, decision: review.Decision, note: str = "") -> review.Image:
    """Record one verdict and say what happened (a verdict already standing appends nothing)."""
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a folder")
    image = review.locate(root, spec)
    recorded = review.record(root, image, decision, note)
    word = {"pick": "picked", "reject": "rejected", "clear": "cleared"}[decision]
    click.echo(f"{word} {image.path}" + ("" if recorded else " (already so; nothing recorded)"))
    return image


def _verdict_command(name: str, decision: review.Decision, summary: str) -> click.Command:
    """One command per decision: the same argument, root and output; ``reject`` adds ``--note``."""

    def command(image: str, root: Path, note: str = "") -> int:
        decide(root, image, decision, note)
        return 0

    command.__doc__ = summary
    command = root_option(_IMAGE(command))
    if decision == "reject":
        command = click.option(
            "--note", default="", metavar="TEXT",
            help="Why: when every take of the scene is rejected, the next run re-plans it with the notes.")(command)
    return click.command(name)(command)


pick = _verdict_command("pick", "pick", "Keep this take: its scene is settled and a later run never re-plans it.")
reject = _verdict_command("reject", "reject", "Do not keep this take (with a note that steers the next round).")
clear = _verdict_command("clear", "clear", "Withdraw the verdict on this take: it waits for one again.")

COMMANDS: list[click.Command] = [pick, reject, clear]
