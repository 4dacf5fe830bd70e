"""The support bundle: the facts of the user's machine, written there and diagnosed anywhere.

``diagnose collect -o bundle.json`` runs every probe on the user's machine (and the log and dataset probes
when ``--log``/``--dataset`` are given) and writes their facts, the probes' findings, the log lines that
facts point at (with a few lines of context, never image data) and the diagnosis made there, redacted by
default. ``diagnose --bundle bundle.json`` on a support machine reads the facts back instead of probing
that machine, and gives the same diagnosis. The format is versioned and documented in docs/bundle-format.md.

>>> document = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION + 1}
>>> check_format(document, "b.json")
Traceback (most recent call last):
...
nnunet_doctor.engine.errors.InputError: b.json: bundle format version 2 is newer than this nnunet-doctor reads (1); upgrade nnunet-doctor
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from msgspec import Struct, field

from nnunet_doctor import __version__
from nnunet_doctor.engine.diagnosis import Diagnosis, Finding
from nnunet_doctor.engine.errors import InputError
from nnunet_doctor.engine.facts import Fact, Provenance, Record, Unknown
from nnunet_doctor.engine.sources import BUNDLE, Source
from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.probes.base import LogSource
from nnunet_doctor.probes.runner import ProbeReport

from .redaction import Redactor, learn_personal_facts, redact_document

SCHEMA = "nnunet-doctor/bundle"
SCHEMA_VERSION = 1
#: lines of context kept around each log line a fact points at, and the most excerpt lines per log
CONTEXT_LINES = 3
MAX_EXCERPT_LINES = 600
#: the largest bundle read (a real one is well under 10 MiB: facts and a few hundred log lines)
MAX_BUNDLE_BYTES = 64 << 20


class Bundle(Struct):
    """A bundle read back: what the probes established on the user's machine, and what was concluded there."""

    facts: list[Fact]
    findings: list[Finding]
    probe_reports: list[ProbeReport]
    diagnosis: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


# -- writing ---------------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def fact_entry(fact: Fact) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": fact.name, "provenance": fact.provenance.to_json()}
    if isinstance(fact.value, Unknown):
        entry["unknown"] = fact.value.reason
    else:
        entry["value"] = _plain(fact.value)
    return entry


def _referenced_lines(facts: Iterable[Fact]) -> dict[str, set[int]]:
    """Log file -> the line numbers that facts (and the records of collections) point at."""
    lines: dict[str, set[int]] = {}

    def note(provenance: Provenance | None) -> None:
        if provenance is not None and provenance.source.is_log and provenance.file and provenance.lines:
            first, last = provenance.lines
            lines.setdefault(provenance.file, set()).update(range(first, last + 1))

    for fact in facts:
        note(fact.provenance)
        if isinstance(fact.value, list):
            for item in fact.value:
                if isinstance(item, Record):
                    note(item.provenance)
    return lines


def log_excerpts(sources: Iterable[LogSource], facts: Iterable[Fact]) -> list[dict[str, Any]]:
    """The log lines facts point at, each with :data:`CONTEXT_LINES` lines around it, by original line number."""
    from nnunet_doctor.probes.log.reader import numbered_lines

    wanted = _referenced_lines(facts)
    excerpts = []
    for source in sources:
        anchors = wanted.get(source.name)
        if not anchors:
            continue
        keep = {n for anchor in anchors for n in range(anchor - CONTEXT_LINES, anchor + CONTEXT_LINES + 1)}
        try:
            numbered = [(n, line) for _, n, line in numbered_lines(source) if n in keep]
        except InputError:
            continue
        while numbered and not numbered[-1][1]:  # the empty "line" after the last newline
            numbered.pop()
        excerpts.append({"file": source.name, "lines": [{"line": n, "text": line} for n, line in numbered[:MAX_EXCERPT_LINES]],
                         "truncated": len(numbered) > MAX_EXCERPT_LINES})
    return excerpts


