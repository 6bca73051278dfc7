"""The offline commands start without the SDK: ``--help``, ``inspect``, ``replay``, ``run --dry-run``.

One real child interpreter runs the cli's own entry (``run_cli``) on each command in turn
and reports, after each, which heavy modules ``sys.modules`` holds. google-genai alone
costs about 0.35 s of start-up; none of these commands talks to Gemini, so none of them
may load it, nor the emulator, nor trio, nor the engine that needs them; and ``inspect``
and ``replay`` (run first, in a fresh interpreter) do not even load the planner.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import click

from chargen_es import cli as cli_package
from chargen_es.planner import sample_tree

SAMPLE_RUN = Path(__file__).parent / "data" / "sample_run" / "journal.jsonl"
RUN_ID = "2025-12-19T12-00-00Z"
HEAVY = ("google", "trio", "httpx2", "tenacity", "rich", "chargen_es.gateway", "chargen_es.emulator",
         "chargen_es.engine")
# the workspace index store (plain files and msgspec) is read by inspect and run --dry-run,
# with the deleted runs' tombstones it keeps; the engine package's lazy surface loads
# nothing else with them; so is the review journal's store (the journal, imagery.yaml and a
# fold), which pick / reject / replay --review and status read; prune reads journals and
# removes files
LIGHT = ("chargen_es.engine", "chargen_es.engine.workspace", "chargen_es.engine.tombstones",
         "chargen_es.engine.crashpoints", "chargen_es.engine.review", "chargen_es.engine.prune")

CHILD = """
import contextlib, io, json, sys
from chargen_es.cli import cli
from chargen_es.cli.common import run_cli
heavy = tuple(json.loads(sys.argv[1]))
light = set(json.loads(sys.argv[3]))
report = []
for argv in json.loads(sys.argv[2]):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = run_cli(cli, argv)
    also = ("chargen_es.planner",) if argv[0] in ("inspect", "replay") else ()
    loaded = sorted(m for m in sys.modules if m not in light
                    and any(m == h or m.startswith(h + ".") for h in heavy + also))
    report.append({"argv": argv, "code": code, "loaded": loaded, "out": out.getvalue()[:200]})
print(json.dumps(report))
"""


def test_offline_commands_never_import_the_sdk_trio_or_the_emulator(tmp_path: Path) -> None:
    tree = shutil.copytree(sample_tree(), tmp_path / "tree")
    run_dir = tree / ".chargen" / "batch" / RUN_ID
    run_dir.mkdir(parents=True)
    shutil.copy(SAMPLE_RUN, run_dir / "journal.jsonl")
    commands = [
        ["inspect", "--root", str(tree)],
        ["inspect", RUN_ID, "--root", str(tree), "--events"],
        ["replay", RUN_ID, "--root", str(tree)],
        ["replay", RUN_ID, "--check", "--root", str(tree)],
        ["--help"],
        ["run", "--help"],
        ["run", "--dry-run", "--root", str(tree)],
        ["run", "--dry-run", "--json", "--mode", "analyze", "--root", str(tree)],
        ["prune", "--dry-run", "--root", str(tree)],
    ]
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(HEAVY), json.dumps(commands),
                           json.dumps(LIGHT)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [r["argv"] for r in report] == commands
    for r in report:
        assert r["code"] == 0, f"{r['argv']} exited {r['code']}: {done.stderr[-1000:]}"
        assert r["out"], f"{r['argv']} printed nothing"
        assert r["loaded"] == [], f"chargen-es {' '.join(r['argv'])} imported {r['loaded']}"
    assert (run_dir / "report.json").is_file(), "replay wrote the projections"


def test_every_command_is_named_once_for_lazy_loading() -> None:
    """``COMMAND_MODULES`` (what the lazy group imports) matches each module's ``COMMANDS``."""
    found = {}
    for module in sorted(set(cli_package.COMMAND_MODULES.values())):
        for command in importlib.import_module(f"chargen_es.cli.{module}").COMMANDS:
            found[command.name] = module
    assert found == cli_package.COMMAND_MODULES
    assert sorted(cli_package.cli.list_commands(click.Context(cli_package.cli))) == sorted(found)


def test_help_lists_every_command_without_importing_one() -> None:
    """``chargen-es --help`` reads the summaries, not the command modules (it imported all
    thirteen, 3x the start-up of its libraries); each summary is its command's own help."""
    child = ("import contextlib, io, json, sys\nfrom chargen_es.cli import cli\nfrom chargen_es.cli.common import run_cli\n"
             "with contextlib.redirect_stdout(io.StringIO()) as out:\n    code = run_cli(cli, ['--help'])\n"
             "print(json.dumps({'code': code, 'out': out.getvalue(), 'loaded': sorted(sys.modules)}))")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["code"] == 0
    commands = {m for m in report["loaded"] if m.startswith("chargen_es.cli.") and m != "chargen_es.cli.common"}
    assert commands == set(), commands
    assert not any(m.startswith(("chargen_es.planner", "chargen_es.journal")) for m in report["loaded"])
    ctx = click.Context(cli_package.cli)
    for name in cli_package.cli.list_commands(ctx):
        command = cli_package.cli.get_command(ctx, name)
        assert command is not None and name in report["out"]
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert cli_package.COMMAND_SUMMARIES[name] == first, name
