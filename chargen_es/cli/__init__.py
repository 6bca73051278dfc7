"""The ``chargen-es`` command line: one click group, one error boundary.

Commands live in sibling modules named for them (``run_cmd``, ``resume_cmd``,
``cancel_cmd``, ``demo_cmd``, ``inspect_cmd``, ``dashboard_cmd``, ``menu``, ...; each
lists its commands in ``COMMANDS``) and are named in :data:`COMMAND_MODULES`; a module is imported only when one of its commands is looked
up, so ``chargen-es inspect`` never loads the planner, the engine or the SDK, and
``--help`` loads no command module at all (:data:`COMMAND_SUMMARIES`; tests/core/test_startup.py);
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
    "stats": "stats_cmd", "delete": "delete_cmd", "prune": "prune_cmd",
    "mcp": "mcp_cmd", "pick": "verdict_cmd", "reject": "verdict_cmd", "clear": "verdict_cmd",
    "review": "review_cmd",
}
# each command's one-line summary (the first paragraph of its help), so ``chargen-es
# --help`` lists the commands without importing a single command module (it used to
# import all of them: 3x the start-up of its libraries); tests/core/test_startup.py holds
# every line equal to its command's own help
COMMAND_SUMMARIES = {
    "clear": "Withdraw the verdict on this take: it waits for one again.",
    "pick": "Keep this take: its scene is settled and a later run never re-plans it.",
    "reject": "Do not keep this take (with a note that steers the next round).",
    "review": "Walk the scenes waiting for a verdict: pick a take, reject takes with a note, or skip.",
    "cancel": "Cancel the run's remote jobs, stop a process working on it, and record the cancel.",
    "delete": "Delete a finished (completed or cancelled) run: its folder, and its remote files while they still "
              "exist. Refused while a process works on the run. Its totals stay in `chargen-es stats`; a delete "
              "killed midway is finished or undone by the next command.",
    "dashboard": "Serve a live web dashboard of this tree's runs on 127.0.0.1 (Ctrl-C stops it).",
    "demo": "Copy the sample tree to DIRECTORY and run it on the embedded emulator: the analyses generation "
            "needs, the generation, the analyses of the new pictures, then the sample batch file.",
    "doctor": "Check the key, the base URL and the models (and with --roundtrip, one real batch).",
    "emulator": "Serve the embedded Gemini API emulator; prints its base URL first.",
    "inspect": "Show runs: no RUN_ID lists them; with one, its summary, chunks and failures.",
    "mcp": "Serve named batches to an MCP client over stdio (plan_batch, create_batch, ...).",
    "menu": "Choose what to do from a menu (Batch Generate, Batch Analyze, Resume, Inspect).",
    "models": "List the models this key can use, with batch support, catalogue status and prices.",
    "prune": "Remove what finished runs no longer need (results, requests, failed/ details).",
    "replay": "Rebuild state.json, files-cache.json, report.json and plan.json from the journal.",
    "resume": "Continue a run from its journal (the newest unfinished one when no id is given).",
    "run": "Plan the content tree (or a batch file) and run it through the Gemini Batch API (or live calls).",
    "stats": "One row per run (cost at the runner's prices, saving against live, retries, 429s) and totals.",
    "status": "Per entity, each scene: done, missing, changed, outdated or never generated; analyses too.",
}


class LazyGroup(click.Group):
    """A group that imports a command's module when the command is first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of ``--help`` from :data:`COMMAND_SUMMARIES`, importing no
        command module (one already loaded speaks for itself)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name) or click.Command(name, help=COMMAND_SUMMARIES.get(name, ""))
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
