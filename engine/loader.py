"""Loading a rule pack: vocabulary, cause catalog, signatures and rules, checked all at once.

:func:`load_rule_pack` reads the built-in rules and every site folder, validates everything (YAML syntax,
unknown keys, types, fact names, condition syntax mapped back into the YAML file, duplicate ids, cause ids,
regular expressions, fix templates, derived-fact cycles) and raises one
:class:`~nnunet_doctor.engine.errors.RuleLoadError` listing every problem as ``file:line:col: message``.

Site folders come from ``--rules DIR`` and from the ``NNUNET_DOCTOR_RULES`` environment variable
(``os.pathsep``-separated). A site rule with the id of a built-in rule must say ``overrides: true``; a site
file can switch built-in rules off with ``disable: [rule.id, ...]``.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from . import fix_templates
from .causes import CauseCatalog
from .pack import RulePack, builtin_rules_dir, builtin_vocabulary_dir, site_rule_dirs
from .condition_parser import compile_condition
from .conditions import Condition, FactRef, Literal
from .errors import Location, RuleLoadError, RuleProblem
from .patterns import PatternError, compile_guarded
from .rules import (DEFAULT_STATUS, DERIVED_SEVERITY, PHASES, SEVERITIES, STATUSES, VERSIONED_PACKAGES, DerivedFact,
                    Rule, RuleTest)
from .signatures import FuzzySpec, Signature, SignatureSet
from .versions import VersionError, VersionRange
from .vocabulary import FIELD_TYPES, FactSpec, FieldSpec, Vocabulary, load_vocabulary_file, unknown_keys
from .yaml_source import LocatedList, LocatedMap, SourceText, load_located, map_offset_into_scalar

CATALOG_FILE = "causes.yaml"
VOCABULARY_SUFFIX = ".facts.yaml"

_FILE_KEYS = {"rules", "signatures", "causes", "disable", "description", "not_diagnosable", "defaults"}
_RULE_KEYS = {"id", "title", "cause", "phase", "severity", "certainty", "status", "when", "where", "for", "fix",
              "references", "applies_to", "then", "tests", "signatures", "description", "overrides"}
_REQUIRED_RULE_KEYS = ("id", "title", "when")
#: keys a file's ``defaults:`` may give every rule of the file (a rule's own value wins)
_DEFAULT_KEYS = {"cause", "phase", "severity", "certainty", "status", "applies_to", "references"}
_SIGNATURE_KEYS = {"anchors", "regex", "fuzzy", "window", "ignore_case", "fields", "description"}
_TEST_KEYS = {"name", "log", "facts", "expect", "evidence", "fix_contains", "todo", "fire", "quiet"}
#: the short form of a test: ``fire: <log text>`` or ``quiet: {fact: value}`` says expect, and log or facts, at once
_SHORT_TESTS = ("fire", "quiet")
_RULE_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_SIGNATURE_ID = re.compile(r"^[a-z0-9_]+$")
_FOR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+in\s+(.+?)\s*$")
_MAX_WINDOW = 50


def _rule_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yaml")
                  if p.name != CATALOG_FILE and not p.name.endswith(VOCABULARY_SUFFIX) and p.is_file())


class _Loader:
    def __init__(self) -> None:
        self.problems: list[RuleProblem] = []
        self.vocabulary = Vocabulary()
        self.catalog = CauseCatalog()
        self.signatures: dict[str, Signature] = {}
        self.unreachable: dict[str, str] = {}
        self.digest = hashlib.sha256()

    # -- sources ---------------------------------------------------------------------------------------
    def read(self, path: Path) -> tuple[Any, SourceText] | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(RuleProblem(Location(str(path), 1, 1), f"cannot read file: {exc}"))
            return None
        self.digest.update(path.name.encode() + b"\0" + text.encode())
        data, source, problems = load_located(str(path), text)
        self.problems += problems
        if data is None:
            return None
        if not isinstance(data, LocatedMap):
            self.problems.append(source.problem(Location(str(path), 1, 1), "a rule file must be a YAML mapping"))
            return None
        return data, source

    def load_vocabulary(self, paths: Iterable[Path]) -> None:
        for path in paths:
            try:
                self.problems += load_vocabulary_file(path, self.vocabulary)
            except (OSError, UnicodeDecodeError) as exc:
                self.problems.append(RuleProblem(Location(str(path), 1, 1), f"cannot read file: {exc}"))

    # -- signatures ------------------------------------------------------------------------------------
    def signature(self, sig_id: str, decl: Any, source: SourceText, location: Location) -> None:
        if not _SIGNATURE_ID.match(str(sig_id)):
            self.problems.append(source.problem(location, f"signature id '{sig_id}' must be lowercase letters, digits and _"))
            return
        if sig_id in self.signatures:
            previous = self.signatures[sig_id].location
            self.problems.append(source.problem(location, f"signature '{sig_id}' is already declared" + (f" at {previous}" if previous else "")))
            return
        if not isinstance(decl, LocatedMap):
            self.problems.append(source.problem(location, f"signature '{sig_id}' must be a mapping"))
            return
        self.problems += unknown_keys(source, decl, _SIGNATURE_KEYS, f"signature '{sig_id}'")
        anchors = decl.get("anchors")
        if isinstance(anchors, str):
            anchors = [anchors]
        if not isinstance(anchors, list) or not anchors or not all(isinstance(a, str) and a for a in anchors):
            self.problems.append(source.problem(decl.value_location("anchors") if "anchors" in decl else location,
                                                f"signature '{sig_id}': 'anchors' must be a non-empty list of literal strings"))
            return
        ignore_case = decl.get("ignore_case", False)
        if not isinstance(ignore_case, bool):
            self.problems.append(source.problem(decl.value_location("ignore_case"), "'ignore_case' must be true or false"))
            ignore_case = False
        regex = None
        if "regex" in decl:
            if not isinstance(decl["regex"], str):
                self.problems.append(source.problem(decl.value_location("regex"), "'regex' must be a string"))
            else:
                try:
                    regex = compile_guarded(decl["regex"], ignore_case=ignore_case)
                except PatternError as exc:
                    self.problems.append(source.problem(decl.value_location("regex"), f"signature '{sig_id}': {exc}"))
        fuzzy = None
        if "fuzzy" in decl:
            spec = decl["fuzzy"]
            if isinstance(spec, LocatedMap):
                self.problems += unknown_keys(source, spec, {"text", "cutoff"}, f"signature '{sig_id}' fuzzy")
            text, cutoff = (spec.get("text"), spec.get("cutoff")) if isinstance(spec, Mapping) else (None, None)
            if not isinstance(text, str) or not text.strip():
                self.problems.append(source.problem(decl.value_location("fuzzy"), "'fuzzy' needs a 'text' template"))
            elif isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 < cutoff <= 100:
                self.problems.append(source.problem(decl.value_location("fuzzy"),
                                                    "'fuzzy' needs an explicit 'cutoff' between 1 and 100"))
            else:
                fuzzy = FuzzySpec(text, float(cutoff))
        window = decl.get("window", 0)
        if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= _MAX_WINDOW:
            self.problems.append(source.problem(decl.value_location("window"), f"'window' must be an integer from 0 to {_MAX_WINDOW}"))
            window = 0
        field_types: dict[str, str] = {}
        raw_fields = decl.get("fields", {})
        if not isinstance(raw_fields, Mapping):
            self.problems.append(source.problem(decl.value_location("fields"), "'fields' must map capture names to types"))
        else:
            groups = set(regex.group_names) if regex else set()
            for name, type_name in raw_fields.items():
                where = raw_fields.key_location(name) if isinstance(raw_fields, LocatedMap) else location
                if name not in groups:
                    self.problems.append(source.problem(where, f"signature '{sig_id}': field '{name}' is not a named group of its regex"))
                elif type_name not in FIELD_TYPES:
                    self.problems.append(source.problem(where, f"field '{name}': type must be one of {', '.join(FIELD_TYPES)}"))
                else:
                    field_types[name] = str(type_name)
        signature = Signature(str(sig_id), tuple(anchors), regex, fuzzy, window, ignore_case, field_types,
                              str(decl.get("description", "")), location)
        self.signatures[signature.id] = signature
        self.vocabulary.declare(FactSpec(
            signature.fact_name, "collection", f"lines of the log that match signature '{signature.id}'",
            "log", "--log with the console output or training log", fields={
                name: FieldSpec(name, type_name) for name, type_name in signature.fields.items()},
            declared_at=location))

    def not_diagnosable(self, data: LocatedMap, source: SourceText) -> None:
        raw = data.get("not_diagnosable")
        if raw is None:
            return
        if not isinstance(raw, LocatedMap):
            self.problems.append(source.problem(data.value_location("not_diagnosable"), "'not_diagnosable' must map cause ids to reasons"))
            return
        for cause_id, reason in raw.items():
            if cause_id not in self.catalog:
                hint = self.vocabulary.suggest(cause_id, self.catalog.ids())
                self.problems.append(source.problem(raw.key_location(cause_id), f"unknown cause id '{cause_id}'" + (f" (did you mean '{hint}'?)" if hint else "")))
            elif not isinstance(reason, str) or not reason.strip():
                self.problems.append(source.problem(raw.value_location(cause_id), f"say why '{cause_id}' cannot be diagnosed"))
            else:
                self.unreachable[cause_id] = reason.strip()

    # -- rules -----------------------------------------------------------------------------------------
    def condition(self, text: Any, source: SourceText, mapping: LocatedMap, key: str, what: str,
                  scope: Mapping[str, FactSpec] | None = None, parts: Mapping[str, str] | None = None) -> Condition | None:
        if isinstance(text, bool) or isinstance(text, (int, float)):
            text = str(text).lower() if isinstance(text, bool) else str(text)
        if not isinstance(text, str) or not text.strip():
            self.problems.append(source.problem(mapping.value_location(key), f"{what} must be a non-empty condition string"))
            return None
        expanded, original_offset = expand_parts(text, parts or {})
        condition, problems = compile_condition(expanded, self.vocabulary, scope)
        span = mapping.spans.get(key)
        for problem in problems:
            offset = original_offset(problem.offset)
            location = map_offset_into_scalar(source, span, text, offset) if span else mapping.value_location(key)
            self.problems.append(source.problem(location, f"{what}: {problem.message}"))
        return condition

    def parts(self, decl: LocatedMap, source: SourceText, scope: Mapping[str, FactSpec]) -> dict[str, str]:
        """A rule's ``where:`` block: named sub-conditions its ``when`` (and ``then``) use by name."""
        raw = decl.get("where")
        if raw is None:
            return {}
        if not isinstance(raw, LocatedMap):
            self.problems.append(source.problem(decl.value_location("where"), "'where' must map names to conditions"))
            return {}
        parts: dict[str, str] = {}
        heads = {name.split(".", 1)[0] for name in self.vocabulary.specs}
        # a part may use the variables the quantifiers of 'when' bind (``b.line != a.line``)
        scope = dict(scope)
        for variable, collection in _QUANTIFIED.findall(str(decl.get("when", ""))):
            spec = self.vocabulary.specs.get(collection)
            if spec is not None and spec.is_collection:
                scope.setdefault(variable, spec)
        for name, text in raw.items():
            if not _PART_NAME.match(name) or name in _KEYWORDS or name in heads or name in scope:
                self.problems.append(source.problem(raw.key_location(name), f"'{name}' cannot name a sub-condition: use "
                                                    "lowercase letters, digits and _, and no keyword or fact namespace"))
                continue
            compiled = self.condition(text, source, raw, name, f"'where: {name}'", scope, parts)
            parts[name] = compiled.text if compiled is not None else "true"  # a broken part: reported once, above
        return parts

    def defaults(self, data: LocatedMap, source: SourceText) -> LocatedMap:
        """A file's ``defaults:`` block (what its rules share), checked for its keys."""
        raw = data.get("defaults")
        if raw is None:
            return LocatedMap.empty(data.location)
        if not isinstance(raw, LocatedMap):
            self.problems.append(source.problem(data.value_location("defaults"), "'defaults' must map rule keys to values"))
            return LocatedMap.empty(data.location)
        self.problems += unknown_keys(source, raw, _DEFAULT_KEYS, "defaults")
        return raw

    def infer_cause(self, rule_id: str) -> str | None:
        """The cause a rule id names: its longest dotted prefix that is a cause id (``env.paths_unset.log`` ->
        ``env.paths_unset``)."""
        parts = rule_id.split(".")
        return next((cause for cause in (".".join(parts[:n]) for n in range(len(parts), 0, -1))
                     if cause in self.catalog), None)

    def rule(self, written: Any, source: SourceText, location: Location, origin: str,
             defaults: LocatedMap | None = None) -> Rule | None:
        if not isinstance(written, LocatedMap):
            self.problems.append(source.problem(location, "a rule must be a mapping"))
            return None
        start = len(self.problems)
        self.problems += unknown_keys(source, written, _RULE_KEYS, "rule")
        decl = written.merged_under(defaults) if defaults else written
        for key in _REQUIRED_RULE_KEYS:
            if key not in decl:
                self.problems.append(source.problem(decl.location, f"rule '{decl.get('id', '?')}' has no '{key}'"))
        rule_id = decl.get("id")
        if "id" in decl and (not isinstance(rule_id, str) or not _RULE_ID.match(rule_id)):
            self.problems.append(source.problem(decl.value_location("id"), "rule id must be lowercase dotted words (e.g. env.paths_unset.log_message)"))
        title = decl.get("title")
        if "title" in decl and (not isinstance(title, str) or not title.strip()):
            self.problems.append(source.problem(decl.value_location("title"), "'title' must be a non-empty string"))
        # the cause: stated, else the id's prefix (a derived-fact rule concludes a cause only when it says so)
        derives = bool(decl.get("then"))
        inferred = self.infer_cause(rule_id) if isinstance(rule_id, str) and not derives else None
        cause = decl.get("cause", inferred)
        if cause is not None and not isinstance(cause, str):
            self.problems.append(source.problem(decl.value_location("cause"), "'cause' must be a cause id of the "
                                                f"catalog (a string), not {_kind_of(cause)}"))
            cause = None
        elif cause is not None and cause not in self.catalog:
            hint = self.vocabulary.suggest(str(cause), self.catalog.ids())
            self.problems.append(source.problem(decl.value_location("cause"), f"unknown cause id '{cause}'" + (f" (did you mean '{hint}'?)" if hint else "")))
        if cause is None and not derives:
            self.problems.append(source.problem(decl.value_location("id") if "id" in decl else decl.location,
                                                f"rule '{rule_id}' concludes no cause: its id starts with no cause id "
                                                "of the catalog; name it <cause id>.<what it sees>, say 'cause:', or "
                                                "give derived facts in 'then'"))
        for key, allowed in (("phase", PHASES), ("severity", SEVERITIES), ("status", STATUSES)):
            if key in decl and decl[key] not in allowed:
                hint = self.vocabulary.suggest(str(decl[key]), list(allowed))
                self.problems.append(source.problem(decl.value_location(key), f"'{key}' must be one of {', '.join(allowed)}"
                                                    + (f" (did you mean '{hint}'?)" if hint else "")))
        # the phase of a cause is the catalog's; a rule that derives facts only says its own
        catalog_cause = self.catalog.get(str(cause)) if cause is not None else None
        phase = catalog_cause.phase if catalog_cause is not None else decl.get("phase")
        if phase is None and cause is None and derives:
            self.problems.append(source.problem(decl.location, f"rule '{rule_id}' has no 'phase' (a rule that concludes "
                                                "no cause must say in which phase its facts matter)"))
        if cause is not None:
            for key in ("severity", "certainty"):
                if key not in decl:
                    self.problems.append(source.problem(decl.location, f"rule '{rule_id}' has no '{key}'"))
        certainty = decl.get("certainty")
        if "certainty" in decl and (isinstance(certainty, bool) or not isinstance(certainty, (int, float)) or not -1 <= certainty <= 1):
            self.problems.append(source.problem(decl.value_location("certainty"), "'certainty' must be a number from -1 to 1"))
        applies_to: dict[str, VersionRange] = {}
        raw_applies = decl.get("applies_to", {})
        if not isinstance(raw_applies, LocatedMap) and raw_applies:
            self.problems.append(source.problem(decl.value_location("applies_to"), "'applies_to' must map package names to version ranges"))
        elif isinstance(raw_applies, LocatedMap):
            for package, spec in raw_applies.items():
                if package not in VERSIONED_PACKAGES:
                    self.problems.append(source.problem(raw_applies.key_location(package), f"applies_to: unknown package '{package}' (one of {', '.join(VERSIONED_PACKAGES)})"))
                    continue
                try:
                    applies_to[package] = VersionRange(str(spec))
                except VersionError as exc:
                    self.problems.append(source.problem(raw_applies.value_location(package), f"applies_to: {exc}"))
        if "signatures" in decl and not isinstance(decl["signatures"], LocatedMap):
            self.problems.append(source.problem(decl.value_location("signatures"), "'signatures' must map signature ids to declarations"))
        # `for:` binds a variable to each item of a collection
        for_var: str | None = None
        for_collection: FactRef | None = None
        scope: dict[str, FactSpec] = {}
        if "for" in decl:
            match = _FOR.match(str(decl["for"]))
            if match is None:
                self.problems.append(source.problem(decl.value_location("for"), "'for' must read '<name> in <collection fact>'"))
            else:
                ref_condition = self.condition(match.group(2), source, decl, "for", "'for'")
                if ref_condition is not None:
                    root = ref_condition.root
                    if isinstance(root, FactRef) and root.spec.is_collection and root.index is None and root.field is None:
                        for_var, for_collection = match.group(1), root
                        scope[for_var] = root.spec
                    else:
                        self.problems.append(source.problem(decl.value_location("for"), f"'{match.group(2)}' is not a collection fact"))
        parts = self.parts(decl, source, scope)
        when = self.condition(decl.get("when"), source, decl, "when", "'when'", scope, parts) if "when" in decl else None
        if when is not None and isinstance(when.root, Literal) and not isinstance(when.root.value, bool):
            self.problems.append(source.problem(decl.value_location("when"), f"'when' is the constant {when.root.value!r}, "
                                                "which is always true or false (quotes inside a 'when: |' block?)"))
        then: list[DerivedFact] = []
        raw_then = decl.get("then", {})
        if raw_then and not isinstance(raw_then, LocatedMap):
            self.problems.append(source.problem(decl.value_location("then"), "'then' must map derived fact names to expressions"))
        elif isinstance(raw_then, LocatedMap):
            if for_var:
                self.problems.append(source.problem(decl.key_location("then"), "a rule with 'for' cannot assert derived facts"))
            for name, expression in raw_then.items():
                if name not in self.vocabulary:
                    hint = self.vocabulary.suggest(name)
                    self.problems.append(source.problem(raw_then.key_location(name), f"derived fact '{name}' is not in the vocabulary" + (f" (did you mean '{hint}'?)" if hint else "")))
                    continue
                compiled = self.condition(expression, source, raw_then, name, f"'then: {name}'", parts=parts)
                if compiled is not None:
                    then.append(DerivedFact(name, compiled))
        fix = decl.get("fix", "")
        if not isinstance(fix, str):
            self.problems.append(source.problem(decl.value_location("fix"), "'fix' must be a string (a Jinja2 template)"))
            fix = ""
        elif fix:
            error = fix_templates.check_syntax(fix)
            if error is not None:
                line, message = error
                offset = sum(len(part) + 1 for part in fix.split("\n")[: line - 1])
                span = decl.spans.get("fix")
                where = map_offset_into_scalar(source, span, fix, offset) if span else decl.value_location("fix")
                self.problems.append(source.problem(where, f"'fix' template: {message}"))
        supports = isinstance(certainty, (int, float)) and certainty > 0
        if cause is not None and supports and not fix.strip():
            self.problems.append(source.problem(decl.location, f"rule '{rule_id}' supports a cause but has no 'fix'"))
        references = decl.get("references", [])
        if isinstance(references, str):
            references = [references]
        if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
            self.problems.append(source.problem(decl.value_location("references"), "'references' must be a list of strings"))
            references = []
        overrides = decl.get("overrides", False)
        if not isinstance(overrides, bool):
            self.problems.append(source.problem(decl.value_location("overrides"), "'overrides' must be true or false"))
        tests = self.tests(decl, source)
        if len(self.problems) > start or when is None:
            return None
        return Rule(
            id=str(rule_id), title=str(title).strip(), cause=cause, phase=str(phase),
            severity=str(decl.get("severity", DERIVED_SEVERITY)), certainty=float(certainty or 0),
            status=str(decl.get("status", DEFAULT_STATUS)), when=when, fix=fix, references=tuple(references),
            description=str(decl.get("description", "")), for_var=for_var, for_collection=for_collection,
            applies_to=applies_to, then=tuple(then), tests=tests,
            signatures=tuple(str(s) for s in (decl.get("signatures") or {})), origin=origin, location=decl.location,
            overrides=bool(overrides), fix_names=fix_templates.template_names(fix) if fix else frozenset(),
            declared={key: written.key_location(key) for key in written}, inferred_cause=inferred,
            stated_phase=str(decl["phase"]) if "phase" in decl else None,
            where={name: str(text) for name, text in (decl.get("where") or {}).items()},
            when_written=str(decl.get("when", "")))

    def _short_test(self, item: LocatedMap, source: SourceText) -> tuple[str, Any, Any] | None | bool:
        """(expect, log, facts) of a test in the short form (``fire: <log text>``, ``quiet: {fact: value}``); None
        for the long form; False (with the problem noted) for a short form that cannot be read."""
        keys = [key for key in _SHORT_TESTS if key in item]
        if not keys:
            return None
        key = keys[0]
        clash = [k for k in ("expect", "log", "facts", *keys[1:]) if k in item]
        if clash:
            self.problems.append(source.problem(item.key_location(clash[0]), f"a rule test says '{key}: <log or facts>' "
                                                f"or 'expect:' with 'log'/'facts', not both ('{clash[0]}')"))
            return False
        value = item.get(key)
        if isinstance(value, str):
            return key, value, {}
        if isinstance(value, Mapping):
            return key, None, value
        self.problems.append(source.problem(item.value_location(key), f"'{key}:' takes the test's log (text) or its "
                                            "facts (a mapping of fact names to values)"))
        return False

    def tests(self, decl: LocatedMap, source: SourceText) -> tuple[RuleTest, ...]:
        raw = decl.get("tests", [])
        if not isinstance(raw, LocatedList):
            if raw:
                self.problems.append(source.problem(decl.value_location("tests"), "'tests' must be a list"))
            return ()
        tests: list[RuleTest] = []
        for index, item in enumerate(raw):
            location = raw.item_location(index)
            if not isinstance(item, LocatedMap):
                self.problems.append(source.problem(location, "a rule test must be a mapping"))
                continue
            self.problems += unknown_keys(source, item, _TEST_KEYS, "rule test")
            short = self._short_test(item, source)
            if short is False:
                continue
            expect, log, facts = short if isinstance(short, tuple) else (item.get("expect"), item.get("log"),
                                                                        item.get("facts", {}))
            if expect not in ("fire", "quiet"):
                self.problems.append(source.problem(item.value_location("expect") if "expect" in item else location,
                                                    "a rule test needs 'fire: <log>', 'quiet: <log>' or 'expect: fire' "
                                                    "/ 'expect: quiet'"))
                continue
            if log is not None and not isinstance(log, str):
                self.problems.append(source.problem(item.value_location("log"), "'log' must be a string"))
                continue
            if not isinstance(facts, Mapping):
                self.problems.append(source.problem(item.value_location("facts"), "'facts' must map fact names to values"))
                continue
            for name, value in facts.items():
                error = self.vocabulary.check_value(name, _plain(value))
                if error:
                    where = facts.key_location(name) if isinstance(facts, LocatedMap) else location
                    self.problems.append(source.problem(where, f"rule test: {error}"))
            if log is None and not facts:
                self.problems.append(source.problem(location, "a rule test needs a 'log' and/or 'facts'"))
            evidence = _listed(item.get("evidence", []))
            if not all(isinstance(e, (int, str)) and not isinstance(e, bool) for e in evidence):
                self.problems.append(source.problem(item.value_location("evidence"), "'evidence' must list log line numbers "
                                                    "(1 is the first line of 'log') or text of those lines"))
                evidence = []
            lines = (log or "").splitlines()
            for line in (e for e in evidence if isinstance(e, int)):
                if not 1 <= line <= len(lines):
                    self.problems.append(source.problem(item.value_location("evidence"), f"'evidence': the test's log "
                                                        f"has no line {line} (it has {len(lines)})"))
            fix_contains = _listed(item.get("fix_contains", []))
            if not all(isinstance(text, str) and text for text in fix_contains):
                self.problems.append(source.problem(item.value_location("fix_contains"), "'fix_contains' must be a text "
                                                    "or a list of texts the rendered fix contains"))
                fix_contains = []
            if (evidence or fix_contains) and expect != "fire":
                self.problems.append(source.problem(location, "'evidence' and 'fix_contains' need 'expect: fire'"))
            todo = item.get("todo")
            if todo is not None and (not isinstance(todo, str) or not todo.strip()):
                self.problems.append(source.problem(item.value_location("todo"), "'todo' says why the rule misses "
                                                    "this case today (a non-empty text)"))
                todo = None
            tests.append(RuleTest(str(item.get("name", f"test {index + 1}")), str(expect), log,
                                  {k: _plain(v) for k, v in facts.items()}, location, tuple(evidence),
                                  tuple(str(t) for t in fix_contains), todo))
        return tuple(tests)


