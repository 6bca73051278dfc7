"""The prompt compiler: same inputs, same bytes.

The compiled prompt is hashed into the task key, so it must not depend on anything but
the content: no dict order, no platform line endings, no trailing spaces. The order is
documented and part of the contract (changing it changes every key):

1. the workspace ``style`` from ``chargen.yaml``;
2. the entity's own ``style``;
3. ``Subject: <name>.`` followed by the entity's ``description``;
4. ``Scene: <scene prompt>``;
5. ``Avoid: <negative_prompt>``.

Parts are separated by one blank line; empty parts are left out. Inside a part, line
endings become ``\\n`` and each line loses its trailing whitespace. The scene ``title`` is
for people and is not part of the prompt.
"""

from __future__ import annotations

DEFAULT_ANALYSIS_PROMPT = (
    "Analyse this story illustration. Return JSON with: archetype (the character or place "
    "archetype it shows), traits (short visual traits), palette (dominant colours as names "
    "or hex codes), mood (one phrase) and style (the art style)."
)


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


def compile_scene(prefix: str, prompt: str, negative_prompt: str) -> str:
    """Parts 4-5 appended to an entity's prefix."""
    parts = [prefix] if prefix else []
    body = clean(prompt)
    if body:
        parts.append(f"Scene: {body}")
    avoid = clean(negative_prompt)
    if avoid:
        parts.append(f"Avoid: {avoid}")
    return "\n\n".join(parts)


def compile_analysis_prompt(analysis_prompt: str) -> str:
    """The analysis prompt: the workspace's ``analysis.prompt`` (or the default), cleaned.

    The entity's description is left out on purpose: editing a description should not
    make every existing image count as un-analysed.
    """
    return clean(analysis_prompt) or DEFAULT_ANALYSIS_PROMPT


def summary(prompt: str, width: int = 72) -> str:
    """A one-line preview of a prompt for the dry-run listing: the scene part first."""
    marker = prompt.rfind("Scene: ")
    text = prompt[marker + 7 :] if marker >= 0 else prompt
    cut = text.find("\n\nAvoid: ")
    if cut >= 0:
        text = text[:cut]
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
