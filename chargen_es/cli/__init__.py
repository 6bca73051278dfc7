"""The ``chargen-es`` command line: one click group, one error boundary.

Commands live in sibling modules named for them (``run_cmd``, ``resume_cmd``, ``cancel_cmd``,
``demo_cmd``, ``inspect_cmd``, ``dashboard_cmd``, ``menu``, ...) and are registered here;
``chargen-es`` with no command opens the menu on a terminal. Nothing in chargen-es imports
this package: it is the top of the layer
diagram. Every ``ChargenError`` is caught once, in :func:`main`, and printed as one line
with its exit code; ``-v`` shows the traceback as well.
"""

from __future__ import annotations

import sys

import click

from chargen_es import __version__
from chargen_es.cli.common import run_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
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


def _register() -> None:
    from chargen_es.cli import (
        cancel_cmd,
        dashboard_cmd,
        demo_cmd,
        doctor_cmd,
        emulator_cmd,
        inspect_cmd,
        menu,
        models_cmd,
        resume_cmd,
        run_cmd,
    )

    for module in (
        inspect_cmd,
        emulator_cmd,
        run_cmd,
        resume_cmd,
        cancel_cmd,
        demo_cmd,
        doctor_cmd,
        models_cmd,
        dashboard_cmd,
        menu,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, argv))
