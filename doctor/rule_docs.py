"""docs/rules.md, generated from the rule pack: every rule with its cause, signatures, fix and tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nnunet_doctor.engine.pack import RulePack, builtin_rules_dir
from nnunet_doctor.engine.rules import PHASES, Rule

from .report import template_environment


def _relative(rule: Rule) -> str:
    if rule.location is None:
        return rule.origin
    path = Path(rule.location.path)
    try:
        return f"rules/{path.relative_to(builtin_rules_dir()).as_posix()}:{rule.location.line}"
    except ValueError:
        return f"{path.name}:{rule.location.line}"


def _rule(rule: Rule, pack: RulePack) -> dict[str, Any]:
    signatures = []
    for name in sorted(rule.when.facts_read):
        signature = next((s for s in pack.signatures.signatures if s.fact_name == name), None)
        if signature is not None:
            signatures.append({"id": signature.id, "anchors": list(signature.anchors),
                               "regex": signature.regex.source if signature.regex else None,
                               "fuzzy": f"{signature.fuzzy.text!r} >= {signature.fuzzy.cutoff:g}" if signature.fuzzy else None})
    return {
        "id": rule.id, "title": rule.title, "cause": rule.cause, "certainty": rule.certainty, "severity": rule.severity,
        "status": rule.status, "applies_to": ", ".join(f"{k} {v}" for k, v in rule.applies_to.items()),
        "file": _relative(rule), "description": " ".join(rule.description.split()),
        "when": " ".join(rule.when.text.split()),
        "for_clause": f"{rule.for_var} in {rule.for_collection.name}" if rule.for_collection else "",
        "signatures": signatures, "then": ", ".join(f"{d.name} = {d.expression.text}" for d in rule.then),
        "tests_fire": sum(t.expect == "fire" for t in rule.tests), "tests_quiet": sum(t.expect == "quiet" for t in rule.tests),
        "fix": rule.fix.strip(),
    }


def render_rule_docs(pack: RulePack) -> str:
    rules = sorted(pack.rules, key=lambda r: r.id)
    causes = [{"id": cause.id, "phase": cause.phase, "description": cause.description,
               "rules": [r.id for r in rules if r.cause == cause.id and r.certainty > 0],
               "not_diagnosable": pack.not_diagnosable.get(cause.id, "")}
              for cause in sorted(pack.catalog.causes.values(), key=lambda c: (PHASES.index(c.phase), c.id))]
    phases = [{"name": phase, "rules": [_rule(r, pack) for r in rules if r.phase == phase]} for phase in PHASES]
    view = {"rules": rules, "signatures": list(pack.signatures.signatures), "causes": causes, "phases": phases,
            "version": pack.version}
    return template_environment(False).get_template("rules.md.j2").render(pack=view)
