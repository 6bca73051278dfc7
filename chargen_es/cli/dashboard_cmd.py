"""``chargen-es dashboard``: the live web dashboard over a content tree's runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chargen_es.cli.common import root_option
from chargen_es.cli.execute import backend_options


def _backend_args(use_emulator: bool, base_url: str | None, api_version: str,
                  emulator_job_seconds: float) -> tuple[str, ...]:
    """The flags a Resume or Cancel child gets, so it talks to the same backend as asked here."""
    args: list[str] = []
    if use_emulator:
        args += ["--emulator", "--emulator-job-seconds", repr(emulator_job_seconds)]
    if base_url:
        args += ["--base-url", base_url]
    if api_version != "v1beta":
        args += ["--api-version", api_version]
    return tuple(args)


@click.command("dashboard")
@root_option(tree="exists")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in the default browser.")
@backend_options
@click.option("--poll-interval", type=float, default=None, hidden=True,
              help="Passed to `resume` children and the batch API's runs: seconds between job state checks.")
@click.option("--refresh", type=click.FloatRange(min=0.02), default=0.2, hidden=True,
              help="Seconds between looks at the journals.")
def dashboard(root: Path, port: int, open_browser: bool, use_emulator: bool, base_url: str | None,
              api_version: str, emulator_job_seconds: float, poll_interval: float | None, refresh: float) -> int:
    """Serve a live web dashboard of this tree's runs on 127.0.0.1 (Ctrl-C stops it)."""
    from chargen_es.cli import resume_cmd
    from chargen_es.cli.run_cmd import batch_file_plan
    from chargen_es.dashboard import DashboardSettings, run_dashboard

    backend = _backend_args(use_emulator, base_url, api_version, emulator_job_seconds)
    polling = ("--poll-interval", repr(poll_interval)) if poll_interval is not None else ()
    takes_yes = any(p.name == "yes" for p in resume_cmd.resume.params)
    settings = DashboardSettings(root=root, dry_run=batch_file_plan, port=port, open_browser=open_browser, refresh_s=refresh,
                                 resume_args=(*backend, *polling, *(("--yes",) if takes_yes else ())),
                                 cancel_args=backend, run_args=polling)

    def announce(url: str) -> None:
        click.echo(url)
        click.echo(f"dashboard of {root.resolve()}; Ctrl-C stops it", err=True)
        sys.stdout.flush()

    run_dashboard(settings, announce)
    return 0


COMMANDS: list[click.Command] = [dashboard]
