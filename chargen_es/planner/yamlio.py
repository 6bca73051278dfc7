"""YAML loading that remembers where things were, for ``file:line`` messages.

Pre-flight validation must name the line of a broken scene, so plain ``safe_load`` is
not enough. A full position-tracking loader would cost several times the parse, and the
planning budget is 1.5x a bare ``yaml.CSafeLoader`` parse. So the C parser still does
all the scanning and composing, and only construction changes: every mapping becomes a
:class:`LineDict` and every sequence a :class:`LineList`, which keep the YAML node they
came from. Lines are read off that node only when a message needs one, so the common,
valid case pays one attribute store per collection. A lean resolver and a direct
one-pass builder (:class:`_Builder`) more than pay for it: loading ends up faster than
a bare ``yaml.load(..., CSafeLoader)``.

Validation consumes a document right after loading it, so the nodes die with the
document; nothing here is meant to be kept for the whole plan.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
MERGE_TAG = "tag:yaml.org,2002:merge"


class _Located:
    """The YAML node a container was built from, for 1-based line numbers in messages."""

    __slots__ = ()
    node: Any

    @property
    def line(self) -> int:
        """1-based line where the container starts (0 if built by hand)."""
        node = getattr(self, "node", None)
        return node.start_mark.line + 1 if node is not None else 0


class LineDict(_Located, dict[str, Any]):
    """A mapping from YAML that can say on which line it, or one of its keys, is."""

    __slots__ = ("node",)

    def line_of(self, key: Any) -> int:
        """Line of ``key`` if present, else the line the mapping starts on."""
        node = getattr(self, "node", None)
        if node is None:
            return 0
        text = str(key)
        for key_node, _ in reversed(node.value):  # the last one: a repeated key keeps its last value
            if isinstance(key_node, ScalarNode) and key_node.value in (key, text):
                return key_node.start_mark.line + 1
        return self.line


class LineList(_Located, list[Any]):
    """A sequence from YAML that can say on which line it, or one of its items, is."""

    __slots__ = ("node",)

    def line_of(self, index: int) -> int:
        """Line of item ``index``, else the line the sequence starts on."""
        node = getattr(self, "node", None)
        if node is None:
            return 0
        if 0 <= index < len(node.value):
            return node.value[index].start_mark.line + 1
        return self.line


class LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """``CSafeLoader`` (when libyaml is there) with a lean resolver.

    The content tree never uses path resolvers, so ``descend_resolver`` and
    ``ascend_resolver`` are no-ops; implicit resolution of plain scalars is memoised for
    short values (keys and enum-like values repeat across thousands of files).
    """

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                hit = _RESOLVED.get(value)
                if hit is not None:
                    return hit
                tag = STR_TAG
                for candidate, regexp in _RESOLVERS.get(value[:1], _WILDCARD):
                    if regexp.match(value):
                        tag = candidate
                        break
                if len(value) <= 24:
                    if len(_RESOLVED) > 50_000:
                        _RESOLVED.clear()
                    _RESOLVED[value] = tag
                return tag
            return STR_TAG
        return MAP_TAG if kind is MappingNode else SEQ_TAG


_RESOLVED: dict[str, str] = {}
_WILDCARD: list[Any] = list(LineLoader.yaml_implicit_resolvers.get(None, []))
_RESOLVERS: dict[str, list[Any]] = {
    first: list(found) + _WILDCARD for first, found in LineLoader.yaml_implicit_resolvers.items() if first is not None
}


class _Builder:
    """Builds Python values from the composed node graph in one recursive pass.

    PyYAML's own constructor runs every node through a generic dispatch with generator
    bookkeeping; for plain maps, lists and strings (nearly all of a content tree) this
    does the same work directly. Anything else (ints, bools, timestamps, merge keys,
    custom tags) is handed to the loader's constructor, so semantics stay PyYAML's.
    One deliberate difference: a plain scalar like ``16:9`` that YAML 1.1 reads as a
    base-60 integer (969) stays the text ``"16:9"``, because here it is an aspect ratio.
    """

    __slots__ = ("loader", "memo")

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.memo: dict[Any, Any] = {}

    def build(self, node: Any) -> Any:
        cls = node.__class__
        tag = node.tag
        if cls is ScalarNode:
            if tag == STR_TAG:
                return node.value
            if tag == INT_TAG and ":" in node.value:
                return node.value
            return self.loader.construct_object(node, deep=True)
        hit = self.memo.get(node)
        if hit is not None:
            return hit
        if cls is MappingNode and tag == MAP_TAG:
            return self._mapping(node)
        if cls is SequenceNode and tag == SEQ_TAG:
            seq = LineList()
            seq.node = node
            self.memo[node] = seq
            build = self.build
            seq.extend([
                child.value if child.__class__ is ScalarNode and child.tag == STR_TAG else build(child)
                for child in node.value
            ])
            return seq
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: Any) -> LineDict:
        data = LineDict()
        data.node = node
        self.memo[node] = data
        pairs = node.value
        for key_node, _ in pairs:
            if key_node.tag == MERGE_TAG:
                self.loader.flatten_mapping(node)
                pairs = node.value
                break
        build = self.build
        for key_node, value_node in pairs:
            if key_node.__class__ is ScalarNode and key_node.tag == STR_TAG:
                key = key_node.value
            else:
                key = build(key_node)
            if value_node.__class__ is ScalarNode and value_node.tag == STR_TAG:
                value = value_node.value
            else:
                value = build(value_node)
            try:
                data[key] = value
            except TypeError as exc:  # an unhashable key such as a list
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found unhashable key ({exc})",
                    key_node.start_mark,
                ) from None
        return data


def load(text: str | bytes) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with a mark) on bad syntax."""
    loader = LineLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _Builder(loader).build(node)
    finally:
        loader.dispose()


def error_mark(exc: yaml.YAMLError, text: str | bytes | None = None) -> Any:
    """The mark where the problem starts, or None.

    PyYAML gives two marks: ``context_mark`` (what was being read: an open quote, a
    flow sequence) and ``problem_mark`` (where reading failed). An unclosed quote fails
    at the end of the file, a line that does not exist, so: a scanner error starts at
    its context (the token being scanned), and a parser error at its problem, unless
    that is the end of the text (then the construct left open is the problem).
    """
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    if context is None:
        return problem
    if isinstance(exc, yaml.scanner.ScannerError) or problem is None:
        return context
    if text is not None and problem.index >= len(text.rstrip()):
        return context
    return problem


def error_line(exc: yaml.YAMLError, text: str | bytes | None = None) -> int | None:
    """The 1-based line where a YAML error starts, if it has one (:func:`error_mark`)."""
    mark = error_mark(exc, text)
    return mark.line + 1 if mark is not None else None


def error_text(exc: yaml.YAMLError, text: str | bytes | None = None) -> str:
    """One line describing a YAML error, with the column where it starts, without the
    multi-line snippet PyYAML adds."""
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    mark = error_mark(exc, text)
    column = f"column {mark.column + 1}: " if mark is not None else ""
    if problem:
        return f"invalid YAML at {column}{problem}" + (f" ({context})" if context else "")
    return f"invalid YAML: {str(exc).splitlines()[0]}"
