"""docs/guide-coverage.md: every problem of the source guide is diagnosed by stable, tested rules."""
from __future__ import annotations

import re
from pathlib import Path

from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.testing import run_rule_tests

TABLE = Path(__file__).resolve().parents[2] / "docs" / "guide-coverage.md"


def rows() -> dict[int, list[str]]:
    found = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| (\d+) \| [^|]+ \| (.+) \|$", line)
        if match:
            found[int(match.group(1))] = re.findall(r"`([a-z0-9_.]+)`", match.group(2))
    return found


def test_all_24_problems_are_listed_with_rules() -> None:
    table = rows()
    assert sorted(table) == list(range(1, 25))
    assert all(table.values())


def test_every_listed_rule_exists_is_stable_and_passes_its_tests() -> None:
    pack = load_rule_pack()
    listed = {rule_id for ids in rows().values() for rule_id in ids}
    rules = {rule.id: rule for rule in pack.rules}
    assert sorted(listed - set(rules)) == []
    assert [rule_id for rule_id in sorted(listed) if rules[rule_id].status != "stable" or not rules[rule_id].tests] == []
    failing = [o.rule.id for o in run_rule_tests(pack, listed) if not o.passed]
    assert failing == []
