"""Rewriting rule files into the short format, line by line, so that comments and layout stay as they were.

``diagnose rules migrate`` (and ``tools/migrate_rules.py``) applies what the validators say a rule need not write:

- ``cause:`` equal to the id's prefix, ``phase:`` equal to the catalog's, ``status: stable`` (the ``redundant_key``
  validator's findings): the line goes;
- the pasted dataset-id expression becomes ``dataset_id()``; the shell filters fed ``env.shell`` by hand
  (``{{ 'X' | set_var(V, env.shell) }}``, ``{{ env.shell | after_persist }}``) become the macros, which take the
  best shell (``run.shell`` first);
- a test that states only ``log:`` (or ``facts:``) and ``expect:`` becomes one line: ``- fire: <log>``,
  ``- quiet: {fact: value}``.

Only what can be rewritten without changing a value is touched (a multi-line ``cause:`` or a test whose
``expect:`` comes first stays as it is). Running it twice changes nothing the second time; the pack loads to
the same rules before and after (the rule tests say so).
"""
from __future__ import annotations

import re
from pathlib import Path

from msgspec import Struct

from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.engine.validators import validate
from nnunet_doctor.engine.yaml_source import LocatedList, LocatedMap, load_located

_DATASET_ID = re.compile(r"\{\{\s*run\.dataset_id\s+if\s+run\.dataset_id\s+is\s+number\s+else\s+'DATASET_ID'\s*\}\}")
_DATASET_ID_INNER = re.compile(r"\(\s*run\.dataset_id\s+if\s+run\.dataset_id\s+is\s+number\s+else\s+'DATASET_ID'\s*\)")
_SHELL_FILTER = re.compile(r"\{\{\s*('[^']*'|\"[^\"]*\")\s*\|\s*(set_var|persist_var)\(\s*([^,()]*?)\s*,\s*env\.shell\s*\)\s*\}\}")
_AFTER_PERSIST = re.compile(r"\{\{\s*env\.shell\s*\|\s*after_persist\s*\}\}")
_SIMPLE_KEY = re.compile(r"^(\s*)(cause|phase|status):\s*[^\s#|>][^#]*?(\s+#.*)?$")


class Migration(Struct, frozen=True):
    path: Path
    before: int  # lines
    after: int
    text: str


def _fix_words(text: str) -> str:
    text = _DATASET_ID.sub("{{ dataset_id() }}", text)
    text = _DATASET_ID_INNER.sub("dataset_id()", text)
    text = _SHELL_FILTER.sub(lambda m: f"{{{{ {m.group(2)}({m.group(1)}"
                             + (f", {m.group(3)}" if m.group(3) not in ("", "none", "None") else "") + ") }}", text)
    return _AFTER_PERSIST.sub("{{ after_persist() }}", text)


def _redundant_lines(pack: RulePack, path: Path, lines: list[str]) -> set[int]:
    """0-based numbers of the lines that only state a redundant key (the redundant_key validator's findings)."""
    out: set[int] = set()
    for issue in validate(pack, only=["redundant_key"]):
        if issue.location is None or Path(issue.location.path).resolve() != path.resolve():
            continue
        index = issue.location.line - 1
        if 0 <= index < len(lines) and _SIMPLE_KEY.match(lines[index]):
            out.add(index)
    return out


def _short_tests(text: str, path: Path, lines: list[str]) -> tuple[set[int], dict[int, tuple[int, str, str]]]:
    """Lines to drop (the ``expect:`` lines) and keys to rename (line -> (column, old key, new key))."""
    data, _, problems = load_located(str(path), text)
    drop: set[int] = set()
    rename: dict[int, tuple[int, str, str]] = {}
    if problems or not isinstance(data, LocatedMap) or not isinstance(data.get("rules"), LocatedList):
        return drop, rename
    for rule in data["rules"]:
        tests = rule.get("tests") if isinstance(rule, LocatedMap) else None
        if not isinstance(tests, LocatedList):
            continue
        for item in tests:
            if not isinstance(item, LocatedMap) or item.get("expect") not in ("fire", "quiet"):
                continue
            keys = list(item)
            if len(keys) != 2 or keys[1] != "expect" or keys[0] not in ("log", "facts"):
                continue  # expect first (it carries the list's dash), or more keys: left as it is
            expect_line = item.key_location("expect").line - 1
            if lines[expect_line].strip() != f"expect: {item['expect']}":
                continue
            key = item.key_location(keys[0])
            drop.add(expect_line)
            rename[key.line - 1] = (key.column - 1, keys[0], str(item["expect"]))
    return drop, rename


def migrate_text(pack: RulePack, path: Path, text: str) -> str:
    """The short form of one rule file of ``pack`` (its text as it is on disk)."""
    lines = text.split("\n")
    drop = _redundant_lines(pack, path, lines)
    test_drop, rename = _short_tests(text, path, lines)
    out: list[str] = []
    for index, line in enumerate(lines):
        if index in drop or index in test_drop:
            continue
        if index in rename:
            column, old, new = rename[index]
            if line[column:column + len(old) + 1] == old + ":":
                line = line[:column] + new + line[column + len(old):]
        out.append(line)
    return _fix_words("\n".join(out))


def migrate(pack: RulePack, paths: list[Path]) -> list[Migration]:
    """The migration of each rule file (``*.yaml``/``*.yml`` under ``paths``) that it would change."""
    files = sorted({f for p in paths for f in ([p] if p.is_file() else [*p.rglob("*.yaml"), *p.rglob("*.yml")])
                    if not f.name.endswith(".facts.yaml") and "corpus" not in f.parts})
    out: list[Migration] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        new = migrate_text(pack, path, text)
        if new != text:
            out.append(Migration(path, text.count("\n"), new.count("\n"), new))
    return out
