"""Forward chaining: rules match facts, assert derived facts and conclude causes, up to a fixpoint.

Rules run in the order :func:`~nnunet_doctor.engine.loader.stratify` gives them, so a rule always sees
every derived fact it reads; each round re-evaluates the agenda until no rule asserts anything new (with
stratified rules that is the second round). Guarantees:

- determinism: same facts and rules, same firings in the same order;
- refraction: a rule fires once per distinct set of matching facts (per item for ``for:`` rules);
- termination: cycles through derived facts are rejected at load time, and ``max_rounds`` bounds the
  loop anyway (reported as a finding if ever reached);
- isolation: a rule whose condition or fix template fails becomes a :class:`RuleFailure`, never a crash.
"""
from __future__ import annotations

from typing import Any, Mapping

from msgspec import Struct, field

from .evaluation import UNKNOWN, ConditionError, Evaluation, evaluate
from .facts import Fact, FactBase, Provenance, Record
from .sources import Source
from .pack import RulePack
from .rules import VERSIONED_PACKAGES, Rule
from .versions import VersionError


class Firing(Struct):
    """A rule whose condition held, with what it matched."""

    rule: Rule
    bindings: Mapping[str, Record]
    evaluation: Evaluation
    fix: str
    asserted: list[Fact] = field(default_factory=list)

    @property
    def certainty(self) -> float:
        return self.rule.certainty


class Pending(Struct):
    """A rule that could neither fire nor be ruled out: its condition was unknown."""

    rule: Rule
    bindings: Mapping[str, Record]
    unknowns: frozenset[str]


class RuleFailure(Struct):
    rule: Rule
    message: str


class ChainResult(Struct):
    firings: list[Firing]
    pending: list[Pending]
    failures: list[RuleFailure]
    rounds: int
    facts: FactBase


def applies(rule: Rule, facts: FactBase) -> bool:
    """False only when a known version lies outside the rule's ``applies_to`` range."""
    for package, version_range in rule.applies_to.items():
        fact = facts.get(VERSIONED_PACKAGES[package])
        if fact is None or not fact.known or not fact.value:
            continue
        try:
            if not version_range.contains(str(fact.value)):
                return False
        except VersionError:
            continue
    return True


def _bindings(rule: Rule, facts: FactBase) -> list[tuple[Any, dict[str, Record]]]:
    if rule.for_var is None or rule.for_collection is None:
        return [((), {})]
    fact = facts.get(rule.for_collection.name)
    if fact is None or not fact.known:
        return [(("?",), {})]  # the collection is unknown: evaluated once, without the variable
    return [((index,), {rule.for_var: record}) for index, record in enumerate(fact.value)]


def _refraction_key(rule: Rule, binding_key: tuple[Any, ...], evaluation: Evaluation) -> tuple[Any, ...]:
    used = tuple(sorted((name, id(fact)) for name, fact in evaluation.facts_used.items()))
    return (rule.id, binding_key, used)


def _render_fix(rule: Rule, facts: FactBase, bindings: Mapping[str, Any]) -> str:
    """The rule's fix for these facts. Jinja (behind :mod:`.fix_templates`) is imported only once a rule with a fix
    fires: a log that no rule explains never pays for it."""
    if not rule.fix:
        return ""
    from .fix_templates import render_fix

    return render_fix(rule.fix, facts, bindings)


def run(pack: RulePack, facts: FactBase, max_rounds: int = 8) -> ChainResult:
    """Run the rules of ``pack`` on ``facts`` (which receives the derived facts) to a fixpoint."""
    fired: set[tuple[Any, ...]] = set()
    firings: list[Firing] = []
    failures: list[RuleFailure] = []
    failed: set[str] = set()
    pending: dict[tuple[Any, ...], Pending] = {}
    rounds = 0
    while rounds < max_rounds:
        rounds += 1
        changed = False
        for rule in pack.rules:
            if rule.id in failed or not applies(rule, facts):
                continue
            for binding_key, bindings in _bindings(rule, facts):
                if binding_key == ("?",):
                    pending[(rule.id, binding_key)] = Pending(rule, {}, frozenset({rule.for_collection.name}))  # type: ignore[union-attr]
                    continue
                try:
                    evaluation = evaluate(rule.when, facts, bindings)
                except Exception as exc:  # a rule must never take the diagnosis down
                    detail = str(exc) if isinstance(exc, ConditionError) else f"{type(exc).__name__}: {exc}"
                    failures.append(RuleFailure(rule, f"condition failed: {detail}"))
                    failed.add(rule.id)
                    break
                if evaluation.value is UNKNOWN:
                    pending[(rule.id, binding_key)] = Pending(rule, bindings, evaluation.unknowns)
                    continue
                pending.pop((rule.id, binding_key), None)
                if evaluation.value is not True:
                    continue
                key = _refraction_key(rule, binding_key, evaluation)
                if key in fired:
                    continue
                fired.add(key)
                try:
                    asserted = _assert_derived(rule, facts, pack)
                    fix = _render_fix(rule, facts, bindings)
                except Exception as exc:  # the fix template or a derived fact failed
                    failures.append(RuleFailure(rule, f"{type(exc).__name__}: {exc}"))
                    failed.add(rule.id)
                    break
                changed = changed or bool(asserted)
                firings.append(Firing(rule, bindings, evaluation, fix, asserted))
        if not changed:
            break
    else:
        if pack.rules:
            failures.append(RuleFailure(pack.rules[-1], f"no fixpoint after {max_rounds} rounds; stopped"))
    return ChainResult(firings, list(pending.values()), failures, rounds, facts)


def _assert_derived(rule: Rule, facts: FactBase, pack: RulePack) -> list[Fact]:
    asserted: list[Fact] = []
    for derived in rule.then:
        result = evaluate(derived.expression, facts, trace=False, as_truth=False)
        if result.value is UNKNOWN:
            continue
        error = pack.vocabulary.check_value(derived.name, result.value)
        if error:
            raise ConditionError(f"derived fact: {error}")
        previous = facts.get(derived.name)
        if previous is not None and previous.known and previous.value == result.value:
            continue
        fact = Fact(derived.name, result.value, Provenance(Source.rule(rule.id), detail="derived"))
        facts.add(fact)
        asserted.append(fact)
    return asserted
