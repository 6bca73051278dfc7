"""Running a plan or resuming a run from the command line: backend, progress, exit code.

Shared by ``run``, ``resume`` and ``demo`` (``drive`` carries a run out through the
engine's public surface). The backend is chosen here: ``--emulator`` starts the embedded emulator in-process on a free loopback port, with
its state in ``<root>/.chargen/emulator`` so a killed run resumes against the same jobs;
``--base-url`` (or ``GOOGLE_GEMINI_BASE_URL``) points the SDK elsewhere; otherwise Google.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import click

from chargen_es import events as ev
from chargen_es import run_folders
from chargen_es.credentials import credentials_path
from chargen_es.errors import ChargenError, ConfigError, KeysHeld, LocalIOError, UsageError, local_io_error
from chargen_es.planner.durations import parse_duration
from chargen_es.statedir import state_dir

if TYPE_CHECKING:
    from chargen_es.engine import EngineOptions, FallbackOptions, PlanRecord, Recorder
    from chargen_es.gateway import Gateway

# The engine, the gateway (google-genai) and trio are imported inside the functions that
# drive a run (the engine's public surface, chargen_es.engine, included): `--help`, `inspect`, `replay` and `run --dry-run` load this module for its
# options and must start without them (tests/core/test_startup.py).

F = TypeVar("F", bound=Callable[..., Any])
EMULATOR_KEY = "emulator-key"


def backend_options(f: F) -> F:
    """Options of every command that talks to Gemini."""
    options = [
        click.option("--emulator", "use_emulator", is_flag=True,
                     help="Start the embedded Gemini emulator in-process and use it."),
        click.option("--base-url", envvar="GOOGLE_GEMINI_BASE_URL", default=None,
                     help="Point the SDK at this base URL (an emulator, a proxy)."),
        click.option("--api-version", default="v1beta", show_default=True, hidden=True),
        click.option("--emulator-job-seconds", type=float, default=2.0, hidden=True,
                     help="Embedded emulator: how long a batch job takes."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def duration_option(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A click callback: ``30s``, ``2h``, ``30d`` as seconds (planner.durations)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def execution_options(f: F) -> F:
    """Options that shape how a run is carried out (run, resume, demo)."""
    options = [
        click.option("--workers", type=click.IntRange(1, 64), default=5, show_default=True,
                     help="Live runner: concurrent calls at most."),
        click.option("--poll-interval", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
                     help=f"Seconds between job state checks [default: follows the backend: {GOOGLE_POLL_S:g} "
                          "for Google or --base-url, a quarter of the job time for --emulator]."),
        click.option("--upload-concurrency", type=click.IntRange(1, 64), default=5, show_default=True,
                     help="Uploads (references, request files) in flight at once."),
        click.option("--no-cleanup", is_flag=True, help="Keep remote request and result files."),
        click.option("--detach", is_flag=True, help="Return once jobs are submitted; `resume` collects."),
        click.option("--keep-results", is_flag=True,
                     help="Keep each downloaded results file (raw answers, base64 images) in the run folder "
                          "after it is applied, for audit; by default it is deleted once applied."),
        click.option("--reuse-margin-hours", type=click.FloatRange(min=0), default=47.0, show_default=True,
                     help="Reuse an uploaded reference while it has more of its 48 h left than this; lower "
                          "it only when every job of the run finishes sooner (a job may take 48 h)."),
        click.option("--emulator-faults", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     default=None, hidden=True, help="Embedded emulator: a fault rules JSON file."),
        click.option("--deadline", "deadline_s", default=None, metavar="DURATION", callback=duration_option,
                     help="After this (30s, 2h; from now), batch work not done finishes live."),
        click.option("--fallback", type=click.Choice(get_args(ev.FallbackMode)), default=None,
                     help="Where a missed deadline or an EXPIRED/FAILED job goes [default: live with a deadline]."),
        click.option("--keep-batch/--cancel-batch", "keep_batch", default=None,
                     help="On fallback let the batch job run on (first delivery wins, duplicates are paid) "
                          "instead of cancelling it first."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass(frozen=True)
class ExecSettings:
    use_emulator: bool
    base_url: str | None
    api_version: str
    emulator_job_seconds: float
    workers: int
    poll_interval: float | None  # None: follows the backend (poll_interval_for)
    upload_concurrency: int
    no_cleanup: bool
    detach: bool
    reuse_margin_hours: float
    deadline_s: float | None = None
    fallback: ev.FallbackMode | None = None
    keep_batch: bool | None = None
    max_cost: float | None = None  # resume: a new limit for the fallback's cost check
    emulator_faults: Path | None = None
    keep_results: bool = False

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> ExecSettings:
        fields = cls.__dataclass_fields__
        return cls(**{name: kwargs.pop(name) for name in fields if name in kwargs or fields[name].default is MISSING})


@contextlib.contextmanager
def open_gateway(settings: ExecSettings, root: Path | None) -> Iterator[Gateway]:
    """The gateway for this invocation, with the embedded emulator running if asked (its
    state in the tree; with no ``root``, in memory: the menu's look at the model list)."""
    from chargen_es.credentials import find_api_key
    from chargen_es.gateway import Backend, Gateway

    if settings.use_emulator:
        from chargen_es.emulator import Emulator, EmulatorConfig

        data = state_dir(root) / "emulator" if root is not None else None
        faults = _fault_rules(settings.emulator_faults) if settings.emulator_faults else None
        config = EmulatorConfig(job_seconds=settings.emulator_job_seconds, data_dir=data, faults=faults)
        emu = Emulator(config).start()
        try:
            gateway = Gateway(Backend(api_key=EMULATOR_KEY, base_url=emu.base_url, api_version=settings.api_version,
                                      home=f"emulator:{data.resolve() if data is not None else 'memory'}"))
            try:
                yield gateway
            finally:
                gateway.close()
        except BaseException:
            # the run's own error is the one to show: the emulator saving its counters on
            # the same full disk must not replace it
            with contextlib.suppress(OSError):
                emu.stop()
            raise
        emu.stop()
        return
    key = find_api_key(root)
    if key is None:
        raise ConfigError("no API key: set GEMINI_API_KEY or GOOGLE_API_KEY, or put `api_key: <key>` in "
                          f"{credentials_path()} (chmod 600), or pass --emulator to use the embedded emulator")
    gateway = Gateway(Backend(api_key=key.value, base_url=settings.base_url, api_version=settings.api_version))
    try:
        yield gateway
    finally:
        gateway.close()


def _fault_rules(path: Path) -> list[dict[str, Any]]:
    """The embedded emulator's faults (tests and demos: a job held PENDING, say)."""
    import json

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a fault rules JSON file ({exc})") from None
    rules = raw.get("faults") if isinstance(raw, dict) else raw
    if not isinstance(rules, list):
        raise ConfigError(f"{path}: expected a JSON list of fault rules or {{\"faults\": [...]}}")
    return rules


GOOGLE_POLL_S = 30.0  # a Google batch job takes minutes to hours; checking more often buys nothing
EMULATOR_POLL_SHARE = 0.25  # the embedded emulator: four checks per job time, so a 2 s job is seen in 2.5 s
EMULATOR_POLL_MIN_S = 0.05


def poll_interval_for(settings: ExecSettings) -> float:
    """Seconds between job state checks: ``--poll-interval`` when given, else the backend's.

    The embedded emulator's jobs take ``--emulator-job-seconds``, so it is checked a few
    times per job; Google (or whatever ``--base-url`` names: nothing says its jobs are
    quick) every 30 s.
    """
    if settings.poll_interval is not None:
        return settings.poll_interval
    if settings.use_emulator:
        return max(EMULATOR_POLL_MIN_S, settings.emulator_job_seconds * EMULATOR_POLL_SHARE)
    return GOOGLE_POLL_S


def fallback_options(settings: ExecSettings) -> FallbackOptions:
    from chargen_es.engine import FallbackOptions

    return FallbackOptions(deadline_s=settings.deadline_s, fallback=settings.fallback,
                           keep_batch=settings.keep_batch, max_cost=settings.max_cost)


def resume_command(run_id: str, root: Path, settings: ExecSettings) -> str:
    """The exact command that continues ``run_id`` with this invocation's backend."""
    words = ["chargen-es", "resume", run_id, "--root", str(root)]
    if settings.use_emulator:
        words.append("--emulator")
    elif settings.base_url:
        words += ["--base-url", settings.base_url]
    return shlex.join(words)


def engine_options(settings: ExecSettings, root: Path, run_dir: Path) -> EngineOptions:
    from chargen_es.engine import EngineOptions, RetryPolicy

    return EngineOptions(
        resume_command=resume_command(run_dir.name, root, settings),
        root=root,
        run_dir=run_dir,
        poll_interval=poll_interval_for(settings),
        upload_concurrency=settings.upload_concurrency,
        cleanup=not settings.no_cleanup,
        detach=settings.detach,
        reuse_margin_s=settings.reuse_margin_hours * 3600.0,
        retry=RetryPolicy(),
        workers=settings.workers,
        fallback=fallback_options(settings),
        keep_results=settings.keep_results,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


@contextlib.contextmanager
def named_disk_errors(root: Path, resume: str | None) -> Iterator[None]:
    """A local I/O error raised while a run is opened, named (``errors.local_io_error``);
    ``resume``: the command that continues the run, when its journal allows one."""
    try:
        yield
    except (OSError, LocalIOError) as exc:
        if (named := local_io_error(exc, root=root, resume=resume)) is None:
            raise
        raise named from exc


def drive(open_recorder: Callable[[], Recorder], settings: ExecSettings, root: Path,
          run_id: str | None = None, gateway: Gateway | None = None) -> int:
    """Open the run (journal and its fold), carry it out, print the outcome; the exit code.

    ``run_id``: the run ``open_recorder`` resumes, whose journal allows a ``resume`` even
    when opening it fails on the disk (a new run whose plan did not become durable is
    started again instead). ``gateway``: one the caller opened already (``start_and_drive``
    opens it before it claims keys, so a run that cannot reach its backend never holds any).
    """
    from chargen_es import engine
    from chargen_es.cli.progress_view import make_progress

    with named_disk_errors(root, resume_command(run_id, root, settings) if run_id else None):
        recorder = open_recorder()
    run_dir = recorder.journal.run_dir
    try:
        with contextlib.nullcontext(gateway) if gateway is not None else open_gateway(settings, root) as opened:
            progress = make_progress(sys.stderr.isatty())
            outcome = engine.carry_out(recorder, opened, engine_options(settings, root, run_dir), progress)
    finally:
        recorder.journal.close()
    return report_outcome(outcome, recorder, root, run_dir, settings)


def report_outcome(outcome: str, recorder: Recorder, root: Path, run_dir: Path, settings: ExecSettings) -> int:
    from chargen_es.cli.progress_view import final_lines
    from projections import recommendations
    from projections.report import answered_by

    model = recorder.model
    ok, failed = model.outcome_counts()
    skipped = len(model.skipped)
    resume = resume_command(model.run_id, root, settings)  # with this invocation's backend flags
    click.echo(f"run {model.run_id}: {outcome}; {ok} ok, {failed} failed, {skipped} skipped of "
               f"{len(model.tasks) + skipped}")
    for text in final_lines(model, root, outcome):
        click.echo(text)
    for pair in answered_by(model):  # said once per run: a retired model Google answered with another
        priced = ("priced at its price" if pair["priced_at"] == pair["answered"]
                  else "priced at the asked model's price: the catalogue has none for it")
        click.echo(f"note: {pair['items']} item(s) asked of {pair['asked']} were answered by {pair['answered']} "
                   f"({priced})")
    advice = recommendations(model)
    if advice:
        click.echo("recommendations:")
        for item in advice:
            click.echo(f"  - {item['message']}")
    click.echo(f"report: {run_dir / 'report.json'}")
    if outcome == "completed":
        _rejected_preview_hint(model, root)
        if failed:
            click.echo(f"failed items are listed in the report and in {run_dir / 'failed'}/")
            return 3
        return 0
    if outcome == "detached":
        click.echo(f"jobs are submitted; collect the results later with `{resume}`")
        return 0
    if outcome == "cancelled":
        return 1
    ended = model.ended
    if isinstance(ended, ev.RunPaused) and ended.reason == "preview":
        chosen = model.run.config.get("preview", []) if model.run is not None else []
        made = [o.path for k in chosen if isinstance(done := model.outcomes.get(k), ev.LineApplied)
                for o in done.outputs]
        click.echo(f"preview: {len(made)} image(s) to look at first:")
        for path in made:
            click.echo(f"  {root / path}")
        click.echo(f"judge them with `chargen-es review --root {root}` (or the dashboard's gallery), then "
                   f"`{resume}` sends the rest as batch")
        return 0
    reason = model.message or "see the report"
    code = model.ended.code if isinstance(model.ended, ev.RunFailed) else ""
    if code == ev.MODEL_UNAVAILABLE:
        # nothing was sent and a resume would ask the same server the same question: the
        # fix is another model (the message names the catalogue's replacement if any)
        raise ChargenError(f"run {model.run_id} {outcome} before sending anything: {reason}; choose another model "
                           "(--model, or models: in chargen.yaml) and run again; this run is not offered for resume")
    raise ChargenError(f"run {model.run_id} {outcome}: {reason}; continue it with `{resume}`")


def _rejected_preview_hint(model: Any, root: Path) -> None:
    """After a previewed run: the scenes whose preview takes were rejected meanwhile, and
    the command that plans their next round (the run itself kept its sealed plan)."""
    chosen = model.run.config.get("preview") if model.run is not None else None
    if not chosen:
        return
    from chargen_es.engine import review

    verdicts = review.load(root)
    scenes = sorted({k.partition("@")[0] for k in chosen
                     if isinstance(done := model.outcomes.get(k), ev.LineApplied)
                     and any((v := verdicts.of(k, o.sha256)) is not None and v.state == "rejected"
                             for o in done.outputs)})
    if scenes:
        click.echo(f"rejected in the preview: {', '.join(scenes)}; `chargen-es run --root {root}` plans the next "
                   "round of a scene with the notes once every take of it is rejected")


def plan_record(plan: Any) -> PlanRecord:
    """The planner's Plan, narrowed to what the engine journals."""
    from chargen_es import engine

    skipped = [ev.TaskSkipped(key=s.key, reason=s.reason, entity_type=s.entity_type, slug=s.slug, scene=s.scene,
                              detail=s.detail) for s in plan.skipped]
    config = dict(plan.config)
    return engine.PlanRecord(tasks=list(plan.tasks), skipped=skipped, chunks=plan.chunks, config=config,
                           estimated_cost_usd=plan.estimate.batch_usd, live_cost_usd=plan.estimate.live_usd)


def confirm_or_refuse(yes: bool, question: str) -> None:
    """Ask on a TTY; without one, ``--yes`` is required (a usage error, exit 2: the
    command line lacks a flag its situation needs)."""
    if yes:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("no terminal to confirm on: pass --yes to run without asking")
    if not click.confirm(question, default=True):
        raise click.exceptions.Abort()


EXEC_DEFAULTS: dict[str, Any] = {
    "workers": 5, "poll_interval": None, "upload_concurrency": 5, "no_cleanup": False, "detach": False,
    "reuse_margin_hours": 47.0,
}


Replan = Callable[[Mapping[str, str], str], Any]  # (held keys, run id) -> the plan made again


def start_and_drive(root: Path, plan: Any, *, mode: ev.Mode, runner: ev.Runner, run_id: str | None,
                    settings: ExecSettings, replan: Replan | None = None, id_given: bool = True,
                    seen: Mapping[str, int] | None = None) -> int:
    """Claim the plan's keys, journal it as a new run and carry it out (the tail of ``run``,
    ``demo`` and ``--analyze-first``).

    Claiming is exactly once across the workspace (``engine.keyclaims``). The gateway is
    opened first: a run that cannot reach its backend (no key) never holds keys. Then,
    under the claims lock, the index is read afresh: a plan that meets a key another run
    holds, or that was planned before another run moved on (``seen``: each run's last seq
    at planning; a run that applied one of our keys meanwhile has made it done in
    imagery.yaml), is planned again (``replan``, with a note naming what changed) or, with
    no ``replan``, refused when a key is held. An id drawn automatically (``id_given``
    False) that another run took in the same second is drawn again. The plan is sealed
    before the lock is let go, so the next run sees this one's keys.
    """
    from chargen_es import engine
    from chargen_es.run_folders import check_run_id

    state_dir(root)  # .chargen/ with its .gitignore, before anything lands in it
    runs_dir = engine.runs_root(root)
    runs_dir.mkdir(parents=True, exist_ok=True)
    rid = check_run_id(run_id) if run_id else engine.new_run_id(runs_dir)
    wanted = fallback_options(settings)
    with open_gateway(settings, root) as gateway:
        with engine.claiming(root) as claims:
            held = claims.held()
            taken = sorted({held[t.key] for t in plan.tasks if t.key in held})
            moved = seen is not None and claims.marks() != dict(seen)
            if not id_given and taken_id(runs_dir / rid):
                rid, moved = engine.new_run_id(runs_dir), True  # output names carry the id's stamp
            if taken and replan is None:
                raise KeysHeld(f"run {taken[0]} holds tasks of this plan and will deliver them; "
                               f"`chargen-es resume {taken[0]} --root {root}` continues it")
            if (taken or moved) and replan is not None:
                before = {t.key for t in plan.tasks}
                plan = replan(held, rid)
                if taken:
                    click.echo(f"note: run {', '.join(taken)} started meanwhile and holds some of these tasks; "
                               f"planned without them ({len(plan.tasks)} left)", err=True)
                elif {t.key for t in plan.tasks} != before:
                    click.echo(f"note: another run delivered some of these tasks while this one was planned; "
                               f"planned again ({len(plan.tasks)} left)", err=True)
                if not plan.tasks:
                    holder = f"run {taken[0]} will deliver every task; `chargen-es resume {taken[0]} --root {root}` " \
                             "continues it" if taken else "every task is already done"
                    click.echo(f"nothing to do here: {holder}")
                    return 0
            _set_aside_unsealed(runs_dir / rid)
            record = plan_record(plan)
            with named_disk_errors(root, None):  # the plan is not durable: the same command starts it again
                recorder = engine.start(runs_dir / rid, rid, root, mode, runner, record,
                                        wanted if wanted.given else None)
        return drive(lambda: recorder, settings, root, gateway=gateway)


def taken_id(run_dir: Path) -> str:
    """Why a run id cannot name a new run ("" when it can): a run with a sealed plan has it,
    or a deleted run had it (its totals stay under that id)."""
    from chargen_es.journal import read_events

    if run_folders.deleted_id(run_dir.parent, run_dir.name):
        return f"run id {run_dir.name!r} belonged to a run that was deleted (its totals are kept under that id)"
    journal = run_dir / "journal.jsonl"
    if journal.exists() and any(ev.type_name(e) == "plan.sealed" for e in read_events(journal)):
        return f"run id {run_dir.name!r} is taken under {run_dir.parent}"
    return ""


def _set_aside_unsealed(run_dir: Path) -> None:
    """A run id is free, or holds a run that died before its plan was durable.

    Such a folder (no ``plan.sealed``: a crash inside the plan's group commit) is renamed
    aside, not reused in place, so the new journal starts at seq 1 and nothing is lost.
    """
    from chargen_es.journal import Journal, read_events

    taken = taken_id(run_dir)
    if taken:
        raise ChargenError(f"{taken}; pick another --run-id")
    journal = run_dir / "journal.jsonl"
    if not journal.exists():
        return
    events = read_events(journal)
    if events:
        Journal.open(run_dir).close()  # refuses if a process still works on it
        n = 1
        while (aside := run_dir.with_name(f"{run_dir.name}.unsealed-{n}")).exists():
            n += 1
        run_dir.rename(aside)
