"""Every third-party package our code imports is declared in ``pyproject.toml``.

Walks the AST of ``chargen_es/`` and ``projections/`` (function-level imports included)
against ``[project.dependencies]``, and of ``tests/`` and ``tools/`` against those plus the
``test`` extra. Import names are mapped to distributions through the installed metadata
(``google.genai`` is the ``google-genai`` distribution even though ``google`` is a
namespace shared with ``google-auth``), so a package that is only present as someone
else's dependency (httpx2 came with google-genai) is caught.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = {"chargen_es", "projections", "tests", "tools"}
NAMESPACES = {"google"}


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_dist_name(r) for r in project["dependencies"]}
    test = {_dist_name(r) for r in project["optional-dependencies"]["test"]}
    return runtime, runtime | test


@cache  # one parse of the tree per process, whichever test asks first
def _imported(tops: tuple[str, ...]) -> dict[str, str]:
    """Third-party import name (``google.genai`` for a namespace) -> first file importing it."""
    found: dict[str, str] = {}
    for top in tops:
        for path in sorted((REPO / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                    if node.module in NAMESPACES:
                        names = [f"{node.module}.{alias.name}" for alias in node.names]
                else:
                    continue
                for name in names:
                    parts = name.split(".")
                    key = ".".join(parts[:2]) if parts[0] in NAMESPACES else parts[0]
                    if parts[0] in OURS or parts[0] in sys.stdlib_module_names or parts[0] == "__future__":
                        continue
                    if path.parent == REPO / "tools" and (path.parent / f"{parts[0]}.py").exists():
                        continue  # a tool's sibling module (tools/benchkit.py): a script imports it by name
                    found.setdefault(key, f"{path.relative_to(REPO)}:{node.lineno}")
    return found


@cache
def _providers() -> dict[str, set[str]]:
    """Import name -> distributions that ship it (namespace packages by their sub-package)."""
    out: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"].lower().replace("_", "-")
        for f in dist.files or ():
            parts = f.parts
            if len(parts) >= 2 and parts[0] in NAMESPACES:
                out.setdefault(f"{parts[0]}.{parts[1].removesuffix('.py')}", set()).add(name)
            elif parts and not parts[0].endswith((".dist-info", ".egg-info", ".pth")):
                out.setdefault(parts[0].removesuffix(".py"), set()).add(name)
    return out


def test_the_walk_finds_the_sdk_and_the_mapping_knows_it() -> None:
    imported = _imported(("chargen_es", "projections"))
    assert "google.genai" in imported and "httpx2" in imported
    assert _providers()["google.genai"] == {"google-genai"}


@pytest.mark.parametrize(("tops", "which"), [(("chargen_es", "projections"), 0), (("tests", "tools"), 1)])
def test_every_third_party_import_is_declared(tops: tuple[str, ...], which: int) -> None:
    declared = _declared()[which]
    missing = {}
    for name, where in _imported(tops).items():
        dists = _providers().get(name)
        assert dists, f"{where}: imports {name}, which no installed distribution provides"
        if not dists & declared:
            missing[name] = (where, sorted(dists))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
