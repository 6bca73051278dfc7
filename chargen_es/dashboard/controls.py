"""Pause, Resume and Cancel from the page, each journaled exactly as from the command line.

* **Pause** signals the process holding the run's ``run.lock`` (its pid is written in
  the file) with SIGTERM, which the engine turns into a clean, journaled ``run.paused``,
  as Ctrl-C does. The pid is signalled only while the kernel says that lock is held, so
  a stale pid left in the file by an ended process is never signalled, and only once the
  process catches SIGTERM (``SigCgt`` in ``/proc/PID/status``): a process that has just
  taken the lock and not yet entered the engine would be killed by the signal instead of
  pausing, so Pause waits (briefly) for the engine to be listening.
* **Resume** and **Cancel** run the real commands (``python -m chargen_es resume`` /
  ``cancel``) as background processes with the dashboard's backend flags, their output
  appended to ``dashboard-resume.log`` / ``dashboard-cancel.log`` in the run folder:
  one code path for the CLI and the page, and a crash of either never touches the other.
  The children get a session of their own, so stopping the dashboard leaves them running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import trio

from chargen_es import events as ev
from chargen_es.dashboard.workspace import RunEntry, held_locks, lock_holder
from chargen_es.journal import RunLock, utc_now_ms

PAUSE_READY_S = 10.0
RESUME_LOG = "dashboard-resume.log"
CANCEL_LOG = "dashboard-cancel.log"


def catches_sigterm(pid: int) -> bool | None:
    """Whether the process has a SIGTERM handler (None: it is gone, or /proc cannot say)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return None


class Refused(Exception):
    """A control that does not apply to the run as it is now; the message says why."""


@dataclass
class Controls:
    """Starts the children; ``resume_args`` / ``cancel_args`` follow ``RUN_ID --root ROOT``."""

    root: Path
    resume_args: tuple[str, ...] = ()
    cancel_args: tuple[str, ...] = ()
    python: str = sys.executable
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    async def pause(self, entry: RunEntry) -> str:
        phase = entry.summary.get("phase", "")
        pid = self._holder(entry)
        # a lock holder is at work whatever the journal says yet: a `resume` opens its
        # backend and claims the run's keys before it journals run.resumed
        if pid is None or phase in ("completed", "cancelled"):
            raise Refused(f"run {entry.run_id} is not being worked on by any process; nothing to pause")
        with trio.move_on_after(PAUSE_READY_S):
            while catches_sigterm(pid) is False:
                await trio.sleep(0.05)
        if not catches_sigterm(pid):
            raise Refused(f"pid {pid} is not ready to pause run {entry.run_id} cleanly yet; try again")
        os.kill(pid, signal.SIGTERM)
        return f"asked pid {pid} to pause run {entry.run_id}"

    def resume(self, entry: RunEntry) -> str:
        phase = entry.summary.get("phase", "")
        if phase in ("completed", "cancelled"):
            raise Refused(f"run {entry.run_id} is {phase}; nothing to resume")
        if entry.model.p.sealed is None:
            raise Refused(f"run {entry.run_id} stopped before its plan was journaled; start it again instead")
        ended = entry.model.p.ended
        if isinstance(ended, ev.RunFailed) and ended.code == ev.MODEL_UNAVAILABLE:
            # a resume asks the same server the same question (the CLI's words after it failed)
            raise Refused(f"run {entry.run_id} failed before sending anything: {ended.message}; choose another "
                          "model (--model, or models: in chargen.yaml) and run again")
        if lock_holder(entry.folder, held_locks()):
            raise Refused(f"run {entry.run_id} is being worked on (pid {RunLock(entry.folder).holder_pid()}); "
                          "pause it first")
        pid = self._start("resume", entry, self.resume_args, RESUME_LOG)
        return f"resuming run {entry.run_id} in pid {pid}; log in {entry.folder.name}/{RESUME_LOG}"

    def cancel(self, entry: RunEntry) -> str:
        phase = entry.summary.get("phase", "")
        if phase in ("completed", "cancelled"):
            raise Refused(f"run {entry.run_id} is already {phase}")
        pid = self._start("cancel", entry, self.cancel_args, CANCEL_LOG)
        return f"cancelling run {entry.run_id} in pid {pid}; log in {entry.folder.name}/{CANCEL_LOG}"

    def reap(self) -> None:
        """Collect children that ended (no zombies while the dashboard runs)."""
        self.children = [c for c in self.children if c.poll() is None]

    def _holder(self, entry: RunEntry) -> int | None:
        if not lock_holder(entry.folder, held_locks()):
            return None
        return RunLock(entry.folder).holder_pid()

    def _start(self, command: str, entry: RunEntry, extra: tuple[str, ...], log_name: str) -> int:
        argv = [self.python, "-m", "chargen_es", command, entry.run_id, "--root", str(self.root), *extra]
        log = open(entry.folder / log_name, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            log.write(f"\n== {utc_now_ms()} dashboard: chargen-es {command} {entry.run_id}\n".encode())
            log.flush()
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.root, start_new_session=True)
        finally:
            log.close()
        self.children.append(child)
        return child.pid


__all__ = ["CANCEL_LOG", "RESUME_LOG", "Controls", "Refused"]
