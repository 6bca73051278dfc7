"""The workspace index as a fold (same answers as the per-run folds, incremental equals
whole) and as a store (reads only new bytes, rebuilds with a note when it cannot trust
itself, checked by ``replay --workspace --check``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
from click.testing import CliRunner

from chargen_es import events as ev
from chargen_es.cli import cli
from chargen_es.engine import workspace
from chargen_es.journal import Journal, read_events
from projections import project, workspace_files_cache
from projections import workspace as wsp
from projections.report import actual_cost

SAMPLE = Path(__file__).resolve().parents[1] / "core" / "data" / "sample_run" / "journal.jsonl"
RUN = "2025-12-19T12-00-00Z"


def sample_events() -> list[ev.Event]:
    return list(read_events(SAMPLE))


def test_a_row_agrees_with_the_run_projections() -> None:
    events = sample_events()
    row = wsp.build([(RUN, events)]).runs[RUN]
    p = project(events)
    assert (row.ok, row.failed) == p.outcome_counts()
    assert row.phase == p.phase and row.tasks == len(p.tasks) and row.skipped == len(p.skipped)
    assert wsp.actual_cost(row) == actual_cost(p)
    assert row.open is None  # a completed run keeps totals only


def test_the_files_cache_is_the_workspace_files_cache() -> None:
    events = sample_events()
    renamed = [msgspec.structs.replace(e, run_id="run-b") if isinstance(e, ev.RunStarted) else e for e in events]
    journals = [(RUN, events), ("run-b", renamed)]
    assert wsp.files_cache(wsp.build(journals)) == workspace_files_cache(journals)


def test_folding_in_pieces_equals_folding_at_once() -> None:
    events = sample_events()
    whole = msgspec.to_builtins(wsp.build([(RUN, events)]))
    for cut in range(len(events) + 1):
        index = wsp.fold_run(wsp.WorkspaceIndex(), RUN, events[:cut])
        wsp.fold_run(index, RUN, events[cut:])
        assert msgspec.to_builtins(index) == whole, cut


def tree_with_sample_run(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    run_dir = root / ".chargen" / "batch" / RUN
    run_dir.mkdir(parents=True)
    shutil.copy(SAMPLE, run_dir / "journal.jsonl")
    return root


def test_only_new_journal_bytes_are_read(tmp_path: Path) -> None:
    root = tree_with_sample_run(tmp_path)
    first = workspace.load(root)
    assert first.rebuilt and first.folded_bytes == SAMPLE.stat().st_size
    assert workspace.load(root).folded_bytes == 0  # nothing new: nothing read
    journal = root / ".chargen" / "batch" / RUN / "journal.jsonl"
    before = journal.stat().st_size
    resumes = first.index.runs[RUN].resumes
    with Journal.open(journal.parent) as j:
        j.append(ev.RunResumed(pid=1, tool_version="t", from_seq=j.last_seq))
    again = workspace.load(root)
    assert not again.rebuilt and again.folded_bytes == journal.stat().st_size - before
    assert again.index.runs[RUN].resumes == resumes + 1
    assert workspace.check(root) == []


def test_a_damaged_index_is_rebuilt_with_a_note(tmp_path: Path) -> None:
    root = tree_with_sample_run(tmp_path)
    workspace.load(root)
    path = workspace.index_path(root)
    path.write_bytes(path.read_bytes()[:50])
    notes: list[str] = []
    loaded = workspace.load(root, note=notes.append)
    assert loaded.rebuilt and len(notes) == 1 and "workspace.json: damaged" in notes[0]
    assert workspace.check(root) == []


def test_a_rewritten_journal_is_never_trusted_over(tmp_path: Path) -> None:
    root = tree_with_sample_run(tmp_path)
    workspace.load(root)
    journal = root / ".chargen" / "batch" / RUN / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:10]))  # shorter: a journal restored from an older copy
    notes: list[str] = []
    loaded = workspace.load(root, note=notes.append)
    assert loaded.rebuilt and "rewritten" in notes[0]
    assert loaded.index.runs[RUN].seq == 10


def test_replay_workspace_check_and_rebuild(tmp_path: Path) -> None:
    root = tree_with_sample_run(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(cli, ["replay", "--workspace", "--check", "--root", str(root)])
    assert missing.exit_code == 1 and "missing" in missing.output
    built = runner.invoke(cli, ["replay", "--workspace", "--root", str(root)])
    assert built.exit_code == 0 and "rebuilt from 1 run(s)" in built.output
    ok = runner.invoke(cli, ["replay", "--workspace", "--check", "--root", str(root)])
    assert ok.exit_code == 0 and "matches the journals of 1 run(s)" in ok.output
    journal = root / ".chargen" / "batch" / RUN / "journal.jsonl"
    with Journal.open(journal.parent) as j:
        j.append(ev.RunResumed(pid=1, tool_version="t", from_seq=j.last_seq))
    stale = runner.invoke(cli, ["replay", "--workspace", "--check", "--root", str(root)])
    assert stale.exit_code == 1 and f"run {RUN} behind its journal" in stale.output


def test_a_live_run_is_estimated_at_live_prices() -> None:
    from projections.report import report_view

    events = [ev.RunStarted(seq=1, at="2026-12-01T10:00:00.000Z", run_id="r", tool_version="t", mode="generate",
                            runner="live"),
              ev.PlanSealed(seq=2, at="2026-12-01T10:00:00.000Z", tasks=1, skipped=0, chunks=1, plan_sha256="x",
                            estimated_cost_usd=0.5, live_cost_usd=1.0)]
    assert report_view(project(events))["cost"]["estimated_usd"] == 1.0
    row = wsp.build([("r", events)]).runs["r"]
    assert wsp.estimate_at_runner(row) == 1.0 and wsp.saving_vs_live(row) == 0.0


def test_a_lost_upload_leaves_the_workspace_files_cache() -> None:
    """upload.lost (found gone by listing) means no other run may reuse that file id."""
    up = ev.UploadCompleted(seq=1, at="2030-01-01T00:00:00.000Z", purpose="reference", path="refs/a.png",
                            sha256="ab" * 32, size=3, mime="image/png", display_name="chargen-es:x",
                            name="files/a", uri="u", expires="2030-01-03T00:00:00.000Z", backend="b")
    lost = ev.UploadLost(seq=2, at="2030-01-01T01:00:00.000Z", sha256="ab" * 32, name="files/a")
    assert wsp.files_cache(wsp.build([("r1", [up])]))
    journals = [("r1", [up]), ("r2", [lost])]
    assert wsp.files_cache(wsp.build(journals)) == {} == workspace_files_cache(journals)
