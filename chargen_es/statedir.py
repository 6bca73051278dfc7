"""``<root>/.chargen/``: the one folder chargen-es keeps in a content tree.

Run journals (``batch/``), the embedded emulator's state, locks and the workspace index
live here, and nowhere else in the user's tree. The folder gets its own ``.gitignore``
(``*``) the first time it is made, so run folders never end up in the user's git even when
the tree's own ``.gitignore`` does not mention it. Imports nothing of ours, so every layer
may use it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

STATE_DIR = ".chargen"
GITIGNORE = (
    "# chargen-es keeps run journals, emulator state, locks and its workspace index here;\n"
    "# none of it belongs in the content tree's history.\n"
    "*\n"
)


# What makes a folder a content tree: its workspace file or an entity folder.
TREE_MARKERS = ("chargen.yaml", "characters", "locations", "chapters")


def tree_problem(root: Path, *, runs_count: bool = True) -> str:
    """Why ``root`` is not a content tree, or "" when it is one.

    A folder with none of ``TREE_MARKERS`` would plan nothing and list no runs, which
    reads as "all done"; every command that takes ``--root`` refuses it instead. With
    ``runs_count`` a folder holding runs will do (a batch file's folder, for ``inspect``,
    ``resume``, ``replay``): a run folder with a journal, not a bare ``.chargen/`` (the
    embedded emulator of ``models --emulator`` makes one anywhere).
    """
    root = Path(root)
    if not root.exists():
        return f"--root {root}: no such folder"
    if not root.is_dir():
        return f"--root {root}: not a folder"
    if any((root / marker).exists() for marker in TREE_MARKERS):
        return ""
    runs = root / STATE_DIR / "batch"
    if runs_count and runs.is_dir() and any((p / "journal.jsonl").is_file() for p in runs.iterdir()):
        return ""
    return (f"--root {root}: not a content tree (no chargen.yaml, characters/, locations/ or chapters/"
            + (", and no runs" if runs_count else "") + "); `chargen-es demo` makes a sample tree, "
            "`run --batch-file FILE` needs none")


def state_dir(root: Path) -> Path:
    """``<root>/.chargen``, created (with its ``.gitignore``) when missing."""
    folder = Path(root) / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        with contextlib.suppress(FileExistsError):
            fd = os.open(ignore, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, GITIGNORE.encode())
            finally:
                os.close(fd)
    return folder
