"""The layer rules of ARCHITECTURE.md, checked on the source (an import is an arrow).

Walks the AST of every module in ``chargen_es/`` and ``projections/`` (function-level
imports included) and fails on an arrow the architecture forbids.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = ("chargen_es", "projections")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of every module this file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


class _Imports(Mapping[str, set[str]]):
    """Module name -> the names it imports; each file parsed when first asked (collection
    needs only the names, and every xdist worker collects)."""

    def __init__(self) -> None:
        self._paths = {_module_name(p): p for top in OURS for p in sorted((REPO / top).rglob("*.py"))}
        self._parsed: dict[str, set[str]] = {}

    def __getitem__(self, module: str) -> set[str]:
        if module not in self._parsed:
            self._parsed[module] = _imports(self._paths[module], module)
        return self._parsed[module]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


MODULES = _Imports()


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in OURS}


def _is(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_walk_found_the_modules() -> None:
    assert {"chargen_es.events", "chargen_es.journal", "projections", "projections.model"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _is(m, "projections")))
def test_projections_import_only_the_events(module: str) -> None:
    bad = {n for n in _ours(MODULES[module]) if not _is(n, "projections") and not _is(n, "chargen_es.events")
           and n != "chargen_es"}
    assert not bad, f"{module} imports {sorted(bad)}; projections may import only chargen_es.events"


# ``python -m chargen_es`` is an entry point like the console script: it sits above the cli.
ENTRY_POINTS = {"chargen_es.__main__"}


def test_nothing_imports_the_cli() -> None:
    offenders = {m: sorted(n for n in names if _is(n, "chargen_es.cli"))
                 for m, names in MODULES.items() if not _is(m, "chargen_es.cli") and m not in ENTRY_POINTS}
    assert not {m: n for m, n in offenders.items() if n}


def test_only_the_gateway_imports_google_genai() -> None:
    offenders = sorted(m for m, names in MODULES.items()
                       if not _is(m, "chargen_es.gateway") and any(_is(n, "google.genai") or n == "google" for n in names))
    assert not offenders, f"only chargen_es/gateway/ may import google.genai: {offenders}"


def test_the_emulator_imports_nothing_of_ours_outside_itself() -> None:
    bad = {m: sorted(n for n in _ours(names) if not _is(n, "chargen_es.emulator") and n != "chargen_es")
           for m, names in MODULES.items() if _is(m, "chargen_es.emulator")}
    assert not {m: n for m, n in bad.items() if n}


def test_events_import_nothing_of_ours() -> None:
    assert not {n for n in _ours(MODULES["chargen_es.events"]) if n != "chargen_es"}


def test_journal_imports_only_events_errors_and_fsio() -> None:
    allowed = ("chargen_es.events", "chargen_es.errors", "chargen_es.fsio")
    bad = {n for n in _ours(MODULES["chargen_es.journal"]) if n != "chargen_es" and not any(_is(n, a) for a in allowed)}
    assert not bad


LOWER_LAYER = {
    # module prefix: what of ours it may import (itself always allowed)
    "chargen_es.imagery": ("chargen_es.events", "chargen_es.errors", "chargen_es.statedir"),
    "chargen_es.statedir": (),
    "chargen_es.planner": ("chargen_es.events", "chargen_es.errors", "chargen_es.imagery", "chargen_es.catalogue",
                           "chargen_es.analysis"),
    "chargen_es.gateway": ("chargen_es.errors", "chargen_es.fsio"),  # the download is written through fsio
    "chargen_es.errors": (),
    "chargen_es.catalogue": (),
    "chargen_es.fsio": (),  # the file system, one way: below the journal, the engine and the cli
    "chargen_es.run_folders": ("chargen_es.errors", "chargen_es.journal"),
    "chargen_es.analysis": (),
    "chargen_es.credentials": ("chargen_es.errors",),
}


@pytest.mark.parametrize("layer", sorted(LOWER_LAYER))
def test_the_middle_layer_stays_below_projections_and_the_engine(layer: str) -> None:
    allowed = LOWER_LAYER[layer]
    bad = {m: sorted(n for n in _ours(names) if n != "chargen_es" and not _is(n, layer)
                     and not any(_is(n, a) for a in allowed))
           for m, names in MODULES.items() if _is(m, layer)}
    assert not {m: n for m, n in bad.items() if n}, f"{layer} may import only {allowed}"


IO_MODULES = {"os", "io", "shutil", "tempfile", "pathlib", "fcntl", "chargen_es.fsio"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _is(m, "projections")))
def test_projections_do_no_io(module: str) -> None:
    """Pure folds and rendering only: the file system is ``chargen_es.fsio``'s, and the
    engine must not get its fsync from here."""
    bad = sorted(n for n in MODULES[module] if any(_is(n, io) for io in IO_MODULES))
    assert not bad, f"{module} imports {bad}"


def test_the_engine_knows_no_planner_emulator_or_cli() -> None:
    bad = {m: sorted(n for n in names if any(_is(n, p) for p in ("chargen_es.planner", "chargen_es.emulator",
                                                                   "chargen_es.cli")))
           for m, names in MODULES.items() if _is(m, "chargen_es.engine")}
    assert not {m: n for m, n in bad.items() if n}


def test_the_cli_imports_only_the_engines_public_surface() -> None:
    bad = {m: sorted(n for n in names if _is(n, "chargen_es.engine") and n.count(".") > 1
                     and n.rsplit(".", 1)[0] != "chargen_es.engine")
           for m, names in MODULES.items() if _is(m, "chargen_es.cli")}
    assert not {m: n for m, n in bad.items() if n}, "the cli imports chargen_es.engine, never its submodules"


def test_the_engines_public_surface_resolves() -> None:
    import chargen_es.engine as engine

    for name in engine.__all__:
        assert getattr(engine, name) is not None, name


# Inside the engine, imports go down this table: a module may import the engine modules
# listed for it (and what they import), never one above it.
ENGINE = {
    "chargen_es.engine": ("*",),  # the public surface, loaded lazily
    "chargen_es.engine.crashpoints": (),
    "chargen_es.engine.progress": (),
    "chargen_es.engine.retry": (),
    "chargen_es.engine.options": ("retry",),
    "chargen_es.engine.decide": (),
    "chargen_es.engine.pauses": (),
    "chargen_es.engine.durable": ("crashpoints",),
    "chargen_es.engine.results": (),
    "chargen_es.engine.recorder": ("crashpoints",),
    "chargen_es.engine.preflight": ("recorder",),
    "chargen_es.engine.staging": (),
    "chargen_es.engine.outputs": ("crashpoints", "durable", "results"),
    "chargen_es.engine.uploads": ("crashpoints", "options", "progress", "recorder", "retry", "staging"),
    "chargen_es.engine.jobs": ("crashpoints", "options", "progress", "recorder", "retry", "staging", "uploads"),
    "chargen_es.engine.claims": (),
    "chargen_es.engine.collect": ("claims", "crashpoints", "decide", "options", "outputs", "progress", "recorder",
                                  "results", "staging", "uploads"),
    "chargen_es.engine.cleanup": ("recorder",),
    "chargen_es.engine.live": ("claims", "crashpoints", "options", "outputs", "pauses", "preflight", "progress",
                               "recorder", "results", "staging", "uploads"),
    "chargen_es.engine.fallback": ("claims", "collect", "crashpoints", "jobs", "live", "options", "preflight",
                                   "progress", "recorder", "uploads"),
    "chargen_es.engine.preview": ("claims", "live", "options", "preflight", "progress", "recorder", "uploads"),
    "chargen_es.engine.batch": ("cleanup", "collect", "decide", "fallback", "jobs", "options", "pauses",
                                "preflight", "preview", "progress", "recorder", "uploads"),
    "chargen_es.engine.tombstones": ("crashpoints",),
    "chargen_es.engine.workspace": ("crashpoints", "tombstones"),
    "chargen_es.engine.deletion": ("crashpoints", "tombstones", "workspace"),
    "chargen_es.engine.review": ("crashpoints",),
    "chargen_es.engine.prune": ("crashpoints", "workspace"),
    "chargen_es.engine.keyclaims": ("workspace",),
    "chargen_es.engine.runs": ("batch", "crashpoints", "fallback", "live", "options", "pauses", "progress",
                               "recorder", "workspace"),
}


def test_every_engine_module_has_a_row() -> None:
    assert {m for m in MODULES if _is(m, "chargen_es.engine")} == set(ENGINE)


@pytest.mark.parametrize("module", sorted(ENGINE))
def test_engine_modules_import_down_the_table(module: str) -> None:
    allowed = ENGINE[module]
    if allowed == ("*",):
        return
    used = {n.split(".")[2] for n in MODULES[module] if _is(n, "chargen_es.engine") and n.count(".") >= 2}
    used.discard(module.rsplit(".", 1)[1])
    assert used <= set(allowed), f"{module} imports {sorted(used - set(allowed))} of the engine"


def test_the_dashboard_sits_at_the_cli_level() -> None:
    """It reads journals, projections and the engine's run folders; only the cli imports it."""
    importers = sorted(m for m, names in MODULES.items()
                       if not _is(m, "chargen_es.dashboard") and not _is(m, "chargen_es.cli")
                       and any(_is(n, "chargen_es.dashboard") for n in names))
    assert not importers, f"only chargen_es.cli may import chargen_es.dashboard: {importers}"
    bad = {m: sorted(n for n in names if any(_is(n, p) for p in ("chargen_es.cli", "chargen_es.planner",
                                                                   "chargen_es.gateway", "chargen_es.emulator")))
           for m, names in MODULES.items() if _is(m, "chargen_es.dashboard")}
    assert not {m: n for m, n in bad.items() if n}


ENGINE_MAY_IMPORT = ("chargen_es.events", "chargen_es.errors", "chargen_es.journal", "chargen_es.imagery",
                     "chargen_es.gateway", "chargen_es.catalogue", "chargen_es.analysis", "chargen_es.statedir",
                     "projections", "chargen_es.fsio", "chargen_es.run_folders", "chargen_es.engine")


def test_the_engine_imports_only_the_layers_below_it() -> None:
    bad = {m: sorted(n for n in _ours(names) if n != "chargen_es" and n != "chargen_es.__version__"
                     and not any(_is(n, a) for a in ENGINE_MAY_IMPORT))
           for m, names in MODULES.items() if _is(m, "chargen_es.engine")}
    assert not {m: n for m, n in bad.items() if n}, f"the engine may import only {ENGINE_MAY_IMPORT}"
