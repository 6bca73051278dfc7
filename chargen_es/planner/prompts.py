"""The prompt compiler: same inputs, same bytes.

The compiled prompt is hashed into the task key, so it must not depend on anything but
the content: no dict order, no platform line endings, no trailing spaces. The order is
documented and part of the contract (changing it changes every key):

1. the workspace ``style`` from ``chargen.yaml``;
2. the entity's own ``style``;
3. ``Subject: <name>.`` followed by the entity's ``description``;
4. ``Keep consistent with: <field>: <values>; ...`` from the entity's analysed
   consistency sources (see :func:`consistency_clause` and docs/consistency.md);
5. ``Scene: <scene prompt>``; for a batch file's derive item ``Derive from the attached
   image: <instruction>``, for a compose item ``Compose one image from the N attached
   images: <prompt>`` (:func:`item_lead`; the emulator checks a request with such a line
   carries that many images);
6. ``Avoid: <negative_prompt>``;
7. ``Unlike the rejected takes: <note>; <note>.`` once every take of a scene was rejected
   (the review's notes, :func:`review_clause`; docs/run-format.md, "The creative loop").

Parts are separated by one blank line; empty parts are left out. Inside a part, line
endings become ``\\n`` and each line loses its trailing whitespace. The scene ``title`` is
for people and is not part of the prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chargen_es.analysis import DEFAULT_PROMPT as DEFAULT_ANALYSIS_PROMPT
from chargen_es.analysis import FIELDS as ANALYSIS_FIELDS

CONSISTENCY_LEAD = "Keep consistent with: "
MAX_CONSISTENCY_ITEMS = 8  # per field, after merging sources: a prompt, not an inventory


def clean(text: str | None) -> str:
    """Normalise one part: ``\\n`` line endings, no trailing spaces, trimmed."""
    if not text:
        return ""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if " \n" in text or "\t\n" in text:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return text.strip()


def compile_prompt(
    *,
    style: str,
    entity_style: str,
    name: str,
    description: str,
    prompt: str,
    negative_prompt: str,
) -> str:
    """The generation prompt for one scene, in the order the module docstring gives."""
    return compile_scene(entity_prefix(style, entity_style, name, description), prompt, negative_prompt)


def entity_prefix(style: str, entity_style: str, name: str, description: str) -> str:
    """Parts 1-3, shared by every scene of an entity (computed once per entity)."""
    parts = [clean(style), clean(entity_style)]
    subject = clean(name)
    desc = clean(description)
    if subject:
        parts.append(f"Subject: {subject}. {desc}".rstrip())
    else:
        parts.append(desc)
    return "\n\n".join(p for p in parts if p)


def consistency_clause(values: Mapping[str, Sequence[str]]) -> str:
    """Part 4: ``Keep consistent with: traits: a, b; palette: c, d.`` ('' when empty).

    Fields come in the analysis schema's order (archetype, traits, palette, mood,
    style) whatever order the user listed them in; values in the order given (sources
    in their listed order, each source's items in its own order), each value's white
    space collapsed, repeats (ignoring case) dropped, at most
    :data:`MAX_CONSISTENCY_ITEMS` per field. Changing this format changes prompts, so
    it bumps ``consistency.CONSISTENCY_VERSION``.
    """
    parts = []
    for name in ANALYSIS_FIELDS:
        kept = distinct(values.get(name, ()), " ;,.")
        if kept:
            parts.append(f"{name}: {', '.join(kept[:MAX_CONSISTENCY_ITEMS])}")
    return f"{CONSISTENCY_LEAD}{'; '.join(parts)}." if parts else ""


def distinct(values: Sequence[object], strip: str) -> list[str]:
    """``values`` as clause items: white space collapsed, ``strip`` trimmed from the ends,
    empties and repeats (ignoring case) dropped, in the order given."""
    seen: set[str] = set()
    kept: list[str] = []
    for raw in values:
        text = " ".join(str(raw).split()).strip(strip)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            kept.append(text)
    return kept


def with_part(prompt: str, clause: str) -> str:
    """A compiled prompt (or an entity's prefix) with one more part appended: part 4, the
    consistency clause, or part 7, the rejected takes' notes."""
    if not clause:
        return prompt
    return f"{prompt}\n\n{clause}" if prompt else clause


def consistency_of(prompt: str) -> str:
    """The consistency part of a compiled prompt, without its lead ('' when it has none)."""
    start = prompt.find("\n\n" + CONSISTENCY_LEAD)
    if start < 0:
        if not prompt.startswith(CONSISTENCY_LEAD):
            return ""
        start = -2
    text = prompt[start + 2 + len(CONSISTENCY_LEAD):]
    end = text.find("\n\n")
    return text if end < 0 else text[:end]


SCENE_LEAD = "Scene: "
DERIVE_LEAD = "Derive from the attached image: "


def item_lead(item_type: str, references: int) -> str:
    """The lead of part 5 for a batch item of ``item_type`` (generate, derive or compose)."""
    if item_type == "derive":
        return DERIVE_LEAD
    if item_type == "compose":
        return f"Compose one image from the {references} attached images: "
    return SCENE_LEAD


def compile_scene(prefix: str, prompt: str, negative_prompt: str, lead: str = SCENE_LEAD) -> str:
    """Parts 5-6 appended to an entity's prefix (which may carry part 4)."""
    parts = [prefix] if prefix else []
    body = clean(prompt)
    if body:
        parts.append(f"{lead}{body}")
    avoid = clean(negative_prompt)
    if avoid:
        parts.append(f"Avoid: {avoid}")
    return "\n\n".join(parts)


REVIEW_LEAD = "Unlike the rejected takes: "


def review_clause(notes: Sequence[str]) -> str:
    """Part 7: the notes of the rejected takes as one clause ('' when there are none);
    white space collapsed, repeats (ignoring case) dropped, in the order given."""
    kept = distinct(notes, " ;.")
    return f"{REVIEW_LEAD}{'; '.join(kept)}." if kept else ""


def review_of(prompt: str) -> str:
    """The review part of a compiled prompt (the rejected takes' notes), without its lead."""
    start = prompt.rfind("\n\n" + REVIEW_LEAD)
    if start < 0:
        return prompt[len(REVIEW_LEAD):] if prompt.startswith(REVIEW_LEAD) else ""
    return prompt[start + 2 + len(REVIEW_LEAD):]


def compile_analysis_prompt(analysis_prompt: str) -> str:
    """The analysis prompt: the workspace's ``analysis.prompt`` (or the default), cleaned.

    The entity's description is left out on purpose: editing a description should not
    make every existing image count as un-analysed.
    """
    return clean(analysis_prompt) or DEFAULT_ANALYSIS_PROMPT


def summary(prompt: str, width: int = 72) -> str:
    """A one-line preview of a prompt for the dry-run listing: the scene part first."""
    found = [(prompt.rfind(lead), lead) for lead in (SCENE_LEAD, DERIVE_LEAD, " attached images: ")]
    marker, lead = max(found)
    text = prompt[marker + len(lead) :] if marker >= 0 else prompt
    cut = text.find("\n\nAvoid: ")
    if cut >= 0:
        text = text[:cut]
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
