"""YAML documents that remember where every key and value stood in the file.

Rule and vocabulary files are read with :func:`load_located`; mappings and sequences come back as
:class:`LocatedMap` / :class:`LocatedList`, which behave like ``dict``/``list`` and also record the
:class:`~nnunet_doctor.engine.errors.Location` of their keys and values, so that validation errors point
at ``file:line:col``. Scalars keep their raw span in the file (:class:`ScalarSpan`) so that an error
inside a condition string can be mapped back to its column in the YAML file.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import Struct

from .errors import Location, RuleProblem

if TYPE_CHECKING:  # PyYAML is imported where a file is parsed: a cached rule pack needs none of it
    import yaml


class ScalarSpan(Struct, frozen=True):
    location: Location
    start: int
    end: int
    style: str | None


class SourceText:
    """The text of one file, for quoting offending lines and mapping offsets to positions."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self._lines = text.splitlines()

    def line(self, number: int) -> str:
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""

    def location_of(self, offset: int) -> Location:
        line = self.text.count("\n", 0, offset) + 1
        start = self.text.rfind("\n", 0, offset) + 1
        return Location(self.path, line, offset - start + 1)

    def problem(self, location: Location, message: str) -> RuleProblem:
        return RuleProblem(location, message, self.line(location.line))


class LocatedMap(dict):  # type: ignore[type-arg]
    location: Location
    key_locations: dict[str, Location]
    spans: dict[str, ScalarSpan]

    def key_location(self, key: str) -> Location:
        return self.key_locations.get(key, self.location)

    @classmethod
    def empty(cls, location: Location) -> "LocatedMap":
        out = cls()
        out.location, out.key_locations, out.spans = location, {}, {}
        return out

    def merged_under(self, defaults: "LocatedMap") -> "LocatedMap":
        """This mapping with the keys it lacks taken from ``defaults`` (which keep their own locations)."""
        out = LocatedMap.empty(self.location)
        for source in (defaults, self):
            out.update(source)
            out.key_locations.update(source.key_locations)
            out.spans.update(source.spans)
        for key in defaults.keys() & self.keys():  # a key the rule states wins: so does its span
            if key not in self.spans:
                out.spans.pop(key, None)
        return out

    def value_location(self, key: str) -> Location:
        value = self.get(key)
        if isinstance(value, (LocatedMap, LocatedList)):
            return value.location
        span = self.spans.get(key)
        return span.location if span else self.key_location(key)


class LocatedList(list):  # type: ignore[type-arg]
    location: Location
    spans: list[ScalarSpan | None]

    def item_location(self, index: int) -> Location:
        value = self[index]
        if isinstance(value, (LocatedMap, LocatedList)):
            return value.location
        span = self.spans[index] if index < len(self.spans) else None
        return span.location if span else self.location


def _loc(path: str, mark: Any) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


#: values one rule or vocabulary file may hold once its aliases are expanded (the built-in files hold about 30,000
#: together); a "billion laughs" document of a few hundred bytes would expand to billions
MAX_VALUES = 500_000
#: the largest rule or vocabulary file read
MAX_FILE_BYTES = 4 << 20


class _Builder:
    def __init__(self, source: SourceText):
        self.source = source
        self.problems: list[RuleProblem] = []
        self._left = MAX_VALUES
        import yaml

        self._yaml = yaml
        self._constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node) -> Any:
        path = self.source.path
        yaml = self._yaml
        self._left -= 1
        if self._left < 0:
            if self._left == -1:
                self.problems.append(self.source.problem(_loc(path, node.start_mark), f"the document expands to more "
                                                         f"than {MAX_VALUES} values (aliases of aliases?); not read"))
            return None
        if isinstance(node, yaml.MappingNode):
            out = LocatedMap()
            out.location, out.key_locations, out.spans = _loc(path, node.start_mark), {}, {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                key_location = _loc(path, key_node.start_mark)
                if not isinstance(key, (str, int, float, bool)):
                    self.problems.append(self.source.problem(key_location, "mapping keys must be plain scalars"))
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    self.problems.append(self.source.problem(key_location, f"duplicate key '{key}'"))
                out.key_locations[key] = key_location
                out[key] = self.build(value_node)
                if isinstance(value_node, yaml.ScalarNode):
                    out.spans[key] = self._span(value_node)
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = LocatedList()
            seq.location, seq.spans = _loc(path, node.start_mark), []
            for item in node.value:
                seq.append(self.build(item))
                seq.spans.append(self._span(item) if isinstance(item, yaml.ScalarNode) else None)
            return seq
        return self._scalar(node)

    def _span(self, node: yaml.ScalarNode) -> ScalarSpan:
        return ScalarSpan(_loc(self.source.path, node.start_mark), node.start_mark.index, node.end_mark.index, node.style)

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except self._yaml.YAMLError as exc:
            self.problems.append(self.source.problem(_loc(self.source.path, node.start_mark), f"invalid value: {exc}"))
            return None


def load_located(path: str, text: str) -> tuple[Any, SourceText, list[RuleProblem]]:
    """Parse one YAML document; returns (value, source, problems). A syntax error is a problem, not a raise."""
    import yaml

    source = SourceText(path, text)
    if len(text) > MAX_FILE_BYTES:
        return None, source, [source.problem(Location(path, 1, 1), f"larger than {MAX_FILE_BYTES >> 20} MiB; "
                                             "not read as a rule or vocabulary file")]
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = _loc(path, mark) if mark is not None else Location(path, 1, 1)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.problem and "mapping values are not allowed" in exc.problem:
            message += (" (a condition with ': ', e.g. a quantifier, must be quoted or written as a block: "
                        "when: |)")
        return None, source, [source.problem(location, message)]
    except yaml.YAMLError as exc:
        return None, source, [source.problem(Location(path, 1, 1), f"YAML error: {exc}")]
    except RecursionError:
        return None, source, [source.problem(Location(path, 1, 1), "YAML nested too deeply")]
    if node is None:
        return None, source, []
    builder = _Builder(source)
    try:
        value = builder.build(node)
    except RecursionError:
        return None, source, [source.problem(Location(path, 1, 1), "YAML nested too deeply")]
    return (None if builder._left < 0 else value), source, builder.problems


def map_offset_into_scalar(source: SourceText, span: ScalarSpan, value: str, offset: int) -> Location:
    """Map a character offset inside a scalar's *value* back to its position in the YAML file.

    Works for plain, quoted, literal (``|``) and folded (``>``) scalars by walking the raw text of the
    scalar and the value side by side, matching non-blank characters in order.
    """
    raw = source.text[span.start:span.end]
    raw_pos = 0
    if span.style in ("|", ">"):
        newline = raw.find("\n")
        raw_pos = newline + 1 if newline >= 0 else len(raw)
    elif span.style in ("'", '"'):
        raw_pos = 1
    for char in value[: min(offset, len(value))]:
        if char.isspace():
            continue
        while raw_pos < len(raw) and raw[raw_pos].isspace():
            raw_pos += 1
        escaped = span.style == '"' and raw[raw_pos : raw_pos + 1] == "\\" and char != "\\"
        doubled_quote = span.style == "'" and char == "'"
        raw_pos += 2 if escaped or doubled_quote else 1
    while raw_pos < len(raw) and raw[raw_pos].isspace():
        raw_pos += 1
    return source.location_of(span.start + min(raw_pos, len(raw)))
