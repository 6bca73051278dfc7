"""Progress on a terminal (rich bars with ETA), or one line per phase when not a TTY."""

from __future__ import annotations

from typing import Any

from chargen_es.engine import LineProgress, Progress


class RichView(Progress):
    """One bar per countable piece of work, one status line per job or runner."""

    def __init__(self) -> None:
        # imported here: rich costs start-up time that scripts without a TTY never need
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        class Count(MofNCompleteColumn):  # status rows (job state, live rate) have no count
            def render(self, task: Any) -> Any:
                return super().render(task) if task.total is not None else ""

        self.console = Console(stderr=True)
        self.bars = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            Count(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=self.console,
            transient=False,
        )
        self.ids: dict[str, Any] = {}
        self.bars.start()

    def _bar(self, name: str, total: int | None = None) -> Any:
        if name not in self.ids:
            self.ids[name] = self.bars.add_task(name, total=total, note="")
        return self.ids[name]

    def phase(self, name: str, detail: str = "") -> None:
        self.console.log(f"[cyan]{name}[/] {detail}")

    def start(self, bar: str, total: int | None, unit: str = "") -> None:
        self.bars.update(self._bar(bar, total), total=total, completed=0)

    def advance(self, bar: str, amount: int = 1) -> None:
        self.bars.advance(self._bar(bar), amount)

    def status(self, bar: str, text: str) -> None:
        self.bars.update(self._bar(bar), note=text)

    def close(self) -> None:
        self.bars.stop()


def make_progress(tty: bool) -> Progress:
    return RichView() if tty else LineProgress()
