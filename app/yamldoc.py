"""YAML files people write by hand (the directory), read once, fast and safely.

- Parsed once, by libyaml (PyYAML's C loader) where it is installed: a 10,000-contact file in
  well under a second, not twice with the pure-Python loader.
- Scalars are the text that was written: `id: 0012` is "0012", `country: NO` is "NO" (YAML 1.1's
  false), `language: no` is "no". Only `true`/`false` (YAML 1.2's booleans) are booleans and
  `~`, `null` or nothing are None; a number is its digits, for the reader to check.
- Aliases are bounded: an alias to its own ancestor, or anchors that expand the document to many
  times its written size (a "billion laughs" bomb), are refused in one line instead of taking
  minutes and gigabytes. An alias is read once and shared; merge keys (`<<: *base`) work.
- Every path ("partners[0].contacts[1].phone") has its line, so a problem can name it.
"""
from __future__ import annotations

from typing import Any

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
EXPANSION_LIMIT = 10      # a document may expand by aliases to this many times its nodes...
EXPANSION_ALLOWANCE = 10_000  # ...plus this many
TRUE, FALSE = frozenset({"true", "True", "TRUE"}), frozenset({"false", "False", "FALSE"})
NULL = frozenset({"", "~", "null", "Null", "NULL"})
MERGE = "tag:yaml.org,2002:merge"


class YamlProblem(ValueError):
    """The text is not YAML this reader takes; `line` is where (0: the whole file)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def load(text: str) -> tuple[Any, dict[str, int]]:
    """The document in `text` as plain data, and the line of each path in it."""
    try:
        root = yaml.compose(text, Loader=LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlProblem(mark.line + 1 if mark else 0, f"is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        return None, {}
    reader = _Reader()
    size = reader.size(root, frozenset())
    if size > EXPANSION_LIMIT * len(reader.sizes) + EXPANSION_ALLOWANCE:
        raise YamlProblem(root.start_mark.line + 1, f"its aliases expand it to {size:,} values from "
                                                    f"{len(reader.sizes):,} written: refused (an alias bomb?)")
    return reader.value(root, ""), reader.lines


class _Reader:
    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}     # node -> values it stands for, aliases expanded
        self.values: dict[int, Any] = {}    # node -> its data, built once however often aliased
        self.lines: dict[str, int] = {}

    def size(self, node: yaml.Node, above: frozenset[int]) -> int:
        """How many values `node` stands for; refuses an alias to one of its own ancestors."""
        known = self.sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in above:
            raise YamlProblem(node.start_mark.line + 1, "an alias refers to a value that contains it (recursive)")
        above = above | {id(node)}
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(self.size(key, above) + self.size(value, above) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(self.size(item, above) for item in node.value)
        else:
            total = 1
        self.sizes[id(node)] = total
        return total

    def value(self, node: yaml.Node, path: str) -> Any:
        if id(node) in self.values:
            return self.values[id(node)]  # an alias: shared, its lines are its anchor's
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            value: Any = _scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = [self.value(item, f"{path}[{n}]") for n, item in enumerate(node.value)]
        else:
            value = {}
            merged: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == MERGE:
                    for base in (value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]):
                        found = self.value(base, path)
                        if isinstance(found, dict):
                            merged = {**found, **merged}
                    continue
                key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark.line)
                child = f"{path}.{key}" if path else str(key)
                value[key] = self.value(value_node, child)
                self.lines[child] = key_node.start_mark.line + 1
            value = {**merged, **value}
        self.values[id(node)] = value
        return value


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.style:  # quoted, literal or folded: always text
        return node.value
    if node.value in TRUE:
        return True
    if node.value in FALSE:
        return False
    if node.value in NULL:
        return None
    return node.value
