"""The built-in rule pack: valid, tested, documented, and using the benchmark's cause catalog."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from nnunet_doctor.engine.pack import builtin_rules_dir
from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.rule_docs import render_fact_docs, render_rule_docs
from nnunet_doctor.testing import run_rule_tests

REPO = Path(__file__).resolve().parents[2]
RULE_FILES = sorted(p for p in (REPO / "rules").rglob("*.yaml") if p.name != "causes.yaml" and not p.name.endswith(".facts.yaml"))
SCHEMA = json.loads((REPO / "engine" / "rules.schema.json").read_text(encoding="utf-8"))
BENCHMARK_CATALOG = REPO.parent / "shared" / "benchmark" / "causes.yaml"


@pytest.fixture(scope="module")
def pack():
    return load_rule_pack()


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_rule_files_match_the_published_json_schema(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), SCHEMA)


def test_every_rule_carries_a_firing_and_a_quiet_test(pack) -> None:
    lacking = [r.id for r in pack.rules if not ({"fire", "quiet"} <= {t.expect for t in r.tests})]
    assert lacking == []


def test_every_rule_test_passes(pack) -> None:
    failures = [(o.rule.id, o.test.name, o.kind, o.findings) for o in run_rule_tests(pack) if not o.passed]
    assert failures == []


def test_docs_rules_md_is_current(pack) -> None:
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == render_rule_docs(pack), (
        "run: diagnose rules docs -o docs/rules.md")


def test_docs_facts_md_is_current(pack) -> None:
    assert (REPO / "docs" / "facts.md").read_text(encoding="utf-8") == render_fact_docs(pack), (
        "run: diagnose rules facts -o docs/facts.md")


@pytest.mark.skipif(not BENCHMARK_CATALOG.is_file(), reason="the benchmark folder is not beside this checkout")
def test_the_catalog_is_the_benchmarks(pack) -> None:
    assert (builtin_rules_dir() / "causes.yaml").read_text(encoding="utf-8") == BENCHMARK_CATALOG.read_text(encoding="utf-8")


def test_not_diagnosable_declarations_are_checked(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("not_diagnosable:\n  infer.nondeterministic: needs two runs to compare\n",
                                        encoding="utf-8")
    assert load_rule_pack([tmp_path]).not_diagnosable == {"infer.nondeterministic": "needs two runs to compare"}


def test_every_cause_of_the_catalog_is_concluded_by_a_stable_tested_rule(pack) -> None:
    uncovered = [cause for cause in pack.catalog.ids()
                 if cause not in pack.not_diagnosable
                 and not any(r.cause == cause and r.certainty > 0 and r.status == "stable" and r.tests for r in pack.rules)]
    assert uncovered == []
