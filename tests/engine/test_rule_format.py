"""The short rule format: file defaults, the cause from the id, the phase from the catalog, derived-fact rules
without boilerplate; and old-format files keep loading unchanged."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nnunet_doctor.engine.errors import RuleLoadError
from nnunet_doctor.engine.loader import load_rule_pack

SHORT = """\
signatures:
  oom: {anchors: ["out of memory"]}
defaults:
  severity: warning
rules:
  - id: train.gpu_oom.site_short
    title: Short
    certainty: 0.5
    when: match.oom
    fix: reduce the batch size
  - id: train.gpu_oom.site_error
    title: Says its own severity
    severity: error
    certainty: 0.6
    when: match.oom
    fix: reduce the batch size
"""

OLD = """\
signatures:
  oom: {anchors: ["out of memory"]}
rules:
  - id: site.old_format
    title: Old
    cause: train.gpu_oom
    phase: data
    severity: error
    certainty: 0.5
    status: experimental
    when: match.oom
    fix: reduce the batch size
"""


def load(tmp_path: Path, text: str):
    (tmp_path / "site.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_rule_pack([tmp_path], builtin=False)


def test_defaults_cause_from_the_id_phase_from_the_catalog(tmp_path: Path) -> None:
    pack = load(tmp_path, SHORT)
    short, own = pack.rule("train.gpu_oom.site_short"), pack.rule("train.gpu_oom.site_error")
    assert (short.cause, short.phase, short.severity, short.status) == ("train.gpu_oom", "training", "warning", "stable")
    assert own.severity == "error" and set(short.declared) == {"id", "title", "certainty", "when", "fix"}


def test_an_old_format_rule_loads_as_before(tmp_path: Path) -> None:
    rule = load(tmp_path, OLD).rule("site.old_format")
    assert (rule.cause, rule.severity, rule.status, rule.stated_phase) == ("train.gpu_oom", "error", "experimental", "data")
    assert rule.phase == "training"  # the catalog's phase is the rule's; the lint says the stated one disagrees


def test_derived_fact_rules_need_no_severity_certainty_or_status(tmp_path: Path) -> None:
    (tmp_path / "site.facts.yaml").write_text("probe: rules\nsettled_by: a log\nfacts:\n  site.flag: {type: int, "
                                              "description: a flag}\n", encoding="utf-8")
    rule = load(tmp_path, """\
        signatures:
          oom: {anchors: ["out of memory"]}
        rules:
          - id: site.flag.known
            title: A derived fact
            phase: environment
            when: match.oom
            then: {site.flag: 3}
        """).rule("site.flag.known")
    assert (rule.cause, rule.severity, rule.certainty, rule.status) == (None, "info", 0.0, "stable")


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RuleLoadError) as caught:
        load(tmp_path, text)
    return [f"{p.location}: {p.message}".replace(str(tmp_path) + "/", "") for p in caught.value.problems]


def test_an_id_naming_no_cause_says_how_to_fix_it(tmp_path: Path) -> None:
    assert problems(tmp_path, SHORT.replace("train.gpu_oom.site_short", "site.nothing")) == [
        "site.yaml:6:9: rule 'site.nothing' concludes no cause: its id starts with no cause id of the catalog; "
        "name it <cause id>.<what it sees>, say 'cause:', or give derived facts in 'then'"]


def test_a_misspelt_status_gets_a_suggestion_and_bad_defaults_their_place(tmp_path: Path) -> None:
    text = SHORT.replace("  severity: warning", "  severity: warning\n  status: stabel\n  colour: red")
    assert problems(tmp_path, text) == [
        "site.yaml:5:11: 'status' must be one of experimental, stable, deprecated (did you mean 'stable'?)",
        "site.yaml:5:11: 'status' must be one of experimental, stable, deprecated (did you mean 'stable'?)",
        "site.yaml:6:3: unknown key 'colour' in defaults (allowed: applies_to, cause, certainty, phase, references, "
        "severity, status)"]


ANNOTATED = """\
signatures:
  oom: {anchors: ["out of memory"]}
defaults: {severity: error}
rules:
  - id: train.gpu_oom.site_annotated
    title: Annotated tests
    certainty: 0.5
    when: match.oom
    fix: "{{ set_var('PYTORCH_CUDA_ALLOC_CONF', 'expandable_segments:True') }}"
    tests:
      - {name: right line and fix, log: "Epoch 1\\nCUDA out of memory", expect: fire, evidence: [2], fix_contains: export}
      - {name: wrong line, log: "Epoch 1\\nCUDA out of memory", expect: fire, evidence: [1]}
      - {name: cmd words, log: "CUDA out of memory", facts: {env.shell: cmd}, expect: fire, fix_contains: "export"}
      - {name: known miss, log: "OOM", expect: fire, todo: the short form is not recognised yet}
      - {name: fixed miss, log: "Epoch 3", expect: quiet, todo: was a false alarm}
