"""Every loader error names its file, line and column, and all problems are reported at once."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nnunet_doctor.engine.errors import RuleLoadError
from nnunet_doctor.engine.loader import load_rule_pack

GOOD_RULE = """\
rules:
  - id: site.good
    title: A good rule
    cause: train.gpu_oom
    phase: training
    severity: error
    certainty: 0.5
    status: experimental
    when: match.cuda_oom
    fix: reduce the batch size
"""


def problems_of(tmp_path: Path, text: str, name: str = "site.yaml") -> list[str]:
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(RuleLoadError) as caught:
        load_rule_pack([tmp_path])
    prefix = str(tmp_path) + "/"
    return [f"{p.location}: {p.message}".replace(prefix, "") for p in caught.value.problems]


def rule(**overrides: str) -> str:
    fields = {"id": "site.r", "title": "t", "cause": "train.gpu_oom", "phase": "training", "severity": "error",
              "certainty": "0.5", "status": "stable", "when": "match.cuda_oom", "fix": "do this"}
    fields.update(overrides)
    body = "".join(f"    {key}: {value}\n" for key, value in fields.items() if value != "")
    return "rules:\n  - " + body[4:]


def test_a_valid_site_rule_loads_beside_the_builtin_ones(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(GOOD_RULE, encoding="utf-8")
    pack = load_rule_pack([tmp_path])
    assert pack.rule("site.good") is not None
    assert pack.rule("train.gpu_oom.cuda_message") is not None


def test_yaml_syntax_error_points_at_the_offending_character(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "rules:\n  - id: [unclosed\n") == [
        "site.yaml:3:1: YAML syntax error: did not find expected ',' or ']'"]


def test_unknown_key_with_suggestion(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(certianty="0.5", certainty="")) == [
        "site.yaml:2:5: rule 'site.r' has no 'certainty'",
        "site.yaml:10:5: unknown key 'certianty' in rule (did you mean 'certainty'?)",
    ]


def test_wrong_type(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(certainty="high")) == [
        "site.yaml:7:16: 'certainty' must be a number from -1 to 1"]


def test_unknown_fact_with_suggestion_points_inside_the_condition(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(when="match.cuda_om and true")) == [
        "site.yaml:9:11: 'when': unknown fact 'match.cuda_om' (did you mean 'match.cuda_oom'?)"]


def test_condition_syntax_error_in_a_plain_scalar(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(when="match.cuda_oom and and true")) == [
        "site.yaml:9:30: 'when': syntax error: unexpected 'and' (expected '(', '-', '[', 'exists', 'false', "
        "'not', 'null', 'true', 'unknown', a name, a number, a string, any/all, count/sum/min/max/avg)"]


def test_condition_syntax_error_in_a_block_scalar_maps_to_its_line(tmp_path: Path) -> None:
    text = rule(when="|\n      match.cuda_oom\n        and (len(log.exceptions) >\n      )")
    assert problems_of(tmp_path, text) == [
        "site.yaml:12:7: 'when': syntax error: unexpected ')' (expected '(', '-', '[', 'exists', 'false', 'null', "
        "'true', 'unknown', a name, a number, a string, count/sum/min/max/avg)"]


def test_condition_error_in_a_quoted_scalar(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(when="'any c in log.exceptions: c.tipe == 1'")) == [
        "site.yaml:9:37: 'when': 'log.exceptions' items have no field 'tipe' (did you mean 'type'?)"]


def test_a_constant_condition_is_refused(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(when="|\n      'match.cuda_oom'")) == [
        "site.yaml:9:11: 'when' is the constant 'match.cuda_oom', which is always true or false (quotes inside a "
        "'when: |' block?)"]


def test_unquoted_quantifier_gets_a_hint(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, rule(when="any c in log.exceptions: c.line > 1"))
    assert problem.startswith("site.yaml:9:34: YAML syntax error: mapping values are not allowed in this context")
    assert "must be quoted" in problem


def test_duplicate_id_of_a_builtin_rule_needs_overrides(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(id="train.gpu_oom.cuda_message")) == [
        "site.yaml:2:5: duplicate rule id 'train.gpu_oom.cuda_message' (first at "
        f"{load_rule_pack().rule('train.gpu_oom.cuda_message').location}): a site rule must say 'overrides: true' "
        "to replace a built-in rule"]


def test_duplicate_id_within_site_rules(tmp_path: Path) -> None:
    text = rule() + rule()[len("rules:\n"):]
    assert problems_of(tmp_path, text) == ["site.yaml:11:5: duplicate rule id 'site.r' (first at site.yaml:2:5)"]


def test_unknown_cause_with_suggestion(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(cause="train.gpu_om")) == [
        "site.yaml:4:12: unknown cause id 'train.gpu_om' (did you mean 'train.gpu_oom'?)"]


def test_regex_that_re2_cannot_compile(tmp_path: Path) -> None:
    text = "signatures:\n  bad:\n    anchors: [x]\n    regex: '(a)\\1'\n"
    assert problems_of(tmp_path, text) == [
        "site.yaml:4:12: signature 'bad': invalid regular expression for RE2: invalid escape sequence: \\1"]


def test_regex_in_a_condition_is_checked_too(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule(when="\"log.root_exception.message matches '(?<=x)y'\"")) == [
        "site.yaml:9:47: 'when': invalid regular expression for RE2: invalid perl operator: (?<="]


def test_fix_template_syntax_error_points_at_its_line(tmp_path: Path) -> None:
    text = rule(fix="|\n      first line\n      {% if x %}never closed")
    assert problems_of(tmp_path, text) == [
        "site.yaml:12:7: 'fix' template: Unexpected end of template. Jinja was looking for the following tags: "
        "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'."]


def test_derived_facts_may_not_form_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "derived.facts.yaml").write_text(textwrap.dedent("""\
        probe: rules
        facts:
          site.a: {type: bool, description: a}
          site.b: {type: bool, description: b}
        """), encoding="utf-8")
    text = """\
    rules:
      - {id: site.one, title: one, phase: data, severity: info, certainty: 0, status: stable, when: site.b, then: {site.a: 'true'}}
      - {id: site.two, title: two, phase: data, severity: info, certainty: 0, status: stable, when: site.a, then: {site.b: 'true'}}
    """
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith("site.yaml:2:5: derived facts form a cycle between rules: site.one -> site.two")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(rule(cause="nope"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(rule(id="site.s", when="no.such.fact"), encoding="utf-8")
    problems = problems_of(tmp_path, rule(id="site.t", phase="testing"), name="c.yaml")
    assert [p.split(":")[0] for p in problems] == ["a.yaml", "b.yaml", "c.yaml"]


def test_overrides_replaces_the_builtin_rule(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(rule(id="train.gpu_oom.cuda_message", certainty="0.3") + "    overrides: true\n",
                                        encoding="utf-8")
    pack = load_rule_pack([tmp_path])
    replaced = pack.rule("train.gpu_oom.cuda_message")
    assert replaced is not None and replaced.certainty == 0.3 and replaced.origin == str(tmp_path)


def test_overrides_without_a_builtin_rule_is_an_error(tmp_path: Path) -> None:
    assert problems_of(tmp_path, rule() + "    overrides: true\n") == [
        "site.yaml:2:5: rule 'site.r' says 'overrides: true' but there is no built-in rule 'site.r' to override"]


def test_disable_switches_a_builtin_rule_off_and_checks_the_id(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("disable: [train.gpu_oom.cuda_message]\n", encoding="utf-8")
    pack = load_rule_pack([tmp_path])
    assert "train.gpu_oom.cuda_message" in pack.disabled
    assert all(r.id != "train.gpu_oom.cuda_message" for r in pack.rules)
    assert problems_of(tmp_path, "disable: [train.gpu_oom.cuda_mesage]\n") == [
        "site.yaml:1:11: cannot disable unknown rule 'train.gpu_oom.cuda_mesage' (did you mean "
        "'train.gpu_oom.cuda_message'?)"]


def test_site_causes_extend_the_catalog(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("causes:\n  training: {site.cluster_quota: the cluster quota was hit}\n"
                                        + rule(cause="site.cluster_quota")[len(""):], encoding="utf-8")
    pack = load_rule_pack([tmp_path])
    assert pack.catalog.get("site.cluster_quota") is not None


def test_a_missing_site_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError) as caught:
        load_rule_pack([tmp_path / "nope"])
    assert caught.value.problems[0].message == "site rule folder does not exist"


def test_problem_lines_quote_the_offending_text(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(rule(cause="train.gpu_om"), encoding="utf-8")
    with pytest.raises(RuleLoadError) as caught:
        load_rule_pack([tmp_path])
    assert caught.value.format().splitlines()[1:] == [
        f"{tmp_path}/site.yaml:4:12: unknown cause id 'train.gpu_om' (did you mean 'train.gpu_oom'?)",
        "        cause: train.gpu_om",
        "               ^"]
