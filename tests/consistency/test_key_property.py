"""Keys change exactly when a referenced analysis changes (random trees, random edits).

A tree of a few characters, each with reference images and one picture in ``images/``,
some kept consistent with their references (the default), some with their picture
(``from``), some with nothing (``none``); some images already have analyses. One edit
then writes, rewrites (same or other bytes) or deletes one image's analysis. A scene's
key must change if and only if the edited image is one of its entity's sources and the
analysis bytes really changed; nothing else may move.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.consistency.helpers import analysis, analysis_bytes, keys_by_scene, put_analysis
from tests.planner.helpers import png, write
from tests.shared import examples

SLUGS = ("ada", "bram", "cyra")
MODES = ("references", "picture", "none")
WORD = st.text(alphabet="abcdefghij", min_size=1, max_size=4)


def build(root: Path, modes: list[str], nrefs: list[int]) -> dict[str, list[str]]:
    """Write the tree; returns each entity's source images (entity-relative)."""
    sources = {}
    for slug, mode, n in zip(SLUGS, modes, nrefs, strict=False):
        refs = [f"refs/r{i}.png" for i in range(n)]
        block = {"references": "", "picture": "consistency:\n  from: [images/pic.png]\n",
                 "none": "consistency: none\n"}[mode]
        write(root, f"characters/{slug}/character.yaml",
              f"name: {slug}\ndescription: The {slug}.\nreferences:\n" + "".join(f"  - {r}\n" for r in refs) + block)
        for r in refs:
            write(root, f"characters/{slug}/{r}", png(f"{slug}/{r}"))
        write(root, f"characters/{slug}/images/pic.png", png(f"{slug}/pic"))
        write(root, f"characters/{slug}/image_ideas.yaml",
              "scenes:\n  - id: one\n    prompt: First.\n  - id: two\n    prompt: Second.\n")
        sources[f"characters/{slug}"] = {"references": refs, "picture": ["images/pic.png"], "none": []}[mode]
    return sources


tree_shape = st.tuples(
    st.lists(st.sampled_from(MODES), min_size=1, max_size=3),
    st.lists(st.integers(1, 2), min_size=3, max_size=3),
)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=tree_shape, before=st.dictionaries(st.tuples(st.integers(0, 2), st.sampled_from(
    ["refs/r0.png", "refs/r1.png", "images/pic.png"])), WORD, max_size=4),
    target=st.tuples(st.integers(0, 2), st.sampled_from(["refs/r0.png", "refs/r1.png", "images/pic.png"])),
    edit=st.one_of(st.none(), WORD), recorded=st.booleans())
def test_keys_change_exactly_when_a_referenced_analysis_changes(shape, before, target, edit, recorded):
    modes, nrefs = shape
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = build(root, modes, nrefs)
        entities = list(sources)

        def exists(index: int, image: str) -> bool:
            return index < len(entities) and (root / entities[index] / image).exists()

        for (index, image), seed in sorted(before.items()):
            if exists(index, image):
                put_analysis(root, entities[index], image, analysis(seed), record=recorded)
        old = keys_by_scene(root)

        index, image = target
        if not exists(index, image):
            index, image = 0, "images/pic.png"
        entity = entities[index]
        path = root / entity / f"{image}.analysis.json"
        old_bytes = path.read_bytes() if path.exists() else None
        if edit is None:
            if path.exists():
                path.unlink()
        else:
            put_analysis(root, entity, image, analysis(edit), record=recorded)
        new_bytes = path.read_bytes() if path.exists() else None
        new = keys_by_scene(root)

        assert set(new) == set(old)
        referenced = image in sources[entity]
        really_changed = old_bytes != new_bytes
        for (owner, scene), key in old.items():
            moved = new[(owner, scene)] != key
            expected = owner == entity and referenced and really_changed
            assert moved == expected, (owner, scene, image, sources[entity], old_bytes, new_bytes)
        assert new_bytes is None or new_bytes == analysis_bytes(analysis(edit))
