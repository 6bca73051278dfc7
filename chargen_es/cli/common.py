"""Shared pieces of the command line: the error boundary and common options."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chargen_es.errors import ChargenError, LocalIOError, UsageError, local_io_error

F = TypeVar("F", bound=Callable[..., Any])


def root_option(f: F | None = None, *, tree: str = "required") -> Any:
    """``--root``: the content tree (default the current folder).

    ``tree`` says what the folder must be (``statedir.tree_problem``): a wrong or empty
    root is a usage error (exit 2) before the command does anything, so it can never look
    like success. ``required``: a content tree or a folder holding runs; ``content``: a
    content tree (``status``: runs alone have no scenes); ``exists``: any folder that exists
    (``doctor``, ``models``, the menu, and ``dashboard`` and ``mcp``, whose named batches
    make any folder a workspace: the root holds only their chargen.yaml, batches or the
    embedded emulator's state); ``body``: the command checks it
    itself (``run``: not with ``--batch-file``).
    """

    def check(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
        _Invocation.root = value
        if tree == "required":
            require_tree(value)
        elif tree == "content":
            require_tree(value, runs_count=False)
        elif tree == "exists" and not value.is_dir():
            raise UsageError(f"--root {value}: no such folder")
        return value

    def decorate(func: F) -> F:
        return click.option(
            "--root",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("."),
            show_default=True,
            callback=check,
            help="Root of the content tree.",
        )(func)

    return decorate(f) if f is not None else decorate


class _Invocation:
    """What the one error boundary needs to know of this invocation: its ``--root``, so
    that a local I/O error names its file relative to it."""

    root: Path | None = None


def require_tree(root: Path, *, runs_count: bool = True) -> None:
    """A usage error unless ``root`` is a content tree (or, with ``runs_count``, holds runs)."""
    from chargen_es.statedir import tree_problem

    problem = tree_problem(root, runs_count=runs_count)
    if problem:
        raise UsageError(problem)


def human_bytes(n: int) -> str:
    """``6564`` -> ``6.4 kB`` (decimal units, as file managers show them)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def note(line: str) -> None:
    """A one-line notice on stderr (an index rebuilt, an unfinished run)."""
    click.echo(f"note: {line}", err=True)


def run_cli(group: click.Group, argv: list[str] | None) -> int:
    """Run the click group; turn every ChargenError into one line and an exit code."""
    verbose = "-v" in (argv if argv is not None else sys.argv[1:]) or "--verbose" in (
        argv if argv is not None else sys.argv[1:]
    )
    try:
        rv = group.main(args=argv, prog_name="chargen-es", standalone_mode=False)
    except ChargenError as exc:
        if verbose:
            traceback.print_exc()
        if isinstance(exc, LocalIOError) and exc.root is None:
            exc = exc.located(_Invocation.root, None)
        click.echo(f"chargen-es: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("chargen-es: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("chargen-es: interrupted", err=True)
        return 130
    except OSError as exc:
        named = local_io_error(exc, root=_Invocation.root)  # disk full, read-only, permission, EIO …: no bug
        if named is None:
            return _internal(exc, verbose)
        if verbose:
            traceback.print_exc()
        click.echo(f"chargen-es: {named}", err=True)
        return named.exit_code
    except Exception as exc:  # noqa: BLE001 - the one boundary: a bug still gets one line
        return _internal(exc, verbose)
    return rv if isinstance(rv, int) else 0


def _internal(exc: Exception, verbose: bool) -> int:
    if verbose:
        traceback.print_exc()
    click.echo(f"chargen-es: internal error: {type(exc).__name__}: {exc} (run with -v for the traceback; "
               "the run's journal is intact and `resume` continues it)", err=True)
    return 1
