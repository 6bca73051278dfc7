"""Named batches as a service: what the MCP server's tools and the HTTP API both call.

Other programs (an assistant through MCP, a script through HTTP) hand chargen-es a list
of items, ``{name, type: generate | derive | compose, prompt, references?}``, and get a
batch they can follow, pause, resume, cancel, delete and read images from. Nothing here
has a planner or an engine of its own (it plans through the cli's dry run and runs
commands), so there is one planner and one engine:

* a batch is a batch file chargen-es keeps in ``<root>/.chargen/batches/<name>.json``
  (one item per line, so a planner problem's line names its item), whose run root is
  ``<root>`` (:func:`chargen_es.planner.batchfile.batch_root`);
* ``plan`` is ``chargen-es run --batch-file F --dry-run --json`` made in this process by
  the function the cli hands in (``dry_run``: ``cli.run_cmd.batch_file_plan``), so the
  dashboard never imports the planner and a plan costs no fresh interpreter;
* ``create`` checks the plan against ``max_cost`` and starts ``chargen-es run --batch-file
  F --yes --run-id NAME --max-cost M`` as a background process with its own session (as
  the dashboard's Resume does, :mod:`.controls`), and returns once that process has
  journaled the run's plan (its ``run.started`` carries the child's pid), or has ended
  without it, which is then the answer: a tool call never waits for the run itself;
* progress, images, pause, resume and cancel read and act through the dashboard's
  :class:`~chargen_es.dashboard.workspace.Workspace` and :class:`~.controls.Controls`;
  ``delete`` is ``chargen-es delete`` in a child process.

The batch id is the batch's name, which is also its run id (``check_run_id``). Two
processes creating the same batch at once (two MCP servers, or MCP and HTTP) never both
pay: a create holds ``.chargen/locks/batch-<name>.lock`` from the check that the name is
free until the run has journaled its plan, and the run id itself is taken only once.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from chargen_es import events as ev
from chargen_es.dashboard.controls import Controls, Refused
from chargen_es.dashboard.workspace import RunEntry, Workspace
from chargen_es.engine.crashpoints import crash_point
from chargen_es.errors import BatchFileInvalid, ChargenError, UsageError, local_io_error
from chargen_es.fsio import replace_atomic
from chargen_es.journal import JOURNAL_NAME, read_events
from chargen_es.run_folders import check_run_id, deleted_id, runs_root
from chargen_es.statedir import state_dir

ITEM_TYPES = ("generate", "derive", "compose")
ITEM_FIELDS = ("name", "type", "prompt", "references")
KEPT = Path(".chargen") / "batches"  # batchfile.KEPT_FOLDER, spelt as a path
MAX_VARIANTS = 20
DryRun = Callable[[Path], dict[str, Any]]  # a batch file -> the document of `run --dry-run --json`
START_TIMEOUT_S = 120.0  # a run journals its plan within seconds; this only bounds a hung child


class BatchError(Exception):
    """A request the service refuses; the message names the item when there is one."""

    status = 400  # the HTTP status of the refusal


class BatchNotFound(BatchError):
    status = 404


class BatchConflict(BatchError):
    """The batch exists, is being created, or is not in a state the request applies to."""

    status = 409


@dataclass(frozen=True)
class Item:
    name: str
    type: str
    prompt: str
    references: tuple[str, ...] = ()


def parse_items(raw: Any) -> list[Item]:
    """Items from JSON (a list of objects); every shape problem names its item."""
    if not isinstance(raw, list) or not raw:
        raise BatchError("items must be a non-empty list of {name, type, prompt, references?}")
    items: list[Item] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise BatchError(f"item {i + 1}: must be an object {{name, type, prompt, references?}}")
        name = entry.get("name")
        who = f"item {name!r}" if isinstance(name, str) and name else f"item {i + 1}"
        unknown = sorted(set(entry) - set(ITEM_FIELDS))
        if unknown:
            raise BatchError(f"{who}: unknown field {unknown[0]!r}; an item has {', '.join(ITEM_FIELDS)}")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", name):
            raise BatchError(f"{who}: name must be letters, digits, '.', '_' or '-' (it names the item's image)")
        if name in seen:
            raise BatchError(f"{who}: name used twice")
        seen.add(name)
        kind = entry.get("type", "generate")
        if kind not in ITEM_TYPES:
            raise BatchError(f"{who}: unknown type {kind!r}; use {', '.join(ITEM_TYPES)}")
        prompt = entry.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise BatchError(f"{who}: prompt must be non-empty text")
        refs = entry.get("references") or []
        if not isinstance(refs, list) or not all(isinstance(r, str) and r for r in refs):
            raise BatchError(f"{who}: references must be a list of paths under the root")
        items.append(Item(name=name, type=str(kind), prompt=prompt, references=tuple(refs)))
    return items


def check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise BatchError("name must be text")
    try:
        check_run_id(name, "batch name")
    except UsageError as exc:
        raise BatchError(str(exc)) from None
    if len(name) > 100:
        raise BatchError(f"batch name {name!r}: at most 100 characters")
    return name


def expand(items: list[Item], variants: int | None) -> list[Item]:
    """Each item ``variants`` times (``<name>-v<k>``, the prompt told which variation it is),
    so the model is asked for N different images rather than one request N times."""
    n = 1 if variants is None else variants
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_VARIANTS:
        raise BatchError(f"variants must be a whole number from 1 to {MAX_VARIANTS}")
    if n == 1:
        return items
    return [Item(f"{it.name}-v{k}", it.type, f"{it.prompt.rstrip()}\n\nVariation {k} of {n}: make it differ "
                 "from the others.", it.references) for it in items for k in range(1, n + 1)]


def batch_text(name: str, items: list[Item], image_size: str | None = None) -> tuple[str, dict[int, str]]:
    """The batch file (JSON, one item per line) and the item on each item line; an
    ``image_size`` is the file's (the batch-file planner normalises ``2k`` and refuses
    what the model does not take, with the line)."""
    head: dict[str, Any] = {"name": name, "output": f"batches/{name}"}
    if image_size is not None:
        head["image_size"] = image_size
    lines = [json.dumps(head)[:-1] + ', "items": [']
    by_line: dict[int, str] = {}
    for i, it in enumerate(items):
        entry: dict[str, Any] = {"id": it.name, "type": it.type, "prompt": it.prompt}
        if it.references:
            entry["references"] = list(it.references)
        lines.append(json.dumps(entry, ensure_ascii=False) + ("," if i < len(items) - 1 else ""))
        by_line[len(lines)] = it.name
    lines.append("]}")
    return "\n".join(lines) + "\n", by_line


class Batches:
    """The operations, for one root; ``backend`` is the flags every child gets
    (``--emulator`` or ``--base-url URL``), as the dashboard's controls do; ``dry_run``
    plans a batch file as ``run --batch-file F --dry-run --json`` does, in this process.

    Its methods block (child processes, journal reads): callers on trio run them in a
    worker thread, except ``pause``, a coroutine that waits on trio's clock."""

    def __init__(self, root: Path, dry_run: DryRun, backend: tuple[str, ...] = (), python: str = sys.executable,
                 resume_args: tuple[str, ...] | None = None, run_args: tuple[str, ...] = ()) -> None:
        self.root = Path(root).resolve()
        self.dry_run = dry_run
        self.backend = backend
        self.python = python
        self.run_args = run_args  # more flags for a batch's run (``--poll-interval``)
        # its own followers: the dashboard's workspace is the watcher's, on trio's thread
        self.workspace = Workspace(self.root)
        self.controls = Controls(self.root, resume_args=backend if resume_args is None else resume_args,
                                 cancel_args=backend, python=python)
        self._lock = threading.Lock()  # the workspace is followed by one thread at a time

    # -- planning and creating -------------------------------------------------------

    def plan(self, name: Any, items: Any, variants: int | None = None, image_size: str | None = None) -> dict[str, Any]:
        """The dry run: tasks per item, estimate, saving against live, problems with their item."""
        name, listed = self._checked(name, items, variants, image_size)
        path = self._kept(f".plan-{name}-{os.getpid()}-{threading.get_ident()}.json")
        try:
            return self._dry_run(path, name, listed, image_size)
        finally:
            path.unlink(missing_ok=True)

    def create(self, name: Any, items: Any, max_cost: Any, variants: int | None = None,
               image_size: str | None = None) -> dict[str, Any]:
        """Start the batch in the background; returns ``{"batch_id": name}`` once its plan is journaled."""
        name, listed = self._checked(name, items, variants, image_size)
        if isinstance(max_cost, bool) or not isinstance(max_cost, (int, float)) or max_cost <= 0:
            raise BatchError("max_cost must be a positive number of US dollars (plan_batch shows the price)")
        state_dir(self.root)
        locks = self.root / ".chargen" / "locks"
        locks.mkdir(exist_ok=True)
        guard = filelock.FileLock(str(locks / f"batch-{name}.lock"), timeout=0, thread_local=False,
                                  is_singleton=False)
        try:
            guard.acquire()
        except filelock.Timeout:
            raise BatchConflict(f"batch {name!r} is being created by another request") from None
        try:
            self._refuse_taken(name)
            path = self._kept(f"{name}.json")
            plan = self._dry_run(path, name, listed, image_size)
            if plan["problems"]:
                first = plan["problems"][0]
                raise BatchError(f"item {first['item']!r}: {first['message']}" if first["item"] else first["message"])
            _within(plan, float(max_cost))
            crash_point("before", "batch.spawn")
            child = self._start_run(path, name, float(max_cost))
            crash_point("after", "batch.spawn")
            self._wait_started(child, name)
        finally:
            guard.release()
        return {"batch_id": name}

    def _checked(self, name: Any, items: Any, variants: int | None, image_size: str | None) -> tuple[str, list[Item]]:
        name = check_name(name)
        if image_size is not None and not isinstance(image_size, str):
            raise BatchError("image_size must be a string such as \"1K\", \"2K\" or \"4K\"")
        listed = expand(parse_items(items), variants)
        for it in listed:
            for ref in it.references:
                if not _inside(self.root, ref):
                    raise BatchError(f"item {it.name!r}: reference {ref!r} is outside the root {self.root}")
        return name, listed

    def _kept(self, file_name: str) -> Path:
        state_dir(self.root)
        folder = self.root / KEPT
        folder.mkdir(exist_ok=True)
        return folder / file_name

    def _refuse_taken(self, name: str) -> None:
        runs = runs_root(self.root)
        if (runs / name / JOURNAL_NAME).exists() or deleted_id(runs, name):
            raise BatchConflict(f"batch {name!r} already exists; choose another name")

    def _dry_run(self, path: Path, name: str, items: list[Item], image_size: str | None = None) -> dict[str, Any]:
        text, by_line = batch_text(name, items, image_size)
        replace_atomic(path, text.encode())
        try:
            doc = self.dry_run(path)
        except BatchFileInvalid as exc:  # every problem, each with the item on its line
            problems = [{"item": by_line.get(p.line or 0, ""), "message": p.message} for p in exc.problems]
            return {"name": name, "tasks": [], "problems": problems}
        except (ChargenError, OSError) as exc:  # a disk error named relative to the root, as the cli names it
            raise BatchError(str(local_io_error(exc, root=self.root) or exc)) from None
        except Exception as exc:  # noqa: BLE001 - a bug still gets the cli's one line, not a dropped request
            raise BatchError(f"internal error: {type(exc).__name__}: {exc}") from None
        return _plan_view(doc, items)

    def _start_run(self, path: Path, name: str, max_cost: float) -> subprocess.Popen[bytes]:
        argv = [self.python, "-m", "chargen_es", "run", "--batch-file", str(path), "--yes", "--run-id", name,
                "--max-cost", repr(max_cost), "--root", str(self.root), *self.backend, *self.run_args]
        log = open(path.with_suffix(".log"), "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.root, start_new_session=True)
        finally:
            log.close()
        self.controls.children.append(child)
        return child

    def _wait_started(self, child: subprocess.Popen[bytes], name: str) -> None:
        """Until the child has journaled the run's plan (its ``run.started`` carries the
        child's pid, so a run of the same id started some other way never counts), or has
        ended without doing so."""
        journal = runs_root(self.root) / name / JOURNAL_NAME
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            code = child.poll()  # first: a child that ended has written all it ever will
            if _sealed_by(journal, child.pid):
                return
            if code is not None:
                if _sealed_by(journal, None):  # another run sealed this id first: one a server that
                    # died after starting it left going, whose plan landed after our check
                    raise BatchConflict(f"batch {name!r} already exists; choose another name")
                log = self.root / KEPT / f"{name}.log"
                tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
                raise BatchError(f"batch {name!r} did not start: " + " / ".join(tail))
            time.sleep(0.05)
        raise BatchError(f"batch {name!r}: its run did not journal its plan within {START_TIMEOUT_S:.0f} s; "
                         f"see {KEPT}/{name}.log")

    # -- following and acting --------------------------------------------------------

    def list_batches(self, status: str | None = None) -> dict[str, Any]:
        with self._lock:
            self.workspace.refresh()
            rows = [_row(e.summary) for e in self._entries()]
        return {"batches": [r for r in rows if status in (None, "", r["status"])]}

    def progress(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            entry = self._entry(batch_id)
            s = entry.summary
            items = []
            for key in entry.model.item_keys():
                rec = entry.model.item(key)
                items.append({"item": rec["scene"], "state": rec["state"], "reason": rec["reason"],
                              "outputs": [o["path"] for o in rec["outputs"]]})
        return {**_row(s), "counts": {k: s[k] for k in ("tasks", "ok", "failed", "skipped", "pending", "in_flight")},
                "eta": s["eta_at"] or None, "ended": s["ended"], "items": items}

    def image(self, batch_id: str, item: str) -> tuple[bytes, str]:
        """The image of ``item`` (its name in the batch), with its MIME type."""
        with self._lock:
            entry = self._entry(batch_id)
            key = next((k for k in entry.model.item_keys() if entry.model.item(k)["scene"] == item), None)
            if key is None:
                raise BatchNotFound(f"batch {batch_id!r} has no item {item!r}")
            state = entry.model.item_state(key)[0]
            path = self.workspace.image_path(entry, key, "0")
        if path is None:
            raise BatchConflict(f"item {item!r} has no image yet (it is {state})")
        return path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"

    async def pause(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            entry = self._entry(batch_id)
        return {"batch_id": batch_id, "message": await self._act(self.controls.pause(entry))}

    def resume(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            entry = self._entry(batch_id)
        return {"batch_id": batch_id, "message": _refusal(self.controls.resume, entry)}

    def cancel(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            entry = self._entry(batch_id)
        return {"batch_id": batch_id, "message": _refusal(self.controls.cancel, entry)}

    def delete(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            self._entry(batch_id)
        done = subprocess.run([self.python, "-m", "chargen_es", "delete", batch_id, "--root", str(self.root),
                               *self.backend], capture_output=True, text=True, cwd=self.root, check=False,
                              timeout=600)
        if done.returncode != 0:
            raise BatchConflict(done.stderr.strip().removeprefix("chargen-es: "))
        for suffix in (".json", ".log"):
            (self.root / KEPT / f"{batch_id}{suffix}").unlink(missing_ok=True)
        return {"batch_id": batch_id, "deleted": True, "message": done.stdout.strip()}

    async def _act(self, action: Any) -> str:
        try:
            return str(await action)
        except Refused as exc:
            raise BatchConflict(str(exc)) from None

    def _entries(self) -> list[RunEntry]:
        return sorted(self.workspace.runs.values(), key=lambda e: e.run_id)

    def _entry(self, batch_id: str) -> RunEntry:
        if not isinstance(batch_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}", batch_id):
            raise BatchNotFound(f"no batch {batch_id!r}")
        self.workspace.refresh()
        entry = self.workspace.entry(batch_id)
        if entry is None or not entry.summary:
            raise BatchNotFound(f"no batch {batch_id!r}")
        return entry


def _sealed_by(journal: Path, pid: int | None) -> bool:
    """Whether process ``pid`` (any, for None) started the run of ``journal`` and its plan is
    journaled."""
    if not journal.exists():
        return False
    events = read_events(journal)
    return (bool(events) and isinstance(events[0], ev.RunStarted) and (pid is None or events[0].pid == pid)
            and any(isinstance(e, ev.PlanSealed) for e in events))


def _refusal(action: Any, entry: RunEntry) -> str:
    try:
        return str(action(entry))
    except Refused as exc:
        raise BatchConflict(str(exc)) from None


def _inside(root: Path, ref: str) -> bool:
    if ref.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", ref) or "\x00" in ref:
        return False
    return (root / ref).resolve().is_relative_to(root)


def _row(s: dict[str, Any]) -> dict[str, Any]:
    return {"batch_id": s["id"], "name": s["name"], "status": s["phase"], "active": s["active"], "tasks": s["tasks"], "ok": s["ok"], "failed": s["failed"],
            "started_at": s["started_at"], "ended_at": s["ended_at"] or None,
            "cost_estimated_usd": s["cost_estimated_usd"], "cost_actual_usd": s["cost_actual_usd"]}


def _plan_view(doc: dict[str, Any], items: list[Item]) -> dict[str, Any]:
    """The dry-run document as the tools show it: per item, its task or why it is skipped."""
    kinds = {it.name: it.type for it in items}
    est = doc["estimate"]
    by_model = est.get("by_model") or {}
    tasks = []
    for t in doc["tasks"]:
        share = by_model.get(t["model"]) or {}
        n = share.get("tasks") or 1
        tasks.append({"item": t["scene"], "type": kinds.get(t["scene"], "generate"), "model": t["model"],
                      "references": [r["path"] for r in t["references"]], "reason": t["reason"],
                      "batch_usd": round(float(share.get("batch_usd", 0.0)) / n, 6)})
    return {"name": doc["config"].get("batch_name", ""), "tasks": tasks,
            "skipped": [{"item": s["scene"], "reason": s["reason"]} for s in doc["skipped"]],
            "estimate": {"batch_usd": est["batch_usd"], "live_usd": est["live_usd"],
                         "saving_vs_live_usd": est["saving_usd"], "unpriced_models": est.get("unpriced", [])},
            "warnings": doc.get("warnings", []), "problems": []}


def _within(plan: dict[str, Any], max_cost: float) -> None:
    """Refuse a plan over ``max_cost``, naming the item that takes it over."""
    total = plan["estimate"]["batch_usd"]
    if total <= max_cost:
        return
    running = 0.0
    for task in plan["tasks"]:
        running += task["batch_usd"]
        if running > max_cost:
            raise BatchError(f"item {task['item']!r}: the batch would cost ${total:.4f} (over max_cost "
                             f"${max_cost:.4f} from this item on); raise max_cost or drop items")
    raise BatchError(f"the batch would cost ${total:.4f}, over max_cost ${max_cost:.4f}")


__all__ = ["BatchConflict", "BatchError", "BatchNotFound", "Batches", "Item", "parse_items"]
