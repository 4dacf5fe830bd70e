"""Lint for a loaded rule pack: small named checks, each with a severity, switchable one by one.

The loader refuses what cannot run (syntax, unknown facts, bad types): those are errors and the pack does not load.
The validators here look at a pack that loads and say what a reviewer would say: a signature nothing reads, a fix
that speaks only bash, a rule that states what the catalog already says. Each is a :class:`Validator` subclass
with a ``name`` (to switch it off: ``diagnose rules check --skip NAME``) and a ``severity``; ``check_rule`` looks
at one rule, ``finalize`` at the whole pack (the shape of pySigma's validators).

>>> sorted(VALIDATORS)[:3]
['bare_export', 'cause_not_id_prefix', 'dataset_id_expression']
"""
from __future__ import annotations

import re
from typing import ClassVar, Iterable

from msgspec import Struct

from .errors import Location
from .pack import RulePack
from .rules import DEFAULT_STATUS, Rule

ISSUE_SEVERITIES = ("error", "warning", "info")
#: a condition longer than this reads better as named parts (``where:``)
MAX_CONDITION_LENGTH = 400


class Issue(Struct, frozen=True):
    """One finding of a validator, at a place in a rule file."""

    validator: str
    severity: str
    location: Location | None
    message: str

    def format(self) -> str:
        return f"{self.location or '?'}: {self.severity}: {self.message} [{self.validator}]"

    def as_dict(self) -> dict[str, object]:
        where = self.location
        return {"validator": self.validator, "severity": self.severity, "message": self.message,
                "file": where.path if where else None, "line": where.line if where else None,
                "column": where.column if where else None}


class Validator:
    """A check of the rule pack; subclasses set ``name``, ``severity``, ``description`` and override the hooks."""

    name: ClassVar[str] = ""
    severity: ClassVar[str] = "warning"
    description: ClassVar[str] = ""

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        return ()

    def finalize(self, pack: RulePack) -> Iterable[Issue]:
        return ()

    def issue(self, location: Location | None, message: str) -> Issue:
        return Issue(self.name, self.severity, location, message)


def _where(rule: Rule, key: str) -> Location | None:
    return rule.declared.get(key) or rule.location


class RedundantKey(Validator):
    name = "redundant_key"
    severity = "info"
    description = "a rule states what is inferred anyway: its cause (the id's prefix), its phase, status: stable"

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        if "cause" in rule.declared and rule.cause is not None and rule.cause == rule.inferred_cause:
            yield self.issue(_where(rule, "cause"), f"'cause: {rule.cause}' is the id's prefix; leave it out")
        cause = pack.catalog.get(rule.cause) if rule.cause else None
        if "phase" in rule.declared and cause is not None and rule.stated_phase == cause.phase:
            yield self.issue(_where(rule, "phase"), f"'phase: {cause.phase}' is the catalog's phase of {cause.id}; "
                                                    "leave it out")
        if "status" in rule.declared and rule.status == DEFAULT_STATUS:
            yield self.issue(_where(rule, "status"), f"'status: {DEFAULT_STATUS}' is the default; leave it out")


class CauseDisagrees(Validator):
    name = "cause_not_id_prefix"
    description = "a rule's cause is not the prefix of its id (the id should read <cause>.<what it sees>)"

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        if rule.cause is not None and "cause" in rule.declared and not rule.id.startswith(rule.cause + "."):
            yield self.issue(_where(rule, "cause"), f"rule '{rule.id}' concludes '{rule.cause}': name it "
                                                    f"'{rule.cause}.{rule.id.rsplit('.', 1)[-1]}'")


class WrongPhase(Validator):
    name = "wrong_phase"
    description = "a rule states a phase other than its cause's phase in the catalog (the catalog's wins)"

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        cause = pack.catalog.get(rule.cause) if rule.cause else None
        if cause is not None and rule.stated_phase and rule.stated_phase != cause.phase:
            yield self.issue(_where(rule, "phase"), f"'phase: {rule.stated_phase}' disagrees with the catalog: "
                                                    f"{cause.id} is a {cause.phase} cause (the catalog's phase is used)")


class UnusedSignature(Validator):
    name = "unused_signature"
    description = "a log signature no condition and no fix reads"

    def finalize(self, pack: RulePack) -> Iterable[Issue]:
        read: set[str] = set()
        fixes = " ".join(rule.fix for rule in pack.rules + pack.deprecated)
        for rule in pack.rules + pack.deprecated:
            read |= rule.facts_read
        for signature in pack.signatures:
            if signature.fact_name not in read and not re.search(rf"\b{re.escape(signature.fact_name)}\b", fixes):
                yield self.issue(signature.location, f"signature '{signature.id}' is read by no rule")


