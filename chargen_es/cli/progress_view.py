"""What a person sees while a run works: one line per phase, bars only for work that moves.

The engine reports through :class:`~chargen_es.engine.progress.Progress` calls that follow
its code, not a reader: ``submitted`` comes before the first chunk is submitted (it marks
the end of staging), reused uploads advance a file count but no bytes, a download's size
is unknown until it ends. :class:`Narrator` turns those calls into what happened, one line
each, once the phase is over::

    ✓ inputs      3 files: 1 uploaded (6.4 kB), 2 reused
    ✓ submitted   chunk 0 as batches/abc123
    ✓ job done    chunk 0 after 4s
    ✓ downloaded  chunk 0 (12.3 kB)
    ✓ applied     chunk 0: 17 ok, 0 failed
    ✓ completed   17 ok, 0 failed, 0 skipped

On a terminal (:class:`RichView`) a bar or a status row shows only while its work moves
(uploads with bytes, a job's state, a download's bytes, items being applied, live calls)
and is removed when its line is printed. Lines go through ``console.print`` (never
``console.log``, which stamps its source location at the right margin). Without a
terminal (:class:`PlainView`) the same lines are printed, plus a job's state changes.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from chargen_es import events as ev
from chargen_es.cli.common import human_bytes
from chargen_es.engine import Progress

_CHUNK = re.compile(r"chunk (\d+)")
_PLURAL_ONE = re.compile(r"\b1 (task|chunk|item|file)s\b")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _seconds(s: float) -> str:
    return f"{s:.0f}s" if s < 90 else f"{s / 60:.0f}m{s % 60:02.0f}s"


class Narrator(Progress):
    """The engine's progress calls in, one finished line per phase out (through ``say``).

    Subclasses draw the moving parts: ``_bar(name, label, total)`` when work that moves
    begins, ``_move(name, amount)``, ``_note(name, text)``, and ``_drop(name)`` when the
    phase's line replaces it. The base draws nothing, which is what a pipe wants.
    """

    def __init__(self, say: Callable[[str, str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say  # (label, text)
        self.clock = clock  # injectable: tests narrate an hour of live calls in no time
        self.staging = False
        self.inputs_total = 0
        self.upload_bytes = 0
        self.uploaded = 0
        self.submitting: set[str] = set()
        self.running: dict[str, float] = {}
        self.downloading: dict[str, int] = {}
        self.applying: dict[str, int] = {}
        self.items_total: int | None = None
        self.calling: float | None = None
        self.called = 0
        self.items_before = 0  # settled by earlier invocations (a resumed run)
        self._first_items = False
        self.live_status = ""  # the throttle's last word: concurrency, calls, 429s

    # -- drawing hooks (no-ops here) ------------------------------------------------------

    def _bar(self, name: str, label: str, total: int | None) -> None: ...

    def _move(self, name: str, amount: int) -> None: ...

    def _note(self, name: str, text: str) -> None: ...

    def _drop(self, name: str) -> None: ...

    def _live(self, text: str) -> None:
        """Live calls moved: ``text`` is ``[n/N] elapsed, left; throttle``. Shown on the bar."""
        self._note("items", text)

    def live_line(self) -> str:
        """``[n/N] 40s elapsed, about 1m20s left`` (the guide's progress format), then the
        throttle's concurrency, calls and 429s. The time left is this invocation's pace
        applied to what remains (items settled before a resume took no time here)."""
        done = self.items_before + self.called
        total = self.items_total or done
        elapsed = self.clock() - (self.calling if self.calling is not None else self.clock())
        text = f"[{done}/{total}] {_seconds(elapsed)} elapsed"
        if self.called and done < total:
            text += f", about {_seconds(elapsed / self.called * (total - done))} left"
        return text + (f"; {self.live_status}" if self.live_status else "")

    # -- the Progress interface ---------------------------------------------------------

    def phase(self, name: str, detail: str = "") -> None:
        chunk = _chunk(detail)
        if name == "staging":
            self.staging = True
            return
        if self.staging:  # whatever comes next ends staging: "submitted", "applying" or "calling"
            self._inputs_line()
        if name == "submitted":
            return
        if name == "submitting":
            self.submitting.add(chunk)
        elif name == "running":
            job = detail.partition(": ")[2]
            if chunk in self.submitting:
                self.submitting.discard(chunk)
                self.say("submitted", f"chunk {chunk} as {job}")
            else:
                self.say("waiting", f"on chunk {chunk} ({job}), submitted earlier")
            self.running[chunk] = self.clock()
            self._bar(f"job {chunk}", f"chunk {chunk}", None)
            self._note(f"job {chunk}", "waiting for Gemini")
        elif name == "downloading":
            self._end_job(chunk)
            self.downloading[chunk] = 0
        elif name == "applying":
            self._end_job(chunk)
            self._end_download(chunk)
            self.applying[chunk] = 0
            self._bar("items", "applying", self.items_total)
        elif name == "applied":  # the engine's count of the chunk's outcomes, ok and failed apart
            self.applying.pop(chunk, None)
            if not self.applying:
                self._drop("items")
            self.say("applied", detail)
        elif name == "calling":
            self.calling = self.clock()
            self.say("calling", _PLURAL_ONE.sub(r"1 \1", detail) or "live")
            self._bar("items", "calls", self.items_total)
        elif name == "completed":
            self._finish_applied()
            if self.calling is not None:
                took = _seconds(self.clock() - self.calling)
                self._drop("items")
                self._drop("live")
                self.say("called", f"{plural(self.called, 'item')} in {took}")
            self.say("completed", _PLURAL_ONE.sub(r"1 \1", detail))
        else:
            self.say(name, _PLURAL_ONE.sub(r"1 \1", detail))

    def start(self, bar: str, total: int | None, unit: str = "") -> None:
        if bar == "uploads":
            self.inputs_total = total or 0
        elif bar == "items":
            self.items_total = total
            self._first_items = True  # the engine's next advance counts what was settled before
        elif bar.startswith("download "):
            self._bar(bar, f"chunk {bar.split()[1]}", None)

    def advance(self, bar: str, amount: int = 1) -> None:
        if bar == "upload bytes":
            if not self.uploaded:  # the first byte that moves: now a bar is worth drawing
                self._bar("upload files", "uploading", None)
            self.uploaded += 1
            self.upload_bytes += amount
            self._note("upload files", f"{self.uploaded} sent, {human_bytes(self.upload_bytes)}")
        elif bar == "items" and self._first_items:
            self._first_items = False
            self.items_before = amount
            self._move("items", amount)
        elif bar == "items":
            for chunk in self.applying:
                self.applying[chunk] += amount
                break
            self._move("items", amount)
            if self.calling is not None:
                self.called += amount
                self._live(self.live_line())
        elif bar.startswith("download "):
            chunk = bar.split()[1]
            self.downloading[chunk] = self.downloading.get(chunk, 0) + amount
            self._note(bar, f"{human_bytes(self.downloading[chunk])} received")

    def status(self, bar: str, text: str) -> None:
        if bar == "job":
            chunk = _chunk(text)
            state = text.split(" ", 2)[2] if text.startswith("chunk ") and text.count(" ") >= 2 else text
            word, _, rest = state.partition(":")
            if word.replace("JOB_STATE_", "").isupper():  # "SUCCEEDED: lines 0 ok, 3 failed of 3"
                state = word.replace("JOB_STATE_", "").lower() + (f";{rest}" if rest else "")
            self._note(f"job {chunk}", state)
        elif bar == "live":
            self.live_status = text
            if self.calling is not None:
                self._live(self.live_line())

    def close(self) -> None:
        for chunk in list(self.running):
            self._drop(f"job {chunk}")

    # -- phase lines -----------------------------------------------------------------------

    def _inputs_line(self) -> None:
        self.staging = False
        self._drop("upload files")
        total = self.inputs_total
        if not total:
            self.say("inputs", "none to upload")
            return
        reused = max(0, total - self.uploaded)
        if not self.uploaded:
            self.say("inputs", f"{plural(total, 'file')}, all reused from earlier uploads")
            return
        parts = [f"{self.uploaded} uploaded ({human_bytes(self.upload_bytes)})"]
        if reused:
            parts.append(f"{reused} reused")
        self.say("inputs", f"{plural(total, 'file')}: {', '.join(parts)}")

    def _end_job(self, chunk: str) -> None:
        began = self.running.pop(chunk, None)
        if began is not None:
            self._drop(f"job {chunk}")
            self.say("job done", f"chunk {chunk} after {_seconds(self.clock() - began)}")

    def _end_download(self, chunk: str) -> None:
        got = self.downloading.pop(chunk, None)
        if got is not None:
            self._drop(f"download {chunk}")
            self.say("downloaded", f"chunk {chunk} ({human_bytes(got)})")

    def _finish_applied(self) -> None:
        for chunk, n in self.applying.items():
            self.say("applied", f"chunk {chunk}: {plural(n, 'item')} settled")
        if self.applying:
            self._drop("items")
        self.applying.clear()


def _chunk(detail: str) -> str:
    found = _CHUNK.search(detail)
    return found.group(1) if found else ""


class PlainView(Narrator):
    """No terminal: the phase lines only, plus job state changes, for logs and CI, and
    for live calls a ``progress`` line at most every ``every`` seconds."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 every: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self._states: dict[str, str] = {}
        self.every = every
        self._last_live: float | None = None
        super().__init__(self._print, clock)

    def _live(self, text: str) -> None:
        now = self.clock()
        if self._last_live is None or now - self._last_live >= self.every:
            self._last_live = now
            self._print("progress", text)

    def _print(self, label: str, text: str) -> None:
        print(f"{label:<11} {text}".rstrip(), file=self.stream, flush=True)

    def _note(self, name: str, text: str) -> None:
        # once per state (a job polled every 30 s for hours is not a line per poll); the
        # state's first report carries the lines' counts as the server gave them then
        state = text.split(";")[0]
        if name.startswith("job ") and self._states.get(name) != state:
            self._states[name] = state
            self._print("job", f"chunk {name[4:]}: {text}")


class RichView(Narrator):
    """A terminal: phase lines printed above live bars that exist only while work moves."""

    def __init__(self) -> None:
        # imported here: rich costs start-up time that scripts without a TTY never need
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        class Count(MofNCompleteColumn):  # status rows (job state, bytes) have no count
            def render(self, task: Any) -> Any:
                return super().render(task) if task.total is not None else ""

        class Bar(BarColumn):
            def render(self, task: Any) -> Any:
                return super().render(task) if task.total is not None else ""

        self.console = Console(stderr=True, log_path=False)
        self.bars = RichProgress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            Bar(),
            Count(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=self.console,
            transient=True,
        )
        self.ids: dict[str, Any] = {}
        self.bars.start()
        super().__init__(self._print)

    def _print(self, label: str, text: str) -> None:
        mark = "[red]✗[/]" if label == "failed" else "[green]✓[/]"
        if label in ("calling", "waiting"):
            mark = "[cyan]→[/]"
        self.console.print(f"{mark} [bold]{label:<11}[/] {text}", highlight=False)

    def _bar(self, name: str, label: str, total: int | None) -> None:
        if name not in self.ids:
            done = self.items_before if name == "items" else 0
            self.ids[name] = self.bars.add_task(label, total=total, completed=done, note="")

    def _move(self, name: str, amount: int) -> None:
        if name in self.ids:
            self.bars.advance(self.ids[name], amount)

    def _note(self, name: str, text: str) -> None:
        if name in self.ids:
            self.bars.update(self.ids[name], note=text)

    def _drop(self, name: str) -> None:
        task = self.ids.pop(name, None)
        if task is not None:
            self.bars.remove_task(task)

    def close(self) -> None:
        super().close()
        self.bars.stop()


def make_progress(tty: bool) -> Progress:
    return RichView() if tty else PlainView()


def final_lines(model: Any, root: Any, outcome: str) -> list[str]:
    """Where this run's files are and the command a person wants next.

    ``model`` is the run's fold (``projections.Projections``): the outputs of every
    applied item, grouped by folder (relative to ``root`` as the user wrote it), a few
    names each.
    """
    folders: dict[str, list[str]] = {}
    for applied in model.outcomes.values():
        if applied.__class__ is not ev.LineApplied:
            continue
        for out in applied.outputs:
            folder, _, name = out.path.rpartition("/")
            folders.setdefault(folder, []).append(name)
    lines = []
    for folder in sorted(folders):
        names = sorted(folders[folder])
        shown = ", ".join(names[:3]) + (f", … (+{len(names) - 3})" if len(names) > 3 else "")
        lines.append(f"  {root}/{folder}/  {plural(len(names), 'file')}: {shown}")
    if lines:
        lines.insert(0, "files:")
    rid = model.run_id
    if outcome == "completed":
        lines.append(f"next: chargen-es inspect {rid} --root {root}   (or --failed, --events)")
    return lines
