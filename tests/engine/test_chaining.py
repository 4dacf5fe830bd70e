"""The engine's guarantees: determinism, refraction, termination, derived facts, isolation of failures."""
from __future__ import annotations

import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nnunet_doctor.engine.chaining import run
from nnunet_doctor.engine.diagnosis import diagnose
from nnunet_doctor.engine.facts import Fact, FactBase, Provenance, Record
from nnunet_doctor.engine.sources import Source
from nnunet_doctor.engine.loader import load_rule_pack

VOCABULARY = """\
probe: test
facts:
  t.cases:
    type: collection
    description: cases
    fields: {id: str, bad: bool}
  t.flag: {type: bool, description: a flag}
  t.count: {type: int, description: a number}
  t.derived_a: {type: bool, description: derived by a rule}
  t.derived_b: {type: int, description: derived from derived_a}
"""


def pack_with(tmp_path: Path, rules: str):
    (tmp_path / "t.facts.yaml").write_text(VOCABULARY, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(rules), encoding="utf-8")
    return load_rule_pack([tmp_path], builtin=False)


def facts(**values) -> FactBase:
    out = FactBase()
    for name, value in values.items():
        name = "t." + name
        if name == "t.cases":
            value = [Record(item, Provenance(Source.probe("dataset"), detail=item["id"])) for item in value]
        out.add(Fact(name, value, Provenance(Source.probe("test"))))
    return out


RULE = "{{id: {id}, title: {id}, cause: {cause}, phase: data, severity: error, certainty: {c}, status: stable, when: '{when}', fix: fix {id}{extra}}}"


def rule(id: str, when: str, cause: str = "data.labels_unexpected", c: float = 0.5, extra: str = "") -> str:
    return "  - " + RULE.format(id=id, when=when, cause=cause, c=c, extra=extra) + "\n"


def test_derived_facts_are_seen_by_rules_listed_before_their_writer(tmp_path: Path) -> None:
    rules = "rules:\n" + rule("t.reader", "t.derived_b > 1") + rule(
        "t.middle", "t.derived_a", cause="data.labels_empty", extra=", then: {t.derived_b: 't.count + 1'}") + \
        "  - {id: t.writer, title: w, phase: data, severity: info, certainty: 0, status: stable, when: t.flag, " \
        "then: {t.derived_a: 'true'}}\n"
    pack = pack_with(tmp_path, rules)
    assert [r.id for r in pack.rules] == ["t.writer", "t.middle", "t.reader"]
    result = run(pack, facts(flag=True, count=1))
    assert [f.rule.id for f in result.firings] == ["t.writer", "t.middle", "t.reader"]
    derived = result.facts.get("t.derived_b")
    assert derived is not None and derived.value == 2 and derived.provenance.source == Source.rule("t.middle")
    assert result.rounds == 2  # one round to derive everything, one to see that nothing changes


def test_a_fix_showing_a_derived_fact_renders_after_the_rule_that_derives_it(tmp_path: Path) -> None:
    rules = "rules:\n" + rule("t.shows", "t.flag").replace("fix: fix t.shows", "fix: 'count is {{ t.derived_b }}'") + \
        "  - {id: t.derives, title: d, phase: data, severity: info, certainty: 0, status: stable, when: t.flag, " \
        "then: {t.derived_b: 't.count * 2'}}\n"
    pack = pack_with(tmp_path, rules)
    assert [r.id for r in pack.rules] == ["t.derives", "t.shows"]
    fired = {f.rule.id: f for f in run(pack, facts(flag=True, count=21)).firings}
    assert fired["t.shows"].fix == "count is 42"


def test_refraction_fires_once_per_item_of_a_for_rule(tmp_path: Path) -> None:
    pack = pack_with(tmp_path, "rules:\n" + rule("t.per_case", "case.bad", extra=", for: case in t.cases"))
    cases = [{"id": "case_001", "bad": True}, {"id": "case_002", "bad": False}, {"id": "case_003", "bad": True}]
    result = run(pack, facts(cases=cases))
    assert [f.bindings["case"].fields["id"] for f in result.firings] == ["case_001", "case_003"]


def test_a_rule_firing_for_many_items_counts_once_in_the_certainty(tmp_path: Path) -> None:
    pack = pack_with(tmp_path, "rules:\n" + rule("t.per_case", "case.bad", c=0.5, extra=", for: case in t.cases"))
    cases = [{"id": f"case_{i:03d}", "bad": True} for i in range(10)]
    [cause] = diagnose(pack, facts(cases=cases)).causes
    assert cause.certainty == 0.5 and len(cause.supporting) == 10


def test_supporting_and_weakening_rules_combine(tmp_path: Path) -> None:
    rules = "rules:\n" + rule("t.strong", "t.flag", c=0.9) + rule("t.weak", "t.flag", c=0.5) + \
        "  - {id: t.against, title: a, cause: data.labels_unexpected, phase: data, severity: info, certainty: -0.5, " \
        "status: stable, when: t.count > 3}\n"
    pack = pack_with(tmp_path, rules)
    [cause] = diagnose(pack, facts(flag=True, count=1)).causes
    assert round(cause.certainty, 6) == 0.95
    [cause] = diagnose(pack, facts(flag=True, count=5)).causes
    assert round(cause.certainty, 6) == round((0.95 - 0.5) / (1 - 0.5), 6)
    assert [f.rule.id for f in cause.weakening] == ["t.against"]


