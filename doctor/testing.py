"""Testing rules: the tests each rule carries as data, and helpers for a site's own test suite.

``diagnose rules test`` runs every rule's ``tests:`` through the whole pipeline (log probe plus given
facts, never this machine's probes) and counts, per rule, true/false positives and negatives.

A site tests its own rule in three lines::

    from nnunet_doctor.testing import assert_fires
    def test_my_rule():
        assert_fires("site.my_rule", log="MyError: boom", rules=["site_rules/"])
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from msgspec import Struct

from nnunet_doctor.engine.certainty import is_found
from nnunet_doctor.engine.diagnosis import Diagnosis, firing_evidence
from nnunet_doctor.engine.fix_templates import WITHHELD
from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.engine.rules import Rule, RuleTest
from nnunet_doctor.engine.sources import INPUT, Source

from .pipeline import DiagnosisRequest, run_diagnosis

#: what makes a fix rightly withhold a value shown in it (see engine.fix_templates): a test log that holds one
_SUBSTITUTION = re.compile(r"\$[({]")


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


class RuleTestOutcome(Struct, frozen=True):
    """What one rule test gave: whether the rule fired, and what else went wrong (evidence, fix, findings)."""

    rule: Rule
    test: RuleTest
    fired: bool
    findings: tuple[str, ...] = ()
    #: expected evidence lines or fix text that did not show
    mismatches: tuple[str, ...] = ()

    @property
    def met(self) -> bool:
        """The test's expectation holds (before its ``todo`` state is taken into account)."""
        return self.fired == (self.test.expect == "fire") and not self.findings and not self.mismatches

    @property
    def state(self) -> str:
        """passed / failed, or for a known miss: todo (still missing) / fixed (passes now: remove its todo)."""
        if self.test.todo:
            return "fixed" if self.met else "todo"
        return "passed" if self.met else "failed"

    @property
    def passed(self) -> bool:
        return self.state in ("passed", "todo")

    @property
    def kind(self) -> str:
        """tp / fn / fp / tn."""
        if self.test.expect == "fire":
            return "tp" if self.fired else "fn"
        return "fp" if self.fired else "tn"

    def explain(self) -> list[str]:
        """Why the test did not pass, one line each."""
        lines = []
        if self.fired != (self.test.expect == "fire"):
            lines.append("should fire but did not" if self.test.expect == "fire" else "fired but should stay quiet")
        lines += list(self.mismatches) + list(self.findings)
        if self.state == "fixed":
            lines.append(f"passes now: remove its 'todo: {self.test.todo}'")
        return lines

    def as_dict(self) -> dict[str, Any]:
        where = self.test.location
        return {"rule": self.rule.id, "test": self.test.name, "state": self.state, "kind": self.kind,
                "file": where.path if where else None, "line": where.line if where else None,
                "problems": self.explain(), "todo": self.test.todo}


def _mismatches(rule: Rule, test: RuleTest, diagnosis: Diagnosis) -> tuple[str, ...]:
    firings = [firing for firing in diagnosis.chain.firings if firing.rule.id == rule.id]
    if not firings:
        return ()
    out: list[str] = []
    lines: dict[int, str] = {}
    for firing in firings:
        for item in firing_evidence(firing):
            if item.kind == "log" and item.provenance.lines:
                first, last = item.provenance.lines
                lines.update({number: item.text for number in range(first, last + 1)})
    log_lines = (test.log or "").splitlines()
    for expected in test.evidence:
        if isinstance(expected, int) and expected not in lines:
            out.append(f"log line {expected} is not in the evidence (evidence lines: {sorted(lines) or 'none'})")
        elif isinstance(expected, str) and not any(expected in log_lines[n - 1] for n in lines if 0 < n <= len(log_lines)):
            out.append(f"no evidence line contains {expected!r}")
    fixes = "\n".join(firing.fix for firing in firings)
    out += [f"the fix does not contain {text!r}; it reads:\n{fixes}" for text in test.fix_contains if text not in fixes]
    if WITHHELD in fixes and not _SUBSTITUTION.search(test.log or ""):
        out.append("the fix withholds a value although this test's log holds no command substitution: a value "
                   "shown in a command must be quoted for the user's shell (`{{ value | q }}`), one shown in a "
                   f"sentence marked as prose (`{{{{ value | prose }}}}`); it reads:\n{fixes}")
    return tuple(out)


def run_rule_tests(pack: RulePack, rule_ids: Iterable[str] | None = None) -> list[RuleTestOutcome]:
    wanted = set(rule_ids) if rule_ids is not None else None
    outcomes: list[RuleTestOutcome] = []
    for rule in sorted(pack.rules, key=lambda r: r.id):
        if wanted is not None and rule.id not in wanted:
            continue
        for test in rule.tests:
            diagnosis = diagnose_text(test.log or "", test.facts, pack=pack)
            problems = tuple(f.message for f in diagnosis.findings if f.source in (Source.rule(rule.id), INPUT))
            outcomes.append(RuleTestOutcome(rule, test, rule.id in fired_rules(diagnosis), problems,
                                            _mismatches(rule, test, diagnosis)))
    return outcomes


HEALTHY_CORPUS = Path("corpus") / "healthy"


class HealthyOutcome(Struct, frozen=True):
    """A successful run of the healthy corpus and the causes diagnosed on it (none may reach medium certainty)."""

    path: Path
    causes: tuple[tuple[str, float, str], ...]  # (cause, certainty, strongest rule)

    @property
    def alarms(self) -> tuple[tuple[str, float, str], ...]:
        return tuple(cause for cause in self.causes if is_found(cause[1]))


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
