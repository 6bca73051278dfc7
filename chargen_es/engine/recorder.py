"""The engine's single path to the journal: append durably, then fold into the view.

Every event the engine produces goes through :meth:`Recorder.record`, so the view never
runs ahead of what is durable, and the crash points for each append kind live in one place.
"""

from __future__ import annotations

from chargen_es import events as ev
from chargen_es.engine import view as run_view
from chargen_es.engine.crashpoints import crash_point
from chargen_es.journal import Journal


class Recorder:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.view = run_view.build(journal.events)

    def record(self, *events: ev.Event) -> list[ev.AnyEvent]:
        """Append ``events`` in one group commit (one fsync), then fold them."""
        if not events:
            return []
        kinds = [ev.type_name(e) for e in events]
        for kind in kinds:
            crash_point("before", f"append:{kind}")
        stamped = self.journal.append_many(events)
        for event in stamped:
            run_view.apply(self.view, event)
        for kind in kinds:
            crash_point("after", f"append:{kind}")
        return stamped