def test_a_cause_with_only_weakening_evidence_is_not_reported(tmp_path: Path) -> None:
    pack = pack_with(tmp_path, "rules:\n  - {id: t.against, title: a, cause: data.labels_unexpected, phase: data, "
                               "severity: info, certainty: -0.5, status: stable, when: t.flag}\n")
    assert diagnose(pack, facts(flag=True)).causes == []


def test_unknown_conditions_are_pending_with_what_would_settle_them(tmp_path: Path) -> None:
    pack = pack_with(tmp_path, "rules:\n" + rule("t.needs_count", "t.count > 3 and t.flag"))
    diagnosis = diagnose(pack, facts(flag=True))
    assert diagnosis.causes == []
    [unknown] = diagnosis.unknowns
    assert (unknown.fact, unknown.rules, unknown.settled_by) == ("t.count", ("t.needs_count",), "the 'test' probe")


def test_a_failing_rule_is_a_finding_and_the_others_still_run(tmp_path: Path) -> None:
    rules = "rules:\n" + rule("t.broken", 't.count > "three"') + rule("t.fine", "t.flag", cause="data.labels_empty")
    pack = pack_with(tmp_path, rules)
    diagnosis = diagnose(pack, facts(flag=True, count=1))
    assert [c.cause for c in diagnosis.causes] == ["data.labels_empty"]
    [finding] = diagnosis.findings
    assert finding.source == Source.rule("t.broken") and "cannot order 1 and 'three'" in finding.message


def test_a_failing_fix_template_is_a_finding(tmp_path: Path) -> None:
    pack = pack_with(tmp_path, "rules:\n" + rule("t.bad_fix", "t.flag").replace("fix: fix t.bad_fix", "fix: '{{ 1 / 0 }}'"))
    diagnosis = diagnose(pack, facts(flag=True))
    assert diagnosis.causes == []
    assert diagnosis.findings[0].message.startswith("ZeroDivisionError")


def test_fix_templates_see_facts_and_loop_variables(tmp_path: Path) -> None:
    pack = pack_with(tmp_path, "rules:\n" + rule("t.fix", "case.bad", extra=", for: case in t.cases").replace(
        "fix: fix t.fix", "fix: 'case {{ case.id }} of {{ t.count }} ({{ t.flag }})'"))
    [firing] = run(pack, facts(cases=[{"id": "case_007", "bad": True}], count=12)).firings
    assert firing.fix == "case case_007 of 12 (<unknown>)"


def test_applies_to_skips_a_rule_only_when_the_version_is_known_and_outside(tmp_path: Path) -> None:
    pack = pack_with(tmp_path, "rules:\n" + rule("t.new", "t.flag", extra=", applies_to: {torch: '>=2.6'}"))
    old, new = facts(flag=True), facts(flag=True)
    old.add(Fact("torch.version", "2.1.0", Provenance(Source.probe("installation"))))
    new.add(Fact("torch.version", "2.13.0+cpu", Provenance(Source.probe("installation"))))
    assert [f.rule.id for f in run(pack, old).firings] == []
    assert [f.rule.id for f in run(pack, new).firings] == ["t.new"]
    assert [f.rule.id for f in run(pack, facts(flag=True)).firings] == ["t.new"]  # unknown version: applies


CASES = st.lists(st.fixed_dictionaries({"id": st.sampled_from(["a", "b", "c", "d"]), "bad": st.booleans()}),
                 max_size=6)


@given(cases=CASES, flag=st.booleans(), count=st.integers(-3, 8))
@settings(max_examples=40, deadline=None)
def test_the_same_facts_give_the_same_diagnosis(tmp_path_factory, cases, flag, count) -> None:
    tmp_path = tmp_path_factory.mktemp("det")
    rules = "rules:\n" + rule("t.per_case", "case.bad", extra=", for: case in t.cases") + rule(
        "t.flag_rule", "t.flag or t.count > 4", cause="data.labels_empty", c=0.7) + rule(
        "t.derive", "t.count >= 0", cause="data.labels_float", extra=", then: {t.derived_a: 't.count > 2'}") + rule(
        "t.use_derived", "t.derived_a", cause="data.labels_float", c=0.3)
    pack = pack_with(tmp_path, rules)
    first = diagnose(pack, facts(cases=cases, flag=flag, count=count))
    second = diagnose(pack, facts(cases=cases, flag=flag, count=count))
    summary = lambda d: [(c.cause, round(c.certainty, 9), [f.rule.id for f in c.supporting]) for c in d.causes]  # noqa: E731
    assert summary(first) == summary(second)
    assert [f.rule.id for f in first.chain.firings] == [f.rule.id for f in second.chain.firings]
    # refraction: no rule fires twice for the same binding; termination: bounded rounds
    keys = [(f.rule.id, tuple(sorted((k, id(v)) for k, v in f.bindings.items()))) for f in first.chain.firings]
    assert len(keys) == len(set(keys))
    assert first.chain.rounds <= 3
    assert all(0 < c.certainty <= 1 for c in first.causes)
