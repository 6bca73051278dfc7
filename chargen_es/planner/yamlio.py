"""YAML loading that remembers where things were, for ``file:line`` messages.

Pre-flight validation must name the line of a broken scene, so plain ``safe_load`` is
not enough. A full position-tracking loader (ruamel-style) would cost several times the
parse, and the planning budget is 1.5x a bare ``yaml.CSafeLoader`` parse. So the one
change here is in collection construction: every mapping becomes a :class:`LineDict`, a
``dict`` carrying the 1-based line where it starts and the line of each of its keys, and
every sequence a :class:`LineList` with the line of each item. The C parser still does
all the scanning; the extra cost is one attribute store per collection and per key.
"""

from __future__ import annotations

from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows its own line and the line of each key."""

    __slots__ = ("line", "key_lines")

    def __init__(self) -> None:
        super().__init__()
        self.line = 0
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: str) -> int:
        """Line of ``key`` if present, else the line the mapping starts on."""
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML that knows its own line and the line of each item."""

    __slots__ = ("line", "item_lines")

    def __init__(self) -> None:
        super().__init__()
        self.line = 0
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        """Line of item ``index``, else the line the sequence starts on."""
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """``CSafeLoader`` (when libyaml is there) whose mappings are :class:`LineDict`."""


def _construct_map(loader: Any, node: yaml.MappingNode) -> Any:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    construct = loader.construct_object
    lines = data.key_lines
    for key_node, value_node in node.value:
        key = construct(key_node)
        try:
            data[key] = construct(value_node)
        except TypeError as exc:  # unhashable key such as a list
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found unhashable key ({exc})",
                key_node.start_mark,
            ) from None
        lines[key] = key_node.start_mark.line + 1


def _construct_seq(loader: Any, node: yaml.SequenceNode) -> Any:
    data = LineList()
    data.line = node.start_mark.line + 1
    yield data
    construct = loader.construct_object
    data.extend([construct(child) for child in node.value])
    data.item_lines = [child.start_mark.line + 1 for child in node.value]


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load(text: str) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with a mark) on bad syntax."""
    loader = LineLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def error_line(exc: yaml.YAMLError) -> int | None:
    """The 1-based line a YAML error points at, if it has one."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def error_text(exc: yaml.YAMLError) -> str:
    """One line describing a YAML error, without the multi-line snippet PyYAML adds."""
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return f"invalid YAML: {str(exc).splitlines()[0]}"