_PART_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_QUANTIFIED = re.compile(r"\b(?:any|all|count|sum|min|max|avg)\s*\(?\s*([A-Za-z_]\w*)\s+in\s+([A-Za-z_][\w.]*)")
_KEYWORDS = {"and", "or", "not", "in", "any", "all", "exists", "unknown", "true", "false", "null", "contains",
             "matches", "count", "sum", "min", "max", "avg"}
_WORD_OR_STRING = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|(?<![\w.])[A-Za-z_]\w*(?![\w.(\[])""")


def expand_parts(text: str, parts: Mapping[str, str]) -> tuple[str, Callable[[int], int]]:
    """Replace the names of sub-conditions by their parenthesised text; returns the expanded condition and a
    function mapping an offset in it back to the original text (into a replaced name: the name's start).

    >>> expand_parts("oom and not conf", {"oom": "match.cuda_oom", "conf": "exists env.X"})[0]
    '(match.cuda_oom) and not (exists env.X)'
    """
    if not parts:
        return text, lambda offset: offset
    out: list[str] = []
    segments: list[tuple[int, int, int]] = []  # (expanded start, expanded end, original start) of replacements
    position = length = 0
    for match in _WORD_OR_STRING.finditer(text):
        word = match.group()
        if word not in parts:
            continue
        out.append(text[position:match.start()])
        length += match.start() - position
        replacement = f"({parts[word]})"
        segments.append((length, length + len(replacement), match.start()))
        out.append(replacement)
        length += len(replacement)
        position = match.end()
    out.append(text[position:])

    def original(offset: int) -> int:
        shift = 0
        for start, end, source_start in segments:
            if offset < start:
                break
            if offset < end:
                return source_start
            shift = end - (source_start + _name_length(text, source_start))
        return offset - shift

    return "".join(out), original


def _name_length(text: str, start: int) -> int:
    match = re.match(r"\w+", text[start:])
    return len(match.group()) if match else 0


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def stratify(rules: list[Rule]) -> tuple[list[Rule], list[list[Rule]]]:
    """Order rules so that a rule runs after every rule whose derived facts it reads.

    Returns (ordered rules, cycles); each cycle lists rules that depend on each other through derived facts.
    Rules that do not depend on each other keep their load order, so evaluation is deterministic.
    """
    writers: dict[str, list[int]] = {}
    for index, rule in enumerate(rules):
        for name in rule.facts_written:
            writers.setdefault(name, []).append(index)
    def reads(rule: Rule) -> set[str]:
        return set(rule.facts_read) | {name for name in writers if name.split(".", 1)[0] in rule.fix_names}

    depends = {index: sorted({w for name in reads(rule) for w in writers.get(name, []) if w != index})
               for index, rule in enumerate(rules)}
    state: dict[int, int] = {}  # 1 = visiting, 2 = done
    order: list[int] = []
    cycles: list[list[Rule]] = []

    def visit(index: int, path: list[int]) -> None:
        if state.get(index) == 2:
            return
        if state.get(index) == 1:
            cycle = path[path.index(index):]
            cycles.append([rules[i] for i in cycle])
            return
        state[index] = 1
        for dependency in depends[index]:
            visit(dependency, path + [index])
        state[index] = 2
        order.append(index)

    for index in range(len(rules)):
        visit(index, [])
    self_cycles = [[rule] for rule in rules if rule.facts_written & rule.facts_read]
    return [rules[i] for i in order], cycles + self_cycles


def load_rule_pack(site_dirs: Iterable[str | Path] = (), *, builtin: bool = True,
                   builtin_dir: Path | None = None, vocabulary_dir: Path | None = None) -> RulePack:
    """Load and check the built-in rules plus site folders; raises RuleLoadError with every problem."""
    loader = _Loader()
    rule_dir = builtin_dir or builtin_rules_dir()
    vocab_dir = vocabulary_dir or builtin_vocabulary_dir()
    site = [Path(d) for d in site_dirs]
    for folder in site:
        if not folder.is_dir():
            loader.problems.append(RuleProblem(Location(str(folder), 1, 1), "site rule folder does not exist"))
    site = [folder for folder in site if folder.is_dir()]
    vocab_files = sorted(vocab_dir.glob("*.yaml")) + (sorted(rule_dir.rglob("*" + VOCABULARY_SUFFIX)) if builtin else [])
    for folder in site:
        vocab_files += sorted(folder.rglob("*" + VOCABULARY_SUFFIX))
    loader.load_vocabulary(vocab_files)
    catalog_path = rule_dir / CATALOG_FILE
    read = loader.read(catalog_path)
    if read is not None:
        loader.problems += loader.catalog.add_phase_groups(read[0], read[1], "builtin")
    files: list[tuple[Path, str]] = [(path, "builtin") for path in (_rule_files(rule_dir) if builtin else [])]
    for folder in site:
        files += [(path, str(folder)) for path in _rule_files(folder)]
    parsed: list[tuple[LocatedMap, SourceText, str]] = []
    for path, origin in files:
        result = loader.read(path)
        if result is None:
            continue
        data, source = result
        loader.problems += unknown_keys(source, data, _FILE_KEYS, "rule file")
        causes = data.get("causes")
        if causes is not None:
            if origin == "builtin":
                loader.problems.append(source.problem(data.key_location("causes"), "built-in causes belong in rules/causes.yaml"))
            elif isinstance(causes, LocatedMap):
                loader.problems += loader.catalog.add_phase_groups(causes, source, origin)
            else:
                loader.problems.append(source.problem(data.value_location("causes"), "'causes' must map phases to {cause id: description}"))
        loader.not_diagnosable(data, source)
        signatures = data.get("signatures")
        if signatures is None:
            pass
        elif not isinstance(signatures, LocatedMap):
            loader.problems.append(source.problem(data.value_location("signatures"), "'signatures' must be a mapping"))
        else:
            for sig_id, decl in signatures.items():
                loader.signature(sig_id, decl, source, signatures.key_location(sig_id))
        parsed.append((data, source, origin))
    # Inline signatures of rules must be declared before any condition is compiled.
    for data, source, _ in parsed:
        declared = data.get("rules")
        for decl in declared if isinstance(declared, LocatedList) else []:  # not a list: reported below
            if isinstance(decl, LocatedMap) and isinstance(decl.get("signatures"), LocatedMap):
                for sig_id, sig_decl in decl["signatures"].items():
                    loader.signature(sig_id, sig_decl, source, decl["signatures"].key_location(sig_id))
    builtin_rules: dict[str, Rule] = {}
    site_rules: list[Rule] = []
    disabled: dict[str, str] = {}
    disable_requests: list[tuple[str, SourceText, Location]] = []
    seen: dict[str, Location] = {}
    for data, source, origin in parsed:
        rules = data.get("rules")
        if rules is None:
            rules = LocatedList()
        elif not isinstance(rules, LocatedList):
            loader.problems.append(source.problem(data.value_location("rules"), "'rules' must be a list"))
            rules = LocatedList()
        defaults = loader.defaults(data, source)
        for index, decl in enumerate(rules):
            rule = loader.rule(decl, source, rules.item_location(index), origin, defaults)
            if rule is None:
                continue
            if rule.id in seen and not (origin != "builtin" and rule.overrides and rule.id in builtin_rules):
                loader.problems.append(source.problem(rule.location or rules.item_location(index),
                                                      f"duplicate rule id '{rule.id}' (first at {seen[rule.id]})"
                                                      + (": a site rule must say 'overrides: true' to replace a built-in rule" if origin != "builtin" and rule.id in builtin_rules else "")))
                continue
            if rule.overrides and (origin == "builtin" or rule.id not in builtin_rules):
                loader.problems.append(source.problem(rule.location or rules.item_location(index),
                                                      f"rule '{rule.id}' says 'overrides: true' but there is no built-in rule '{rule.id}' to override"))
                continue
            seen.setdefault(rule.id, rule.location or rules.item_location(index))
            if origin == "builtin":
                builtin_rules[rule.id] = rule
            else:
                site_rules.append(rule)
        raw_disable = data.get("disable", [])
        if raw_disable and (not isinstance(raw_disable, LocatedList) or not all(isinstance(x, str) for x in raw_disable)):
            loader.problems.append(source.problem(data.value_location("disable"), "'disable' must be a list of rule ids"))
        elif isinstance(raw_disable, LocatedList):
            for index, rule_id in enumerate(raw_disable):
                disable_requests.append((rule_id, source, raw_disable.item_location(index)))
    for rule in site_rules:
        if rule.overrides:
            builtin_rules.pop(rule.id, None)
    all_rules = list(builtin_rules.values()) + site_rules
    known_ids = {rule.id for rule in all_rules}
    for rule_id, source, location in disable_requests:
        if rule_id not in known_ids:
            hint = loader.vocabulary.suggest(rule_id, sorted(known_ids))
            loader.problems.append(source.problem(location, f"cannot disable unknown rule '{rule_id}'" + (f" (did you mean '{hint}'?)" if hint else "")))
        else:
            disabled[rule_id] = source.path
    active = [rule for rule in all_rules if rule.id not in disabled and rule.status != "deprecated"]
    deprecated = [rule for rule in all_rules if rule.status == "deprecated"]
    ordered, cycles = stratify(active)
    for cycle in cycles:
        names = " -> ".join(rule.id for rule in cycle)
        first = cycle[0]
        loader.problems.append(RuleProblem(first.location or Location("?", 1, 1),
                                           f"derived facts form a cycle between rules: {names}"))
    if loader.problems:
        raise RuleLoadError(loader.problems)
    return RulePack(
        rules=ordered, signatures=SignatureSet(sorted(loader.signatures.values(), key=lambda s: s.id)),
        vocabulary=loader.vocabulary, catalog=loader.catalog,
        sources=[str(rule_dir)] + [str(folder) for folder in site], disabled=disabled, deprecated=deprecated,
        version=loader.digest.hexdigest()[:12], not_diagnosable=loader.unreachable)


def load_default_pack(extra_dirs: Iterable[str | Path] = (), environ: Mapping[str, str] | None = None) -> RulePack:
    return load_rule_pack(site_rule_dirs(extra_dirs, environ))


def _kind_of(value: Any) -> str:
    """How a rule author would name a YAML value's type in an error message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
