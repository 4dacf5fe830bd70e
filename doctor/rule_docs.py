"""docs/rules.md and docs/facts.md, generated from the rule pack: every rule with its cause, signatures, fix and
tests; every fact of the vocabulary with its type, unit, probe and the rules that read it."""
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


def render_fact_docs(pack: RulePack) -> str:
    readers: dict[str, int] = {}
    for rule in pack.rules:
        for name in rule.facts_read:
            readers[name] = readers.get(name, 0) + 1
    specs = sorted((spec for spec in pack.vocabulary.specs.values() if not spec.name.startswith("match.")),
                   key=lambda spec: spec.name)
    groups: dict[str, list[dict[str, Any]]] = {}
    for spec in specs:
        groups.setdefault(spec.name.split(".", 1)[0], []).append({
            "name": spec.name, "type": spec.type, "unit": spec.unit or "", "probe": ", ".join(spec.written_by),
            "personal": spec.personal or any(f.personal for f in spec.fields.values()),
            "readers": readers.get(spec.name, 0), "description": " ".join(spec.description.split()),
            "settled_by": " ".join(spec.settled_by.split()),
            "fields": ", ".join(f"`{f.name}` ({f.type}{', ' + f.unit if f.unit else ''}"
                                f"{', personal' if f.personal else ''})" for f in spec.fields.values())})
    view: dict[str, Any] = {"count": len(specs), "groups": []}
    for name, facts in groups.items():
        settled = {fact["settled_by"] for fact in facts}
        shared = settled.pop() if len(settled) == 1 else ""
        view["groups"].append({"name": name, "settled_by": shared,
                               "facts": [{**fact, "settled_by": "" if shared else fact["settled_by"]} for fact in facts]})
    environment = template_environment(False)
    environment.filters["cell"] = lambda text: str(text).replace("|", "\\|")
    return environment.get_template("facts.md.j2").render(facts=view)
