"""``chargen_es.fsio`` is the one file-system module: writes go through it, or are listed here.

Everything fsio writes is named when the disk refuses (the final file, never a temp name)
and can be failed by the fault hook (``CHARGEN_ES_FAULT_AT``), so a write that bypasses it
would be the one place a full disk says nothing useful and the sweeps never reach. This
walks the AST of ``chargen_es/`` (the emulator, a component of its own, aside) for direct
writes, renames, truncations, folder removals and fsyncs and fails on any not in ``ALLOWED`` with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OS_CALLS = {"write", "fsync", "replace", "rename", "ftruncate", "fdatasync", "rmdir"}
PATH_METHODS = {"write_text", "write_bytes", "rename", "rmdir"}

# (module, what) -> why it may write without fsio
ALLOWED = {
    ("chargen_es/statedir.py", "os.write"): "the .gitignore of .chargen/, created once with O_EXCL before "
                                             "anything else is written there",
    ("chargen_es/journal.py", "open(w)"): "run.lock's holder pid: a hint for the refusal message, never read "
                                          "as data",
    ("chargen_es/journal.py", "os.ftruncate"): "cutting a torn tail on open; the cut is fsynced through fsio",
    ("chargen_es/run_folders.py", ".write_text"): "the cancel marker: its presence is the signal, its pid a hint",
    ("chargen_es/cli/execute.py", ".rename"): "setting aside a run folder whose plan never became durable",
    ("chargen_es/cli/status_cmd.py", ".write_bytes"): "`status --export FILE`: a file the user names, which may "
                                                      "be a pipe or /dev/stdout, is written in place",
    ("chargen_es/cli/stats_cmd.py", ".write_text"): "`stats --csv FILE`: as `status --export`",
    ("chargen_es/dashboard/controls.py", "open(w)"): "the log a background resume or cancel writes into",
    ("chargen_es/dashboard/batches.py", "open(w)"): "the log a batch's run writes into, handed to the child",
}


def _writes(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name) and func.value.id == "os" and func.attr in OS_CALLS:
                found.add(f"os.{func.attr}")
            elif func.attr in PATH_METHODS and not (isinstance(func.value, ast.Name) and func.value.id == "os"):
                found.add(f".{func.attr}")
        elif isinstance(func, ast.Name) and func.id == "open":
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"),
                                                                  None)
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and set(mode.value) & set("wax+"):
                found.add("open(w)")
    return found


def test_every_write_goes_through_fsio_or_is_listed_with_its_reason() -> None:
    seen = set()
    for path in sorted((REPO / "chargen_es").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel == "chargen_es/fsio.py" or rel.startswith("chargen_es/emulator/"):
            continue
        seen |= {(rel, what) for what in _writes(path)}
    assert seen - set(ALLOWED) == set(), "write through chargen_es.fsio (or list it here with why)"
    assert set(ALLOWED) - seen == set(), "a listed exception is gone: take it off the list"


def test_the_walk_sees_a_direct_write(tmp_path: Path) -> None:
    code = ("import os\nfrom pathlib import Path\nos.write(1, b'x')\nPath('a').write_text('x')\n"
            "open('f', 'wb')\nopen('g')\n'a'.replace('a', 'b')\n")
    target = tmp_path / "probe.py"
    target.write_text(code)
    assert _writes(target) == {"os.write", ".write_text", "open(w)"}
