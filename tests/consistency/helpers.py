"""Content trees with analyses on disk, for the consistency tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from chargen_es.planner import PlanOptions, build_plan
from tests.planner.helpers import STAMP, write
from tests.shared import read_yaml


def analysis(seed: str, **overrides: Any) -> dict[str, Any]:
    """A valid analysis whose values depend on ``seed``."""
    doc: dict[str, Any] = {"archetype": f"{seed} archetype", "traits": [f"{seed} trait one", f"{seed} trait two"],
                           "palette": [f"{seed} teal", f"{seed} amber"], "mood": f"{seed} mood",
                           "style": f"{seed} style"}
    doc.update(overrides)
    return doc


def analysis_bytes(doc: Any) -> bytes:
    """The bytes the engine writes for an analysis (sorted keys, indent 2, newline)."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def put_analysis(root: Path, entity: str, image: str, doc: Any, *, record: bool = True) -> str:
    """Write ``<image>.analysis.json`` and, with ``record``, the imagery.yaml entry the engine
    would write (image SHA-256 and analysis SHA-256 included). Returns the analysis SHA-256."""
    data = analysis_bytes(doc)
    write(root, f"{entity}/{image}.analysis.json", data)
    if record:
        image_sha = hashlib.sha256((root / entity / image).read_bytes()).hexdigest()
        path = root / entity / "imagery.yaml"
        current = read_yaml(path.read_text()) if path.exists() else None
        current = current or {}
        entries = current.setdefault("analyses", [])
        key = f"{entity}/analyze:{Path(image).stem}@sha256:{image_sha[:16]}"
        entries[:] = [e for e in entries if e.get("task_key") != key]
        entries.append({"task_key": key, "image": image, "analysis_path": f"{image}.analysis.json",
                        "model": "gemini-2.5-flash", "run_id": "r1", "sha256": hashlib.sha256(data).hexdigest(),
                        "image_sha256": image_sha})
        path.write_text(yaml.safe_dump(current, sort_keys=False), encoding="utf-8")
    return hashlib.sha256(data).hexdigest()


def plan(root: Path, **kw: Any) -> Any:
    return build_plan(PlanOptions(root=root, run_stamp=STAMP, **kw))


def keys_by_scene(root: Path) -> dict[tuple[str, str], str]:
    """(entity, scene) -> task key of every planned generation task."""
    return {(f"{t.entity_type}/{t.slug}", t.scene): t.key for t in plan(root).tasks}
