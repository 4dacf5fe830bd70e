"""The report: a plain, versioned document built from a diagnosis, rendered by Jinja2 templates.

:func:`build_report` computes everything a template shows (ranks, marks, bands, evidence lines); the
templates in ``reports_templates/`` only lay it out. The same document, serialised, is the JSON output;
its schema is documented in ``docs/report-format.md`` and versioned by ``schema_version``.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

from nnunet_doctor import __version__
from nnunet_doctor.engine.certainty import MEDIUM, certainty_band
from nnunet_doctor.engine.chaining import Firing
from nnunet_doctor.engine.diagnosis import Evidence, RankedCause, UnknownThatMattered, record_text
from nnunet_doctor.engine.evaluation import UNKNOWN
from nnunet_doctor.engine.facts import Fact, Provenance, Record, Unknown
from nnunet_doctor.engine.versions import Version

from .pipeline import DiagnosisResult

SCHEMA = "nnunet-doctor/report"
SCHEMA_VERSION = 1
FORMATS = ("terminal", "markdown", "html", "json")
MARKS = {"high": "✗", "medium": "!", "low": "·"}
STYLES = {"high": "red", "medium": "yellow", "low": "dim"}
#: a diagnosis "found something" (exit code 1) when a cause reaches this certainty
FOUND_THRESHOLD = MEDIUM  # the one definition lives in engine/certainty.py


def jsonable(value: Any) -> Any:
    if value is UNKNOWN or isinstance(value, Unknown):
        return None
    if isinstance(value, Version):
        return str(value)
    if isinstance(value, Record):
        return jsonable(dict(value.fields))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _source(provenance: Provenance | None) -> dict[str, Any]:
    return provenance.to_json() if provenance else {"source": "unknown"}


def _evidence(item: Evidence) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": item.kind, "text": item.text, "source": _source(item.provenance),
                           "where": item.provenance.describe()}
    if item.kind == "log":
        out["file"] = item.provenance.file
        out["line"] = item.provenance.lines[0] if item.provenance.lines else None
    if item.name is not None:
        out["name"] = item.name
    if item.value is not None:
        out["value"] = jsonable(item.value)
    return out


def _fact_entry(fact: Fact, witnesses: list[Record]) -> dict[str, Any]:
    """A fact as the report shows it; a collection is summarised by its size and the items that matched."""
    source = _source(fact.provenance)
    if isinstance(fact.value, list) and fact.value and isinstance(fact.value[0], Record):
        matched = [{"text": record_text(record), "where": (record.provenance or fact.provenance).describe()}
                   for record in witnesses]
        display = f"{len(fact.value)} item{'s' if len(fact.value) != 1 else ''}"
        if matched:
            display += "; matched: " + "; ".join(f"{m['where']}: {m['text']}" for m in matched[:5])
        return {"value": {"items": len(fact.value), "matched": matched}, "source": source, "display": display}
    value = jsonable(fact.value)
    return {"value": value, "source": source,
            "display": f"{json.dumps(value, ensure_ascii=False)} ({fact.provenance.describe()})"}


def _explanation(firing: Firing) -> dict[str, Any]:
    rule = firing.rule
    witnesses = firing.evaluation.witnesses
    return {
        "rule": rule.id, "title": rule.title, "certainty": rule.certainty, "status": rule.status,
        "origin": rule.origin, "condition": " ".join(rule.when.text.split()),
        "bindings": {name: jsonable(record) for name, record in firing.bindings.items()},
        "trace": [{"condition": text, "value": jsonable(value)} for text, value in firing.evaluation.trace],
        "facts": {name: _fact_entry(fact, witnesses.get(name, []))
                  for name, fact in sorted(firing.evaluation.facts_used.items())},
        "asserted": {fact.name: jsonable(fact.value) for fact in firing.asserted},
    }


def _cause(rank: int, cause: RankedCause) -> dict[str, Any]:
    best = cause.best
    band = certainty_band(cause.certainty)
    return {
        "rank": rank, "cause": cause.cause, "rule": best.rule.id, "title": best.rule.title,
        "description": cause.description, "phase": cause.phase, "severity": best.rule.severity,
        "certainty": round(cause.certainty, 4), "band": band, "mark": MARKS[band], "style": STYLES[band],
        "status": best.rule.status, "fix": best.fix, "references": list(best.rule.references),
        "evidence": [_evidence(item) for item in cause.evidence],
        "rules": [{"rule": f.rule.id, "certainty": f.certainty, "effect": "supports"} for f in cause.supporting]
        + [{"rule": f.rule.id, "certainty": f.certainty, "effect": "weakens"} for f in cause.weakening],
        "explanation": [_explanation(f) for f in cause.supporting + cause.weakening],
    }


def _unknown_inputs(unknowns: list[UnknownThatMattered]) -> list[dict[str, Any]]:
    """The unknowns grouped by what would settle them: one entry per missing input, most checks first."""
    groups: dict[str, list[UnknownThatMattered]] = {}
    for unknown in unknowns:
        groups.setdefault(unknown.settled_by or "no probe establishes it", []).append(unknown)
    out = []
    for settled_by, members in groups.items():
        rules = sorted({rule for member in members for rule in member.rules})
        reasons = sorted({member.reason for member in members if member.reason})
        out.append({"settled_by": settled_by, "facts": [member.fact for member in members], "rules": len(rules),
                    "causes": sorted({cause for member in members for cause in member.causes}), "reasons": reasons})
    return sorted(out, key=lambda group: (-group["rules"], group["settled_by"]))


def build_report(result: DiagnosisResult, top: int | None = None) -> dict[str, Any]:
    diagnosis = result.diagnosis
    request = result.request
    causes = [_cause(index + 1, cause) for index, cause in enumerate(diagnosis.causes)]
    shown = causes[:top] if top else causes
    used: dict[str, Any] = {}
    for cause in diagnosis.causes:
        for firing in cause.supporting + cause.weakening:
            for name, fact in firing.evaluation.facts_used.items():
                used[name] = _fact_entry(fact, firing.evaluation.witnesses.get(name, []))
    found = any(cause["certainty"] >= FOUND_THRESHOLD for cause in causes)
    pack = diagnosis.pack
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "tool": {"name": "nnunet-doctor", "version": __version__},
        "rule_pack": {"version": pack.version, "rules": len(pack.rules), "signatures": len(pack.signatures),
                      "sources": pack.sources, "disabled": sorted(pack.disabled), "algebra": diagnosis.algebra},
        "inputs": {"logs": [("<stdin>" if log == "-" else log) for log in request.logs] + list(request.log_texts),
                   "dataset": request.dataset,
                   "results": str(request.results) if request.results else None, "offline": request.offline},
        "summary": {"found": found, "causes": len(causes), "shown": len(shown),
                    "top": shown[0]["cause"] if shown else None, "unexplained": result.unexplained is not None},
        "unexplained": result.unexplained.to_json() if result.unexplained is not None else None,
        "causes": shown,
        "unknowns": [{"fact": u.fact, "settled_by": u.settled_by, "reason": u.reason, "rules": list(u.rules),
                      "causes": list(u.causes)} for u in diagnosis.unknowns],
        "unknown_inputs": _unknown_inputs(diagnosis.unknowns),
        "findings": [{"source": f.source, "message": f.message, "severity": f.severity} for f in diagnosis.findings],
        "probes": [{"name": r.name, "status": r.status, "seconds": round(r.seconds, 3), "detail": r.detail}
                   for r in result.probe_reports],
        "facts": dict(sorted(used.items())),
    }


_ANSI = {"red": "\x1b[31m", "yellow": "\x1b[33m", "green": "\x1b[32m", "dim": "\x1b[2m", "bold": "\x1b[1m"}


@lru_cache(maxsize=2)
def template_environment(autoescape: bool) -> jinja2.Environment:
    """The Jinja2 environment of the report templates (autoescaping for HTML)."""
    loader = jinja2.FileSystemLoader(str(resources.files("nnunet_doctor.reports_templates")))
    env = jinja2.Environment(loader=loader, autoescape=autoescape, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    env.filters["indent_block"] = lambda text, width=4: "\n".join(
        (" " * width + line) if line.strip() else "" for line in str(text).splitlines())
    return env


def render(report: dict[str, Any], fmt: str, *, color: bool = False, verbose: bool = False,
           explain: bool = False, template_name: str | None = None) -> str:
    """Lay ``report`` out in ``fmt`` with its template (or with ``template_name``, e.g. the environment check)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    template = template_environment(fmt == "html").get_template(template_name or f"{fmt}.j2")

    def style(text: Any, name: str) -> str:
        return f"{_ANSI[name]}{text}\x1b[0m" if color and name in _ANSI else str(text)

    return template.render(report=report, verbose=verbose, explain=explain, style=style)
