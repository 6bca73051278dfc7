"""The ``chargen-es`` command line: one click group, one error boundary.

Commands live in sibling modules named for them (``run_cmd``, ``resume_cmd``,
``cancel_cmd``, ``demo_cmd``, ``inspect_cmd``, ``dashboard_cmd``, ``menu``, ...; each
lists its commands in ``COMMANDS``) and are named in :data:`COMMAND_MODULES`; a module is imported only when one of its commands is looked
up, so ``chargen-es inspect`` never loads the planner, the engine or the SDK (``--help``
loads every command module, still without the SDK: tests/core/test_startup.py);
``chargen-es`` with no command opens the menu on a terminal. Nothing in chargen-es
imports this package: it is the top of the layer diagram. Every ``ChargenError`` is
caught once, in :func:`main`, and printed as one line with its exit code; ``-v`` shows
the traceback as well.
"""

from __future__ import annotations

import importlib
import sys

import click

from chargen_es import __version__
from chargen_es.cli.common import run_cli

# command name -> the module whose COMMANDS holds it (tests/core/test_startup.py checks both ways)
COMMAND_MODULES = {
    "inspect": "inspect_cmd", "replay": "inspect_cmd", "emulator": "emulator_cmd", "run": "run_cmd",
    "resume": "resume_cmd", "cancel": "cancel_cmd", "demo": "demo_cmd", "doctor": "doctor_cmd",
    "models": "models_cmd", "dashboard": "dashboard_cmd", "menu": "menu", "status": "status_cmd",
    "stats": "stats_cmd", "delete": "delete_cmd",
    "mcp": "mcp_cmd", "pick": "verdict_cmd", "reject": "verdict_cmd", "clear": "verdict_cmd",
    "review": "review_cmd",
}


class LazyGroup(click.Group):
    """A group that imports a command's module when the command is first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            module = importlib.import_module(f"chargen_es.cli.{COMMAND_MODULES[cmd_name]}")
            for command in module.COMMANDS:
                self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(__version__, prog_name="chargen-es")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and debug detail.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Batch-generate and batch-analyse story art through the Gemini Batch API."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if ctx.invoked_subcommand is None:  # `chargen-es` alone: the menu on a terminal
        from chargen_es.cli.menu import no_command

        no_command(ctx)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, argv))
