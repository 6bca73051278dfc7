"""The engine's single path to the journal: append durably, then fold into the model.

Every event the engine produces goes through :meth:`Recorder.record`, so the model never
runs ahead of what is durable, and the crash points for each append kind live in one
place. The model is ``projections``' own (the one fold): the engine decides from it, and
the projection files are rendered from it when the invocation ends.
"""

from __future__ import annotations

import projections
from chargen_es import events as ev
from chargen_es.engine.crashpoints import crash_point
from chargen_es.fsio import write_files
from chargen_es.journal import Journal
from projections import Projections


class Recorder:
    def __init__(self, journal: Journal, model: Projections | None = None) -> None:
        """``model`` is the fold of ``journal.events`` when the caller already has it."""
        self.journal = journal
        self.model = model if model is not None else projections.project(journal.events)

    def record(self, *events: ev.Event) -> list[ev.AnyEvent]:
        """Append ``events`` in one group commit (one fsync), then fold them."""
        if not events:
            return []
        kinds = [ev.type_name(e) for e in events]
        for kind in kinds:
            crash_point("before", f"append:{kind}")
        stamped = self.journal.append_many(events)
        mutate, model = projections.mutate, self.model
        for event in stamped:
            mutate(model, event)
        for kind in kinds:
            crash_point("after", f"append:{kind}")
        return stamped

    def write_projections(self) -> None:
        """Render the four projection files from the model held (no re-fold)."""
        write_files(self.journal.run_dir, projections.render(self.model), before_rename=_during_projections_write,
                    point="projections.write")


def _during_projections_write() -> None:
    crash_point("during", "projections.write")
