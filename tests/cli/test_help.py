"""Every option a user can see says what it does (``--help``)."""

from __future__ import annotations

import click

from chargen_es.cli import cli


def test_every_visible_option_of_every_command_says_what_it_does() -> None:
    ctx = click.Context(cli)
    silent = [f"{name} {'/'.join(p.opts)}" for name in cli.list_commands(ctx)
              for p in (cli.get_command(ctx, name) or click.Command(name)).params
              if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()]
    assert silent == []