def build_bundle(facts: Iterable[Fact], findings: Iterable[Finding], probe_reports: Iterable[ProbeReport],
                 diagnosis: Diagnosis, pack: RulePack, inputs: Mapping[str, Any], sources: Iterable[LogSource],
                 redactor: Redactor | None) -> dict[str, Any]:
    """The bundle document; redacted (and scanned: :class:`~.redaction.RedactionError`) unless ``redactor`` is None."""
    all_facts = list(facts)
    document: dict[str, Any] = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "tool": {"name": "nnunet-doctor", "version": __version__},
        "rule_pack": {"version": pack.version, "rules": len(pack.rules), "sources": list(pack.sources)},
        "redaction": {"enabled": redactor is not None},
        "inputs": dict(inputs),
        "probes": [{"name": r.name, "status": r.status, "seconds": round(r.seconds, 3), "detail": r.detail}
                   for r in probe_reports],
        "findings": [{"source": str(f.source), "message": f.message, "severity": f.severity} for f in findings],
        "facts": [fact_entry(fact) for fact in all_facts],
        "log_excerpts": log_excerpts(sources, all_facts),
        "diagnosis": [{"cause": cause.cause, "certainty": round(cause.certainty, 4), "rule": cause.best.rule.id}
                      for cause in diagnosis.causes],
    }
    if redactor is None:
        return document
    learn_personal_facts(redactor, pack.vocabulary, all_facts)
    redacted = redact_document(document, redactor)
    redacted["redaction"] = {"enabled": True, "replaced": redactor.summary()}
    return redacted


def write_bundle(document: Mapping[str, Any], path: Path, inputs: Iterable[str] = ()) -> None:
    """Write the bundle atomically; refuses a path that is one of ``inputs``."""
    from .output import write_output

    write_output(json.dumps(document, indent=1, ensure_ascii=False) + "\n", path, inputs, what="bundle")


# -- reading ---------------------------------------------------------------------------------------------

def check_format(document: Any, name: str) -> None:
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise InputError(f"{name}: not an nnunet-doctor bundle (no \"schema\": \"{SCHEMA}\")")
    version = document.get("schema_version")
    if not isinstance(version, int):
        raise InputError(f"{name}: bundle without a schema_version")
    if version > SCHEMA_VERSION:
        raise InputError(f"{name}: bundle format version {version} is newer than this nnunet-doctor reads "
                         f"({SCHEMA_VERSION}); upgrade nnunet-doctor")


class _BadField(Exception):
    """A field of the bundle that is not what the format says (its place, and what was expected)."""

    def __init__(self, where: str, expected: str, value: Any):
        shown = json.dumps(value, ensure_ascii=False, default=str)
        super().__init__(f"{where}: expected {expected}, found {shown[:60]}{'...' if len(shown) > 60 else ''}")


def _provenance(data: Any, where: str) -> Provenance:
    if not isinstance(data, Mapping):
        raise _BadField(where, "an object", data)
    source, file, lines, detail = data.get("source"), data.get("file"), data.get("lines"), data.get("detail")
    if not isinstance(source, str):
        raise _BadField(f"{where}.source", "a string", source)
    if file is not None and not isinstance(file, str):
        raise _BadField(f"{where}.file", "a string or null", file)
    if detail is not None and not isinstance(detail, str):
        raise _BadField(f"{where}.detail", "a string or null", detail)
    if lines is not None and not (isinstance(lines, list) and len(lines) == 2
                                  and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lines)):
        raise _BadField(f"{where}.lines", "[first, last] line numbers", lines)
    return Provenance(Source.parse(source), file, (lines[0], lines[1]) if lines else None, detail)


def _record(item: Any, fallback: Provenance, where: str) -> Record:
    if isinstance(item, Mapping) and "fields" in item:
        if not isinstance(item["fields"], Mapping):
            raise _BadField(f"{where}.fields", "an object", item["fields"])
        provenance = _provenance(item["provenance"], f"{where}.provenance") if "provenance" in item else fallback
        return Record(dict(item["fields"]), provenance)
    if not isinstance(item, Mapping):
        raise _BadField(where, "an object", item)
    return Record(dict(item), fallback)


def fact_from_entry(entry: Mapping[str, Any], pack: RulePack, where: str = "facts[]") -> Fact | str:
    """The fact of one bundle entry, or why it cannot be used here (raises _BadField for a malformed entry)."""
    name = entry.get("name")
    if not isinstance(name, str):
        raise _BadField(f"{where}.name", "a fact name", name)
    spec = pack.vocabulary.get(name)
    if spec is None:
        return f"fact '{name}' is not in this rule pack's vocabulary (collected with another version?)"
    provenance = _provenance(entry["provenance"], f"{where}.provenance") if "provenance" in entry else Provenance(BUNDLE)
    if "unknown" in entry:
        return Fact(name, Unknown(str(entry["unknown"])), provenance)
    value = entry.get("value")
    if spec.is_collection:
        if not isinstance(value, list):
            return f"fact '{name}' is a collection but the bundle holds {type(value).__name__}"
        value = [_record(item, provenance, f"{where}.value[{index}]") for index, item in enumerate(value)]
    error = pack.vocabulary.check_value(name, value)
    return error if error else Fact(name, value, provenance)


