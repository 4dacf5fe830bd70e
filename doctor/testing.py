"""Testing rules: the tests each rule carries as data, and helpers for a site's own test suite.

``diagnose rules test`` runs every rule's ``tests:`` through the whole pipeline (log probe plus given
facts, never this machine's probes) and counts, per rule, true/false positives and negatives.

A site tests its own rule in three lines::

    from nnunet_doctor.testing import assert_fires
    def test_my_rule():
        assert_fires("site.my_rule", log="MyError: boom", rules=["site_rules/"])
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from nnunet_doctor.engine.diagnosis import Diagnosis
from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.engine.rules import Rule, RuleTest

from .pipeline import DiagnosisRequest, run_diagnosis


def diagnose_text(log: str = "", facts: Mapping[str, Any] | None = None, rules: Iterable[str | Path] = (),
                  pack: RulePack | None = None) -> Diagnosis:
    """Diagnose a log given as text plus facts given as values, offline (this machine is not probed)."""
    request = DiagnosisRequest(log_texts={"test.log": log} if log else {}, facts=dict(facts or {}), offline=True,
                               rule_dirs=[Path(r) for r in rules], environ={}, probes={"log"})
    return run_diagnosis(request, pack).diagnosis


def fired_rules(diagnosis: Diagnosis) -> set[str]:
    return {firing.rule.id for firing in diagnosis.chain.firings}


def assert_fires(rule_id: str, log: str = "", facts: Mapping[str, Any] | None = None,
                 rules: Iterable[str | Path] = ()) -> Diagnosis:
    diagnosis = diagnose_text(log, facts, rules)
    fired = fired_rules(diagnosis)
    assert rule_id in fired, f"rule {rule_id} did not fire; fired: {sorted(fired)}"
    return diagnosis


def assert_quiet(rule_id: str, log: str = "", facts: Mapping[str, Any] | None = None,
                 rules: Iterable[str | Path] = ()) -> Diagnosis:
    diagnosis = diagnose_text(log, facts, rules)
    assert rule_id not in fired_rules(diagnosis), f"rule {rule_id} fired but should not have"
    return diagnosis


@dataclass(frozen=True)
class RuleTestOutcome:
    rule: Rule
    test: RuleTest
    fired: bool
    findings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.fired == (self.test.expect == "fire") and not self.findings

    @property
    def kind(self) -> str:
        """tp / fn / fp / tn."""
        if self.test.expect == "fire":
            return "tp" if self.fired else "fn"
        return "fp" if self.fired else "tn"


def run_rule_tests(pack: RulePack, rule_ids: Iterable[str] | None = None) -> list[RuleTestOutcome]:
    wanted = set(rule_ids) if rule_ids is not None else None
    outcomes: list[RuleTestOutcome] = []
    for rule in sorted(pack.rules, key=lambda r: r.id):
        if wanted is not None and rule.id not in wanted:
            continue
        for test in rule.tests:
            diagnosis = diagnose_text(test.log or "", test.facts, pack=pack)
            problems = tuple(f.message for f in diagnosis.findings if f.source in (f"rule {rule.id}", "input"))
            outcomes.append(RuleTestOutcome(rule, test, rule.id in fired_rules(diagnosis), problems))
    return outcomes


HEALTHY_CORPUS = Path("corpus") / "healthy"


@dataclass(frozen=True)
class HealthyOutcome:
    """A successful run of the healthy corpus and the causes diagnosed on it (none may reach medium certainty)."""

    path: Path
    causes: tuple[tuple[str, float, str], ...]  # (cause, certainty, strongest rule)

    @property
    def alarms(self) -> tuple[tuple[str, float, str], ...]:
        from .report import FOUND_THRESHOLD

        return tuple(cause for cause in self.causes if cause[1] >= FOUND_THRESHOLD)


def healthy_corpus(pack: RulePack) -> list[Path]:
    """The logs of successful runs kept in ``corpus/healthy/`` of the built-in rules and of every site folder."""
    entries: list[Path] = []
    for source in pack.sources:
        folder = Path(source) / HEALTHY_CORPUS
        if folder.is_dir():
            entries += sorted(folder.iterdir())
    return entries


def check_healthy_corpus(pack: RulePack) -> list[HealthyOutcome]:
    outcomes = []
    for path in healthy_corpus(pack):
        request = DiagnosisRequest(logs=[str(path)], offline=True, environ={}, probes={"log"})
        diagnosis = run_diagnosis(request, pack).diagnosis
        outcomes.append(HealthyOutcome(path, tuple((c.cause, c.certainty, c.best.rule.id) for c in diagnosis.causes)))
    return outcomes
