"""The rule model: what a loaded, checked rule is (the YAML format is described in docs/rule-format.md).

A rule concludes a root cause (an id of the cause catalog) when its condition holds, with a base
certainty, and may assert derived facts for other rules. Rules are data: this module holds no logic
beyond small properties.
"""
from __future__ import annotations

from typing import Any, Mapping

from msgspec import Struct, field

from .conditions import Condition, FactRef
from .errors import Location
from .versions import VersionRange

PHASES = ("environment", "data", "training", "inference")
SEVERITIES = ("error", "warning", "info")
STATUSES = ("experimental", "stable", "deprecated")
DEFAULT_STATUS = "stable"
#: the severity of a rule that only derives facts (it concludes no cause, so nobody sees it)
DERIVED_SEVERITY = "info"
# applies_to keys and the version facts they are checked against
VERSIONED_PACKAGES: Mapping[str, str] = {"nnunetv2": "nnunet.version", "torch": "torch.version",
                                         "python": "python.version"}


class RuleTest(Struct, frozen=True):
    """A test shipped with a rule: an input and whether the rule must fire on it."""

    name: str
    expect: str  # "fire" | "quiet"
    log: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    location: Location | None = None
    #: log lines (1-based numbers, or text they contain) that must be among the firing's evidence
    evidence: tuple[int | str, ...] = ()
    #: text the rendered fix must contain
    fix_contains: tuple[str, ...] = ()
    #: a known miss, with why: the test is expected to fail until the rule is improved
    todo: str | None = None


class DerivedFact(Struct, frozen=True):
    name: str
    expression: Condition


class Rule(Struct, frozen=True):
    id: str
    title: str
    cause: str | None
    phase: str
    severity: str
    certainty: float
    status: str
    when: Condition
    fix: str
    references: tuple[str, ...] = ()
    description: str = ""
    for_var: str | None = None
    for_collection: FactRef | None = None
    applies_to: Mapping[str, VersionRange] = field(default_factory=dict)
    then: tuple[DerivedFact, ...] = ()
    tests: tuple[RuleTest, ...] = ()
    signatures: tuple[str, ...] = ()
    origin: str = "builtin"
    location: Location | None = None
    overrides: bool = False
    #: top-level names the fix template uses (``run`` for ``{{ run.dataset_id }}``): derived facts it shows must
    #: be asserted before it renders
    fix_names: frozenset[str] = frozenset()
    #: the keys written in the rule itself (not given by the file's defaults nor inferred), with their place
    declared: Mapping[str, Location] = field(default_factory=dict)
    #: the cause the id names (its longest prefix in the catalog); None for a rule that derives facts
    inferred_cause: str | None = None
    #: the phase the rule (or its file's defaults) states; the rule's phase is its cause's phase in the catalog
    stated_phase: str | None = None
    #: named sub-conditions (``where:``), as written; ``when.text`` has them expanded
    where: Mapping[str, str] = field(default_factory=dict)
    #: the condition as written (with the names of its parts)
    when_written: str = ""

    @property
    def facts_read(self) -> frozenset[str]:
        names = set(self.when.facts_read)
        if self.for_collection is not None:
            names.add(self.for_collection.name)
        for derived in self.then:
            names |= derived.expression.facts_read
        names |= {VERSIONED_PACKAGES[package] for package in self.applies_to}
        return frozenset(names)

    @property
    def facts_written(self) -> frozenset[str]:
        return frozenset(derived.name for derived in self.then)