"""


def test_rule_tests_check_evidence_lines_the_rendered_fix_and_known_misses(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from nnunet_doctor.cli import main

    (tmp_path / "site.yaml").write_text(ANNOTATED, encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "test", "--rules", str(tmp_path), "--format", "json",
                                       "train.gpu_oom.site_annotated"])
    report = json.loads(result.output)
    assert result.exit_code == 1 and (report["passed"], report["total"]) == (2, 5)
    failures = {f["test"]: f["problems"] for f in report["failures"]}
    assert failures["wrong line"] == ["log line 1 is not in the evidence (evidence lines: [2])"]
    assert failures["cmd words"][0].startswith("the fix does not contain 'export'; it reads:\nset PYTORCH_CUDA_ALLOC_CONF=")
    assert failures["fixed miss"] == ["passes now: remove its 'todo: was a false alarm'"]
    assert [t["test"] for t in report["todo"]] == ["known miss"]
    text = CliRunner().invoke(main, ["rules", "test", "--rules", str(tmp_path), "train.gpu_oom.site_annotated"]).output
    assert text.index("test 'wrong line'") < text.index("known miss (todo:") < text.index("2/5 rule tests passed")


def test_a_quantifier_body_cut_short_by_and_says_to_use_parentheses(tmp_path: Path) -> None:
    text = SHORT.replace("when: match.oom\n    fix: reduce the batch size\n  - id: train.gpu_oom.site_error",
                         "when: 'any m in match.oom: m.line > 1 and m.text'\n    fix: f\n  - id: train.gpu_oom.site_error")
    assert problems(tmp_path, text) == [
        "site.yaml:9:47: 'when': 'm' is bound only inside its quantifier's body, which ends at the first 'and' or 'or' "
        "outside parentheses: write any m in C: (... and ...)"]


NAMED = """\
signatures:
  oom: {anchors: ["out of memory"]}
  alloc: {anchors: ["Tried to allocate"]}
defaults: {severity: error}
rules:
  - id: train.gpu_oom.site_named
    title: Named parts
    certainty: 0.5
    where:
      oom_seen: 'any m in match.oom: (m.line > 0 and m.text contains "CUDA")'
      sized: match.alloc
    when: oom_seen and not sized
    fix: f
    tests:
      - {log: "CUDA out of memory", expect: fire}
      - {log: "CUDA out of memory. Tried to allocate 2 GiB", expect: quiet}
"""


def test_named_sub_conditions_read_as_parts_and_errors_point_into_them(tmp_path: Path) -> None:
    from nnunet_doctor.testing import run_rule_tests

    pack = load(tmp_path, NAMED)
    assert [o.passed for o in run_rule_tests(pack)] == [True, True]
    assert problems(tmp_path, NAMED.replace("sized: match.alloc", "sized: match.aloc").replace(
        "when: oom_seen and not sized", "when: oom_seen and not sized and env.shel")) == [
        "site.yaml:11:14: 'where: sized': unknown fact 'match.aloc' (did you mean 'match.alloc'?)",
        "site.yaml:12:38: 'when': unknown fact 'env.shel' (did you mean 'env.shell'?)"]


def test_the_json_schema_knows_exactly_the_keys_the_loader_reads() -> None:
    import json

    from nnunet_doctor.engine import loader

    schema = json.loads((Path(loader.__file__).parent / "rules.schema.json").read_text(encoding="utf-8"))
    rule = schema["$defs"]["rule"]["properties"]
    assert set(schema["properties"]) == loader._FILE_KEYS
    assert set(schema["properties"]["defaults"]["properties"]) == loader._DEFAULT_KEYS
    assert set(rule) == loader._RULE_KEYS
    assert set(rule["tests"]["items"]["properties"]) == loader._TEST_KEYS
    assert set(schema["$defs"]["signature"]["properties"]) == loader._SIGNATURE_KEYS


WITHHOLDING = """\
signatures:
  oom: {anchors: ["out of memory"], regex: 'out of memory in (?P<where>.+)'}
defaults: {severity: error}
rules:
  - id: train.gpu_oom.site_withholding
    title: A fix that shows a captured value
    certainty: 0.5
    when: match.oom
    fix: "pip install {{ match.oom[0].where }}  /  pip install {{ match.oom[0].where | q }}"
    tests:
      - {name: quotes in a value, log: 'out of memory in x="2" y', expect: fire}
      - {name: a payload, log: 'out of memory in $(touch PWNED)', expect: fire}
"""


def test_a_rule_test_fails_a_fix_that_withholds_a_value_its_log_gave_no_reason_to(tmp_path: Path) -> None:
    from nnunet_doctor.testing import run_rule_tests

    outcomes = {o.test.name: o for o in run_rule_tests(load(tmp_path, WITHHOLDING))}
    assert not outcomes["quotes in a value"].passed
    assert "the fix withholds a value" in outcomes["quotes in a value"].explain()[0]
    assert outcomes["a payload"].passed  # a log holding command substitution is why values are withheld
