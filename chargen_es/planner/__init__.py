"""The planner: a content tree becomes a validated, deterministic plan.

Public surface (the engine and the cli depend on it)::

    from chargen_es.planner import PlanOptions, Plan, build_plan
    plan = build_plan(PlanOptions(root=Path("."), mode="generate", run_stamp="20251219T120000Z"))

Modules: :mod:`.yamlio` (YAML with line numbers), :mod:`.files` (reading, path safety,
hashing), :mod:`.validate` (pre-flight checks), :mod:`.tree` (scanning entities),
:mod:`.prompts` (the prompt compiler), :mod:`.keys` (task keys, safe names),
:mod:`.consistency` (analysed images an entity's prompts keep consistent with),
:mod:`.pricing` (price table, estimate), :mod:`.plan` (putting it together),
:mod:`.batchfile` (a batch file of ad-hoc items instead of a tree). The
planner imports only ``chargen_es.events``, ``chargen_es.errors``, ``chargen_es.imagery``,
``chargen_es.analysis`` and ``chargen_es.catalogue`` of our code.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from chargen_es.planner.plan import Plan, PlanOptions, Skip, build_plan, utc_stamp
from chargen_es.planner.pricing import Estimate, ModelCost
from chargen_es.planner.prompts import consistency_of as prompt_consistency
from chargen_es.planner.prompts import review_of as prompt_review
from chargen_es.planner.prompts import summary as prompt_summary


def sample_tree() -> Path:
    """Where the shipped sample tree lives (a real folder: the package is not zipped)."""
    return Path(str(resources.files("chargen_es") / "sample"))


def sample_batch() -> Path:
    """The folder of the shipped sample batch file (``postcards.yaml`` and its references)."""
    return Path(str(resources.files("chargen_es") / "sample_batch"))


__all__ = [
    "Estimate",
    "ModelCost",
    "Plan",
    "PlanOptions",
    "Skip",
    "build_plan",
    "prompt_consistency",
    "prompt_review",
    "prompt_summary",
    "sample_batch",
    "sample_tree",
    "utc_stamp",
]
