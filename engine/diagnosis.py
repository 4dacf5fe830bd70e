"""From firings to the product: ranked causes, each with its evidence, fix and explanation.

:func:`diagnose` runs the rule pack on a fact base and ranks the concluded causes by their combined
certainty (see :mod:`.certainty`). It also lists the *unknowns that mattered*: facts no probe established
that kept a rule from deciding, with the probe or input that would settle each.
"""
from __future__ import annotations

from typing import Any

from msgspec import Struct, field

from .certainty import ALGEBRAS, CertaintyAlgebra, certainty_band, is_found
from .chaining import ChainResult, Firing, run
from .context import PasteContext
from .facts import FactBase, Provenance, Record
from .sources import UNKNOWN, Source
from .pack import RulePack
from .rules import PHASES, SEVERITIES

_MAX_LOG_EVIDENCE = 8


class Evidence(Struct, frozen=True):
    kind: str  # "log" (a line of an input file) or "fact"
    text: str
    provenance: Provenance
    name: str | None = None
    value: Any = None


class Finding(Struct, frozen=True):
    """Something about the diagnosis itself: a probe that failed or timed out, a rule that crashed."""

    source: Source
    message: str
    severity: str = "warning"


class UnknownThatMattered(Struct, frozen=True):
    fact: str
    settled_by: str
    reason: str | None
    rules: tuple[str, ...]
    causes: tuple[str, ...]


class RankedCause(Struct):
    cause: str
    description: str
    phase: str
    certainty: float
    supporting: list[Firing]
    weakening: list[Firing] = field(default_factory=list)
    #: why the certainty is lower than its rules give (a short paste), None when it is not
    lowered: str | None = None

    @property
    def band(self) -> str:
        return certainty_band(self.certainty)

    @property
    def found(self) -> bool:
        """Whether this cause counts as found (see :func:`.certainty.is_found`)."""
        return is_found(self.certainty)

    @property
    def best(self) -> Firing:
        return self.supporting[0]

    @property
    def evidence(self) -> list[Evidence]:
        seen: set[tuple[Any, ...]] = set()
        out: list[Evidence] = []
        for firing in self.supporting:
            for item in firing_evidence(firing):
                key = (item.kind, item.text, item.provenance.file, item.provenance.lines, item.name)
                if key not in seen:
                    seen.add(key)
                    out.append(item)
        logs = [item for item in out if item.kind == "log"][:_MAX_LOG_EVIDENCE]
        return logs + [item for item in out if item.kind != "log"]


def record_text(record: Record) -> str:
    """The one line that best shows a record: its text, message, id or name, else its fields."""
    for key in ("text", "message", "id", "name"):
        value = record.fields.get(key)
        if value:
            return str(value)
    return ", ".join(f"{k}={v}" for k, v in record.fields.items() if v is not None)


def firing_evidence(firing: Firing) -> list[Evidence]:
    """Log lines and facts that made a rule fire, each with where it came from."""
    out: list[Evidence] = []
    witnessed = firing.evaluation.witnesses
    for name, records in witnessed.items():
        for record in records:
            provenance = record.provenance or Provenance(UNKNOWN)
            kind = "log" if provenance.is_log_line else "fact"
            out.append(Evidence(kind, record_text(record), provenance, name,
                                dict(record.fields) if kind == "fact" else None))
    for variable, record in firing.bindings.items():
        provenance = record.provenance or Provenance(UNKNOWN)
        kind = "log" if provenance.is_log_line else "fact"
        out.append(Evidence(kind, record_text(record), provenance, variable, dict(record.fields)))
    for name, fact in firing.evaluation.facts_used.items():
        if name in witnessed or isinstance(fact.value, list) and (not fact.value or isinstance(fact.value[0], Record)):
            continue
        out.append(Evidence("fact", f"{name} = {fact.value!r}", fact.provenance, name, fact.value))
    return out


class Diagnosis(Struct):
    causes: list[RankedCause]
    chain: ChainResult
    findings: list[Finding]
    unknowns: list[UnknownThatMattered]
    pack: RulePack
    algebra: str

    @property
    def facts(self) -> FactBase:
        return self.chain.facts

    @property
    def found(self) -> list[RankedCause]:
        """The causes that count as found (medium certainty or more), best first."""
        return [cause for cause in self.causes if cause.found]


