"""A first look before paying for everything: ``run --preview N``.

The cli chooses N tasks of the plan, spread over entities, and journals their keys in the
plan's own group commit (``run.started``'s ``config["preview"]``), so the choice is made
once and a crash can never lose it. The batch runner hands them here before anything is
staged for batch: they go through the live runner (the same ``Uploads``, claims, journal
and output path as a fallback's live calls: ``call.started`` before each call, the
result applied once), and then

- in the run's first invocation the run stops resumably (``run.paused``, reason
  ``preview``): the images are there to look at, and ``resume`` sends the rest as batch;
- in a ``resume`` (after a kill during the preview, or after the preview's pause) the
  preview keys still pending are finished live first and the run goes on in batch.

A key the preview applied is not open any more, so the batch requests never carry it: each
key is delivered once, whichever invocation a SIGKILL interrupted.
"""

from __future__ import annotations

from collections.abc import Callable

from chargen_es import events as ev
from chargen_es.engine import preflight
from chargen_es.engine.live import LiveRunner
from chargen_es.engine.preflight import models_ready
from chargen_es.engine.progress import Progress
from chargen_es.engine.recorder import Recorder
from chargen_es.engine.uploads import Uploads

CONFIG_KEY = "preview"


def preview_keys(recorder: Recorder) -> list[str]:
    """The run's preview keys that still have no outcome, in the order chosen."""
    model = recorder.model
    chosen = model.run.config.get(CONFIG_KEY) if model.run is not None else None
    if not isinstance(chosen, list):
        return []
    return [k for k in chosen if isinstance(k, str) and k in model.tasks and not model.settled(k)]


def stops_here(recorder: Recorder) -> bool:
    """The preview stops the run only in its first invocation (no ``run.resumed`` yet)."""
    model = recorder.model
    return bool(model.run is not None and model.run.config.get(CONFIG_KEY)) and not model.resumes


async def run_preview(recorder: Recorder, runner: Callable[[], LiveRunner], progress: Progress,
                      uploads: Uploads) -> str:
    """Call the pending preview keys live, through the run's one live runner (``runner``
    makes it when first asked: the deadline fallback's, so one throttle learns the quota);
    returns "" to go on, or the runner's outcome (paused after the preview, failed when a
    model cannot be called live)."""
    keys = preview_keys(recorder)
    model = recorder.model
    if keys:
        live = runner()
        if not await models_ready(recorder, live.get_model, {model.tasks[k].model for k in keys},
                                  preflight.LIVE_METHOD):
            return "failed"
        await uploads.stage(sorted({model.tasks[k].chunk for k in keys}))
        progress.phase("calling", f"preview: {len(keys)} items live")
        await live.call(keys)
        if live.stop_kind is not None:
            recorder.record(ev.RunPaused(reason=live.stop_kind, message=live.stop_reason))
            return "paused"
    if not stops_here(recorder):
        return ""
    chosen = model.run.config.get(CONFIG_KEY, []) if model.run is not None else []
    made = sum(1 for k in chosen if model.applied(k))
    recorder.record(ev.RunPaused(reason="preview", message=f"preview: {made} of {len(chosen)} image(s) made live; "
                                 "look at them, then `resume` sends the rest as batch"))
    progress.phase("paused", "preview done")
    return "paused"
