"""The root-cause catalog: stable cause ids, grouped by phase, each with a one-line description.

The built-in catalog (``rules/causes.yaml``) is the benchmark's ``causes.yaml``; a site rule file may add
its own ids under a top-level ``causes:`` key (``site.my_cause: "what it means"``).
"""
from __future__ import annotations

from msgspec import Struct, field

from .errors import Location, RuleProblem
from .rules import PHASES
from .yaml_source import LocatedMap, SourceText


class Cause(Struct, frozen=True):
    id: str
    phase: str
    description: str
    origin: str = "builtin"


class CauseCatalog(Struct):
    causes: dict[str, Cause] = field(default_factory=dict)

    def __contains__(self, cause_id: object) -> bool:
        return cause_id in self.causes

    def get(self, cause_id: str) -> Cause | None:
        return self.causes.get(cause_id)

    def ids(self) -> list[str]:
        return sorted(self.causes)

    def add_phase_groups(self, data: LocatedMap, source: SourceText, origin: str) -> list[RuleProblem]:
        """Read ``{phase: {cause_id: description}}`` (the catalog file's shape)."""
        problems: list[RuleProblem] = []
        for phase, group in data.items():
            if phase not in PHASES:
                problems.append(source.problem(data.key_location(phase), f"unknown phase '{phase}' (one of {', '.join(PHASES)})"))
                continue
            if not isinstance(group, LocatedMap):
                problems.append(source.problem(data.value_location(phase), f"phase '{phase}' must map cause ids to descriptions"))
                continue
            for cause_id, description in group.items():
                problems += self.add(cause_id, phase, description, group.key_location(cause_id), source, origin)
        return problems

    def add(self, cause_id: str, phase: str, description: object, location: Location, source: SourceText,
            origin: str) -> list[RuleProblem]:
        if cause_id in self.causes:
            return [source.problem(location, f"cause '{cause_id}' is already in the catalog")]
        if not isinstance(description, str) or not description.strip():
            return [source.problem(location, f"cause '{cause_id}' needs a one-line description")]
        self.causes[cause_id] = Cause(cause_id, phase, description.strip(), origin)
        return []
