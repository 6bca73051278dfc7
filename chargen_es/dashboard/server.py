"""Serving the dashboard: Hypercorn on trio, one watcher task, a clean stop on a signal.

The watcher refreshes the workspace every ``refresh_s`` seconds (a ``stat`` per journal;
new bytes only when one grew) and publishes the changes to the open streams, so an event
appended to any journal reaches an open page within about one refresh plus the network
hop. Everything runs on the one trio thread: the folds and the app never race.
"""

from __future__ import annotations

import secrets
import signal
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from chargen_es.dashboard.api import batch_routes
from chargen_es.dashboard.app import build_app
from chargen_es.dashboard.batches import Batches, DryRun
from chargen_es.dashboard.controls import Controls
from chargen_es.dashboard.hub import Hub
from chargen_es.dashboard.workspace import Workspace

HOST = "127.0.0.1"  # never another interface: the token is the only other guard


@dataclass(frozen=True)
class DashboardSettings:
    root: Path
    dry_run: DryRun  # the batch API's plans: the cli's `run --batch-file F --dry-run --json`, in process
    port: int = 0  # 0: a free port
    open_browser: bool = False
    refresh_s: float = 0.2
    resume_args: tuple[str, ...] = ()
    cancel_args: tuple[str, ...] = ()
    run_args: tuple[str, ...] = ()  # more flags for the runs the batch API starts
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


def run_dashboard(settings: DashboardSettings, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; ``announce`` gets the URL (with the token) first."""
    trio.run(_main, settings, announce)


async def _main(settings: DashboardSettings, announce: Callable[[str], None]) -> None:
    workspace = Workspace(settings.root)
    workspace.refresh()
    hub = Hub()
    controls = Controls(workspace.root, settings.resume_args, settings.cancel_args)
    batches = Batches(workspace.root, settings.dry_run, backend=settings.cancel_args, resume_args=settings.resume_args,
                      run_args=settings.run_args)
    app = build_app(workspace, hub, controls, settings.token, batch_routes(batches))
    config = Config()
    config.bind = [f"{HOST}:{settings.port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 1.0
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            # serve() reports the bound URLs through task_status, so port 0 still prints the real
            # port (hypercorn 0.18, hypercorn/trio/run.py worker_serve; read 2026-12-02)
            binds = await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
            url = f"{binds[0]}/?token={settings.token}"
            announce(url)
            if settings.open_browser:
                webbrowser.open(url)

            async def watch() -> None:
                while not stop.is_set():
                    await trio.sleep(settings.refresh_s)
                    hub.publish(workspace.refresh(), workspace)
                    controls.reap()
                    batches.controls.reap()

            async def on_signal() -> None:
                async for _ in signals:
                    stop.set()
                    hub.close()  # ends the event streams, so the graceful stop is quick
                    nursery.cancel_scope.deadline = trio.current_time() + 5
                    return

            nursery.start_soon(watch)
            nursery.start_soon(on_signal)
