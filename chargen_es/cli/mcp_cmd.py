"""``chargen-es mcp``: the MCP server over stdio (``cli/mcp_server.py``)."""

from __future__ import annotations

from pathlib import Path

import click

from chargen_es.cli.common import root_option
from chargen_es.errors import UsageError


@click.command()
@root_option(tree="exists")
@click.option("--emulator", "use_emulator", is_flag=True, help="Batches run on the embedded Gemini emulator.")
@click.option("--base-url", default=None, help="Batches talk to this base URL (an emulator, a proxy).")
@click.option("--poll-interval", type=float, default=None, hidden=True,
              help="Passed to the batches' runs and resumes: seconds between job state checks.")
def mcp(root: Path, use_emulator: bool, base_url: str | None, poll_interval: float | None) -> int:
    """Serve named batches to an MCP client over stdio (plan_batch, create_batch, ...).

    References are paths under --root; runs and images land in it as `run --batch-file`
    would put them. The client starts this command; it ends when the client closes stdin.
    """
    import trio

    from chargen_es.cli.mcp_server import build
    from chargen_es.cli.run_cmd import batch_file_plan
    from chargen_es.dashboard.batches import Batches

    if use_emulator and base_url:
        raise UsageError("--emulator and --base-url: choose one")
    backend = ("--emulator",) if use_emulator else ("--base-url", base_url) if base_url else ()
    polling = ("--poll-interval", repr(poll_interval)) if poll_interval is not None else ()
    server = build(Batches(root, batch_file_plan, backend, resume_args=(*backend, *polling), run_args=polling))
    trio.run(server.run_stdio_async)
    return 0


COMMANDS = [mcp]
