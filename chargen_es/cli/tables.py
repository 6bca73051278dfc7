"""Tables on a terminal that keep identifiers whole.

A run id, a task key or a path is what the next command needs, so a table never cuts one
(``2026-1…`` helps nobody). On a terminal the identifier columns (``keep``) get their full
width and never wrap; the other columns wrap between words (never an ellipsis), and when
the terminal is too narrow even for that, whole columns are left out, least useful first
(``drop``, then from the right), with a line naming them. Off a terminal (pipes, files)
every column is printed in full, aligned.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

_BORDER_PER_COLUMN = 3  # rich's default box: one rule and one space of padding each side


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
                keep: Sequence[str] = (), drop: Sequence[str] = ()) -> None:
    """A rich table on a terminal, aligned plain text otherwise (pipes, files, tests)."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    if not sys.stdout.isatty():
        _plain(title, headers, cells)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    shown = fitting_columns(headers, cells, console.width, keep, drop)
    table = Table(title=title or None)
    for i in shown:
        longest = _longest(headers[i], cells, i)
        if headers[i] in keep:
            table.add_column(headers[i], no_wrap=True, min_width=longest)
        else:
            table.add_column(headers[i], overflow="fold", min_width=_narrowest(headers[i], cells, i))
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    left_out = [headers[i] for i in range(len(headers)) if i not in shown]
    if left_out:
        console.print(f"(not shown at {console.width} columns: {', '.join(left_out)}; --json has every column)",
                      highlight=False)


def fitting_columns(headers: Sequence[str], cells: Sequence[Sequence[str]], width: int, keep: Sequence[str],
                    drop: Sequence[str]) -> list[int]:
    """Indexes of the columns that fit ``width``: every kept one whole, the others at
    their narrowest; columns are left out in ``drop`` order, then from the right."""
    shown = list(range(len(headers)))
    order = [headers.index(h) for h in drop if h in headers]
    order += [i for i in reversed(shown) if i not in order and headers[i] not in keep]

    def needed(columns: list[int]) -> int:
        total = 1 + _BORDER_PER_COLUMN * len(columns)
        for i in columns:
            longest = _longest(headers[i], cells, i)
            total += longest if headers[i] in keep else _narrowest(headers[i], cells, i)
        return total

    while needed(shown) > width and order:
        shown.remove(order.pop(0))
    return shown


def _longest(header: str, cells: Sequence[Sequence[str]], i: int) -> int:
    return max([len(header)] + [len(row[i]) for row in cells])


def _narrowest(header: str, cells: Sequence[Sequence[str]], i: int) -> int:
    """A wrapped column's least width: its longest word (a header may break at ``/``),
    so no word is broken."""
    words = [len(w) for row in cells for w in row[i].split()]
    words += [len(w) for w in header.replace("/", "/ ").split()]
    return max(words, default=1)


def _plain(title: str, headers: Sequence[str], cells: Sequence[Sequence[str]]) -> None:
    if title:
        click.echo(title)
    widths = [_longest(h, cells, i) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