def _list(document: Mapping[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise _BadField(key, "a list", value)
    return value


def _objects(document: Mapping[str, Any], key: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The entries of a list of objects, each with its place (``facts[3]``); a non-object is a _BadField."""
    for index, item in enumerate(_list(document, key)):
        if not isinstance(item, Mapping):
            raise _BadField(f"{key}[{index}]", "an object", item)
        yield f"{key}[{index}]", item


def _text(item: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = item.get(key, default)
    if not isinstance(value, str):
        raise _BadField(f"{where}.{key}", "a string", value)
    return value


def _number(item: Mapping[str, Any], key: str, where: str) -> float:
    value = item.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise _BadField(f"{where}.{key}", "a number", value)
    return float(value)


def read_bundle(path: Path, pack: RulePack) -> Bundle:
    """Read a bundle; anything that is not of the documented format is an InputError naming the field."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read bundle: {exc.strerror or exc}") from None
    if len(data) > MAX_BUNDLE_BYTES:
        raise InputError(f"{path}: larger than {MAX_BUNDLE_BYTES >> 20} MiB; not a bundle written by diagnose collect")
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); not a bundle") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply; not a bundle written by diagnose collect") from None
    except ValueError as exc:
        raise InputError(f"{path}: not JSON: {exc}") from None
    check_format(document, str(path))
    try:
        return _bundle(document, pack)
    except _BadField as exc:
        raise InputError(f"{path}: {exc}") from None


def _bundle(document: Mapping[str, Any], pack: RulePack) -> Bundle:
    facts: list[Fact] = []
    findings = []
    for where, item in _objects(document, "findings"):
        findings.append(Finding(Source.parse(_text(item, "source", where, "bundle")), _text(item, "message", where, ""),
                                _text(item, "severity", where, "warning")))
    for where, entry in _objects(document, "facts"):
        fact = fact_from_entry(entry, pack, where)
        if isinstance(fact, Fact):
            facts.append(fact)
        else:
            findings.append(Finding(BUNDLE, fact, "warning"))
    reports = []
    for where, item in _objects(document, "probes"):
        reports.append(ProbeReport(_text(item, "name", where, ""), _text(item, "status", where, ""),
                                   _number(item, "seconds", where), _text(item, "detail", where, "")))
    diagnosis = []
    for where, item in _objects(document, "diagnosis"):
        diagnosis.append({"cause": _text(item, "cause", where, ""), "certainty": _number(item, "certainty", where),
                          "rule": _text(item, "rule", where, "")})
    meta = {key: document.get(key) for key in ("created", "tool", "rule_pack", "redaction", "inputs", "log_excerpts")}
    for key in ("tool", "rule_pack", "redaction", "inputs"):
        if meta[key] is not None and not isinstance(meta[key], Mapping):
            raise _BadField(key, "an object", meta[key])
    if meta["log_excerpts"] is not None and not isinstance(meta["log_excerpts"], list):
        raise _BadField("log_excerpts", "a list", meta["log_excerpts"])
    return Bundle(facts, findings, reports, diagnosis, meta)


def compare(bundle: Bundle, diagnosis: Diagnosis, pack: RulePack) -> Finding | None:
    """A finding when this diagnosis differs from the one made on the user's machine."""
    here = [(cause.cause, round(cause.certainty, 4)) for cause in diagnosis.causes]
    there = [(str(c.get("cause")), round(float(c.get("certainty", 0.0)), 4)) for c in bundle.diagnosis]
    if here == there:
        return None
    then = (bundle.meta.get("rule_pack") or {}).get("version", "?")
    return Finding(BUNDLE, f"this diagnosis differs from the one made when the bundle was collected (rule pack {then} "
                             f"there, {pack.version} here): there {[c for c, _ in there]}, here {[c for c, _ in here]}",
                   "info")