class DuplicateAnchor(Validator):
    name = "duplicate_anchor"
    severity = "info"
    description = "an anchor word for word the same as another signature's (one signature could serve both)"

    def finalize(self, pack: RulePack) -> Iterable[Issue]:
        first: dict[str, str] = {}
        for signature in sorted(pack.signatures, key=lambda s: s.location or Location("", 0, 0)):
            for anchor in signature.anchors:
                key = anchor.lower() if signature.ignore_case else anchor
                if key in first and first[key] != signature.id:
                    yield self.issue(signature.location, f"signature '{signature.id}': anchor {anchor!r} is also an "
                                                         f"anchor of '{first[key]}'")
                first.setdefault(key, signature.id)


class BareExport(Validator):
    name = "bare_export"
    description = "a fix sets a variable with bash words only; set_var()/persist_var() speak the user's shell"
    #: ``export NAME=`` or ``setx NAME value`` anywhere in a fix (a step of a list, a parenthesis of prose)
    _EXPORT = re.compile(r"(?:^|[\s(:;])(?:export\s+([A-Za-z_]\w*)=|setx\s+([A-Za-z_]\w*)\s)", re.M)

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        for name in dict.fromkeys(a or b for a, b in self._EXPORT.findall(rule.fix)):
            yield self.issue(_where(rule, "fix"), f"the fix sets {name} in bash only: write "
                                                  f"{{{{ set_var('{name}', value) }}}} (and persist_var to keep it)")


class ShellFilter(Validator):
    name = "explicit_shell"
    severity = "info"
    description = "a fix passes a shell to set_var/persist_var by hand; the macros take the best one (run.shell)"
    _FILTER = re.compile(r"\|\s*(?:set_var|persist_var)\([^)]*\benv\.shell\b|env\.shell\s*\|\s*after_persist")

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        if self._FILTER.search(rule.fix):
            yield self.issue(_where(rule, "fix"), "the fix feeds env.shell to a shell filter, which ignores the shell a "
                                                  "log shows: use set_var(name, value) / persist_var / after_persist()")


class DatasetIdExpression(Validator):
    name = "dataset_id_expression"
    severity = "info"
    description = "a fix spells out the dataset-id placeholder expression; {{ dataset_id() }} says it once"
    _PASTED = re.compile(r"run\.dataset_id\s+if\s+run\.dataset_id\s+is\s+number\s+else\s+'DATASET_ID'")

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        if self._PASTED.search(rule.fix):
            yield self.issue(_where(rule, "fix"), "write {{ dataset_id() }} for the dataset id (a placeholder when unknown)")


class LongCondition(Validator):
    name = "long_condition"
    description = f"a condition over {MAX_CONDITION_LENGTH} characters: name its parts (where:)"

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        for what, text in [("the condition", rule.when_written or rule.when.text),
                           *((f"the part '{name}'", text) for name, text in rule.where.items())]:
            length = len(" ".join(text.split()))
            if length > MAX_CONDITION_LENGTH:
                yield self.issue(_where(rule, "when"), f"{what} is {length} characters long (over "
                                                       f"{MAX_CONDITION_LENGTH}): name its parts under 'where:'")


class Untested(Validator):
    name = "untested"
    description = "a rule without a test where it fires and one where it stays quiet"

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        missing = [kind for kind in ("fire", "quiet") if kind not in {test.expect for test in rule.tests}]
        if missing:
            yield self.issue(rule.location, f"rule '{rule.id}' has no test where it must {' or '.join(missing)}")


class StableWithKnownMisses(Validator):
    name = "stable_with_known_misses"
    severity = "info"
    description = "a stable rule whose tests record known misses (todo)"

    def check_rule(self, rule: Rule, pack: RulePack) -> Iterable[Issue]:
        todo = [test.name for test in rule.tests if test.todo]
        if todo and rule.status == DEFAULT_STATUS:
            yield self.issue(rule.location, f"rule '{rule.id}' is stable but has known misses ({', '.join(todo)}): "
                                            "say status: experimental until they pass")


VALIDATORS: dict[str, type[Validator]] = {cls.name: cls for cls in (
    RedundantKey, CauseDisagrees, WrongPhase, UnusedSignature, DuplicateAnchor, BareExport, ShellFilter,
    DatasetIdExpression, LongCondition, Untested, StableWithKnownMisses)}


def validate(pack: RulePack, skip: Iterable[str] = (), only: Iterable[str] = ()) -> list[Issue]:
    """Run the validators (all, or ``only`` these, minus ``skip``) on a loaded pack; issues sorted by place."""
    unknown = sorted((set(skip) | set(only)) - set(VALIDATORS))
    if unknown:
        raise ValueError(f"unknown validator {', '.join(unknown)} (one of {', '.join(sorted(VALIDATORS))})")
    chosen = [cls() for name, cls in VALIDATORS.items() if name not in set(skip) and (not only or name in set(only))]
    issues: list[Issue] = []
    for rule in pack.rules + pack.deprecated:
        for validator in chosen:
            issues += validator.check_rule(rule, pack)
    for validator in chosen:
        issues += validator.finalize(pack)
    return sorted(issues, key=lambda i: (i.location or Location("", 0, 0), i.validator, i.message))
