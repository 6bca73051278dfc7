"""``chargen-es menu`` (and ``chargen-es`` alone on a terminal): the interactive way in.

The menu of the original chargen (Batch Generate, Batch Analyze, Resume, Inspect) over
the same commands: every answer becomes a flag of ``run`` (or ``resume``, ``inspect``),
the equivalent command line is printed before it starts, so users learn the CLI, and the
line is then parsed and run by that very click command, never a copy of it. ``run``
shows its plan summary and asks to confirm, exactly as when typed.

One rule for what comes after an action: a step of the session (Inspect runs, Status,
Review, a list left with "back") returns to the menu; what runs on (a run, a resume,
the dashboard) ends the menu with that command's exit code, so a script around
``chargen-es menu`` sees it.

Prompts are questionary's (prompt_toolkit underneath; see ARCHITECTURE.md). Ctrl-C at
any prompt raises KeyboardInterrupt, which the cli's boundary turns into exit 130; the
menu writes nothing before the command it starts. Without a terminal the menu refuses
(exit 2) and names the commands instead.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import click

from chargen_es import catalogue
from chargen_es.cli.common import root_option
from chargen_es.errors import ChargenError, JournalError, UsageError
from chargen_es.journal import read_events

NO_TTY = ("the menu needs a terminal; use the commands instead: `chargen-es run --help`, "
          "`chargen-es resume`, `chargen-es inspect` (or `chargen-es --help`)")


@dataclass
class Choices:
    """What the user picked, as ``run`` arguments."""

    root: Path
    mode: str
    args: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        return ["run", "--root", str(self.root), *(["--mode", "analyze"] if self.mode == "analyze" else []),
                *self.args]


def _q() -> Any:
    import questionary  # imported late: only the menu pays its start-up time

    return questionary


def ask(question: Any) -> Any:
    """One prompt; Ctrl-C propagates as KeyboardInterrupt (questionary's ``ask`` would swallow it)."""
    answer = question.unsafe_ask()
    if answer is None:  # an aborted prompt (Ctrl-D, Escape): leave like Ctrl-C
        raise KeyboardInterrupt
    return answer


def is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


# ---------------------------------------------------------------------------- the menu


@click.command("menu")
@root_option(tree="exists")
@click.pass_context
def menu(ctx: click.Context, root: Path) -> int:
    """Choose what to do from a menu (Batch Generate, Batch Analyze, Resume, Inspect)."""
    if not is_terminal():
        raise UsageError(NO_TTY)
    group = ctx.find_root().command
    # through get_command: the group loads command modules lazily (chargen_es.cli.LazyGroup)
    commands: dict[str, click.Command] = {}
    if isinstance(group, click.Group):
        for name in group.list_commands(ctx):
            if (command := group.get_command(ctx, name)) is not None:
                commands[name] = command
    while True:
        entries = ["Batch Generate", "Batch Analyze", "Resume a run", "Inspect runs"]
        entries += [label for name, label in (("status", "Status"), ("review", "Review"), ("dashboard", "Dashboard"))
                    if name in commands]
        entries.append("Quit")
        picked = ask(_q().select("What do you want to do?", choices=entries))
        if picked == "Quit":
            return 0
        if picked in ("Batch Generate", "Batch Analyze"):
            choices = Choices(root=root, mode="generate" if picked == "Batch Generate" else "analyze")
            ask_run(choices)
            return start(ctx, commands["run"], choices.command())
        if picked == "Resume a run":
            argv = ask_resume(root)
            if argv:
                return start(ctx, commands["resume"], argv)
            continue
        if picked == "Inspect runs":
            ask_inspect(ctx, commands["inspect"], root)
            continue
        name = picked.lower()
        code = start(ctx, commands[name], [name, "--root", str(root)])
        if name in ("status", "review"):
            continue
        return code


def start(ctx: click.Context, command: click.Command, argv: list[str]) -> int:
    """Print the equivalent command line, then run it through the command's own parser."""
    click.echo(f"\n$ chargen-es {shlex.join(argv)}\n")
    rv = command.main(args=argv[1:], prog_name=f"chargen-es {argv[0]}", standalone_mode=False, obj=ctx.obj)
    return rv if isinstance(rv, int) else 0


# ---------------------------------------------------------------------------- run


def ask_run(choices: Choices) -> None:
    """Scope, backend, model (of those the backend lists) and runner, each turned into
    ``run`` flags."""
    ask_scope(choices)
    ask_backend(choices.args)
    ask_model(choices, visible_models("--emulator" in choices.args))
    ask_runner(choices)


def entities(root: Path) -> list[str]:
    from chargen_es.planner.tree import ENTITY_FILES, list_slugs  # lazily: `--help` loads this module

    return [f"{t}/{s}" for t in ENTITY_FILES for s in list_slugs(root, t)]


def ask_scope(choices: Choices) -> None:
    from chargen_es.planner.tree import ENTITY_FILES, select  # lazily: `--help` loads this module

    q = _q()
    found = entities(choices.root)
    if not found:
        raise ChargenError(f"{choices.root}: no characters/, locations/ or chapters/ here; start the menu in "
                           "a content tree (or pass --root), or run a batch file with `chargen-es run "
                           "--batch-file FILE`")
    counts = {t: sum(1 for e in found if e.startswith(t + "/")) for t in ENTITY_FILES}
    scopes = [q.Choice(f"everything ({len(found)} entities)", "all")]
    scopes += [q.Choice(f"all {t} ({counts[t]})", t) for t in ENTITY_FILES if counts[t]]
    scopes += [q.Choice("one entity (search by name)", "one"), q.Choice("a filtered set (glob on slugs)", "glob")]
    scope = ask(q.select("Which part of the tree?", choices=scopes))
    if scope == "one":
        entity = ask(q.autocomplete("Entity (type to search, Tab to complete):", choices=found,
                                    match_middle=True, validate=lambda text: text in found or "pick one from the list"))
        kind, slug = entity.split("/", 1)
        choices.args += ["--scope", kind, "--only", slug]
    elif scope == "glob":
        def valid(text: str) -> bool | str:
            if not text.strip():
                return "a glob such as a* or characters/b*"
            try:
                return bool(select(choices.root, list(ENTITY_FILES), (text.strip(),)))
            except ChargenError as exc:
                return str(exc).split(" (globs", 1)[0]

        pattern = ask(q.text("Glob on slugs (a*, *-town, characters/b*):", validate=valid)).strip()
        choices.args += ["--only", pattern]
    elif scope != "all":
        choices.args += ["--scope", scope]


def visible_models(use_emulator: bool) -> set[str] | None:
    """The ids ``models.list`` gives on the chosen backend (the key's models on Google),
    or None when it cannot be asked (the catalogue's list is offered then, with a note)."""
    from chargen_es.cli.execute import EXEC_DEFAULTS, ExecSettings, open_gateway  # lazily: `--help`

    settings = ExecSettings(use_emulator=use_emulator, base_url=None, api_version="v1beta",
                            emulator_job_seconds=0.0, **EXEC_DEFAULTS)
    try:
        with open_gateway(settings, None) as gateway:  # an emulator in memory: nothing written
            return {m.model_id for m in gateway.list_models()}
    except ChargenError as exc:
        click.echo(f"note: could not list the models of this backend ({exc}); showing the catalogue's", err=True)
        return None


def model_choices(mode: str, current: str, today: date | None = None,
                  visible: set[str] | None = None) -> list[tuple[str, str]]:
    """``(label, id)`` of the models for ``mode``: the current default first, then the
    catalogue's usable models for that purpose (image for generate, text for analyze)
    that the backend lists (``visible``; None: not known)."""
    purpose = "image" if mode == "generate" else "text"
    hidden = visible is not None and current not in visible
    out = [(f"{current}  (current default{'; not listed for this key' if hidden else ''})", current)]
    day = today or date.today()
    for info in catalogue.MODELS.values():
        if info.id == current or info.purpose != purpose or not info.usable_on(day) or not info.batch:
            continue
        if visible is not None and info.id not in visible:
            continue
        note = {"preview": "  (preview)", "deprecated": f"  (deprecated; use {info.replacement})"}.get(info.status, "")
        out.append((f"{info.id}{note}", info.id))
    return out


def ask_model(choices: Choices, visible: set[str] | None = None) -> None:
    from chargen_es.planner.tree import load_workspace  # lazily: `--help` loads this module

    q = _q()
    ws, _ = load_workspace(choices.root)
    current = ws.generate_model if choices.mode == "generate" else ws.analyze_model
    options = model_choices(choices.mode, current, visible=visible)
    if len(options) == 1:
        click.echo(f"model: {current} (the catalogue lists no other {choices.mode} model)")
        return
    model = ask(q.select("Model:", choices=[q.Choice(label, value) for label, value in options]))
    if model != current:
        choices.args += ["--model", model]


def ask_runner(choices: Choices) -> None:
    q = _q()
    # Batch: 50 % of the standard price, latency "up to 24 hours" (ai.google.dev/gemini-api/
    # docs/optimization, and developers.googleblog.com/scale-your-ai-workloads-batch-mode-gemini-api:
    # "retrieve your results within 24 hours"; both read 2026-12-02).
    runner = ask(q.select("Runner:", choices=[
        q.Choice("batch: Batch API, half the price, results within 24 hours", "batch"),
        q.Choice("live: one call per item now, full price, N at once", "live"),
    ]))
    if runner == "live":
        workers = ask(q.text("Workers (calls at once, 1-64):", default="5",
                             validate=lambda t: (t.isdigit() and 1 <= int(t) <= 64) or "a number from 1 to 64"))
        choices.args += ["--runner", "live", "--workers", workers]


def ask_backend(args: list[str]) -> None:
    from chargen_es.credentials import find_api_key
    from chargen_es.errors import ConfigError

    q = _q()
    emulator = q.Choice("the embedded emulator (no key, no cost, placeholder images)", "emulator")
    try:
        has_key = find_api_key() is not None
    except ConfigError:  # a key file that must not be used: `run` names the fix
        has_key = True
    if has_key:
        backend = ask(q.select("Backend:", choices=[q.Choice("Google Gemini API (your key)", "google"), emulator]))
    else:
        backend = ask(q.select("Backend (no GEMINI_API_KEY, GOOGLE_API_KEY or key file):", choices=[
            emulator, q.Choice("Google Gemini API: quit, set a key, start again", "quit")]))
        if backend == "quit":
            raise click.exceptions.Exit(0)
    if backend == "emulator":
        args += ["--emulator"]  # its polls follow its own job time (execute.poll_interval_for)


# ---------------------------------------------------------------------------- resume, inspect


def run_progress(root: Path, run_id: str) -> str:
    """One line about an unfinished run: mode, runner, items settled, why it stopped."""
    from chargen_es.run_folders import runs_root  # lazily: `--help` loads this module
    from projections import project

    try:
        model = project(read_events(runs_root(root) / run_id / "journal.jsonl"))
    except JournalError as exc:
        return f"{run_id}  unreadable journal ({exc})"
    why = model.message or "interrupted"
    ok, failed = model.outcome_counts()
    line = f"{run_id}  {model.mode}, {model.runner}: {ok} ok, {failed} failed of {len(model.tasks)}; {why}"
    return fitted(line, keep=len(run_id))


def fitted(line: str, keep: int) -> str:
    """``line`` cut to the terminal (less the list's pointer) with an ellipsis, never into its
    first ``keep`` characters: the run id, which the other commands need whole."""
    import shutil

    room = max(shutil.get_terminal_size().columns - 4, keep + 2)
    return line if len(line) <= room else line[:room - 1].rstrip() + "…"


def ask_resume(root: Path) -> list[str] | None:
    from chargen_es import engine  # lazily: `--help` loads this module

    q = _q()
    unfinished = engine.unfinished_runs(root)
    if not unfinished:
        click.echo(f"no unfinished runs under {engine.runs_root(root)}")
        return None
    options = [q.Choice(run_progress(root, rid), rid) for rid in unfinished] + [q.Choice("back", "")]
    run_id = ask(q.select("Resume which run? (newest first)", choices=options))
    if not run_id:
        return None
    argv = ["resume", run_id, "--root", str(root)]
    ask_backend(argv)
    return argv


def ask_inspect(ctx: click.Context, command: click.Command, root: Path) -> None:
    from chargen_es.run_folders import list_runs, runs_root  # lazily: `--help` loads this module

    q = _q()
    ids = list_runs(root)
    if not ids:
        click.echo(f"no runs under {runs_root(root)} yet")
        return
    start(ctx, command, ["inspect", "--root", str(root)])
    run_id = ask(q.select("Show one run?", choices=[*reversed(ids), q.Choice("back", "")]))
    if run_id:
        start(ctx, command, ["inspect", run_id, "--root", str(root)])


def no_command(ctx: click.Context) -> None:
    """``chargen-es`` with no command: the menu on a terminal, else how to use the commands."""
    if not is_terminal():
        raise UsageError(NO_TTY)
    ctx.exit(ctx.invoke(menu, root=Path(os.curdir)))


COMMANDS: list[click.Command] = [menu]
