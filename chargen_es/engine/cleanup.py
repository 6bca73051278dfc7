"""Clean-up at the end of a completed batch run: the run's remote request and result
files are deleted (best effort: they expire in 48 h anyway); references stay, so later
runs of the workspace reuse them."""

from __future__ import annotations

import trio

from chargen_es import events as ev
from chargen_es.engine.recorder import Recorder
from chargen_es.errors import GeminiError, NotFound
from chargen_es.gateway import Gateway


async def delete_run_files(recorder: Recorder, gateway: Gateway, calls: trio.CapacityLimiter) -> None:
    model = recorder.model
    here = gateway.backend.identity  # a file id means nothing on another backend (invariant 10)
    names = {u.name for u in model.uploads.values() if u.path.endswith(".jsonl") and u.name and u.backend == here}
    names |= {j.output_file for j in model.jobs.values() if j.output_file}
    names -= set(model.deleted_files)
    deleted = []
    for name in sorted(names):
        try:
            await trio.to_thread.run_sync(gateway.delete_file, name, limiter=calls)
            deleted.append(name)
        except NotFound:
            deleted.append(name)
        except GeminiError:
            continue  # best effort
    if deleted:
        recorder.record(ev.FilesDeleted(names=tuple(deleted)))