def _rank_key(cause: RankedCause) -> tuple[Any, ...]:
    severity = SEVERITIES.index(cause.best.rule.severity)
    phase = PHASES.index(cause.phase) if cause.phase in PHASES else len(PHASES)
    return (-round(cause.certainty, 9), severity, phase, cause.cause)


def rank(firings: list[Firing], pack: RulePack, algebra: CertaintyAlgebra) -> list[RankedCause]:
    by_cause: dict[str, list[Firing]] = {}
    for firing in firings:
        if firing.rule.cause is not None:
            by_cause.setdefault(firing.rule.cause, []).append(firing)
    ranked: list[RankedCause] = []
    for cause_id, cause_firings in by_cause.items():
        strongest: dict[str, float] = {}
        for firing in cause_firings:
            current = strongest.get(firing.rule.id)
            if current is None or abs(firing.certainty) > abs(current):
                strongest[firing.rule.id] = firing.certainty
        certainty = algebra.combine(strongest[rule_id] for rule_id in sorted(strongest))
        supporting = sorted((f for f in cause_firings if f.certainty > 0), key=lambda f: (-f.certainty, f.rule.id))
        if certainty <= 0 or not supporting:
            continue
        weakening = sorted((f for f in cause_firings if f.certainty < 0), key=lambda f: (f.certainty, f.rule.id))
        catalog_entry = pack.catalog.get(cause_id)
        ranked.append(RankedCause(cause_id, catalog_entry.description if catalog_entry else cause_id,
                                  catalog_entry.phase if catalog_entry else supporting[0].rule.phase,
                                  min(1.0, certainty), supporting, weakening))
    return sorted(ranked, key=_rank_key)


def _settled_by(pack: RulePack, facts: FactBase, name: str) -> tuple[str, str | None]:
    parts = name.replace("[", ".").replace("]", "").split(".")
    resolved = pack.vocabulary.resolve_prefix([p for p in parts if not p.isdigit()])
    reason = facts.unknown_reason(resolved[0].name) if resolved else None
    if resolved is None:
        return "", reason
    return resolved[0].settled_by, reason


def unknowns_that_mattered(chain: ChainResult, pack: RulePack) -> list[UnknownThatMattered]:
    waiting: dict[str, tuple[set[str], set[str]]] = {}
    for pending in chain.pending:
        if pending.rule.cause is None or pending.rule.certainty <= 0:
            continue
        for name in pending.unknowns:
            rules, causes = waiting.setdefault(name, (set(), set()))
            rules.add(pending.rule.id)
            causes.add(pending.rule.cause)
    out = []
    for name in sorted(waiting):
        settled_by, reason = _settled_by(pack, chain.facts, name)
        rules, causes = waiting[name]
        out.append(UnknownThatMattered(name, settled_by, reason, tuple(sorted(rules)), tuple(sorted(causes))))
    return out


def lower_for_context(causes: list[RankedCause], context: PasteContext) -> None:
    """Squeeze the certainties a short paste cannot carry (the order stays; see :mod:`.context`)."""
    reason = context.reason
    if reason is None:
        return
    for cause in causes:
        lowered = context.lower(cause.certainty)
        if lowered != cause.certainty:
            cause.certainty, cause.lowered = lowered, reason


def diagnose(pack: RulePack, facts: FactBase, findings: list[Finding] | None = None,
             algebra: str = "mycin", context: PasteContext | None = None) -> Diagnosis:
    """Run the rules on the facts and rank the causes; never raises for a rule's own failure. ``context``: what
    the logs showed around their messages (a short paste lowers the certainties)."""
    chain = run(pack, facts)
    all_findings = list(findings or [])
    all_findings += [Finding(Source.rule(failure.rule.id), failure.message, "error") for failure in chain.failures]
    causes = rank(chain.firings, pack, ALGEBRAS[algebra])
    if context is not None:
        lower_for_context(causes, context)
    return Diagnosis(causes, chain, all_findings, unknowns_that_mattered(chain, pack), pack, algebra)
