"""The diagnosis pipeline: inputs -> probes -> facts -> engine + rules -> diagnosis.

>>> from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis
>>> result = run_diagnosis(DiagnosisRequest(log_texts={"pasted.log": "RuntimeError: CUDA out of memory."},
...                                         offline=True))
>>> result.diagnosis.causes[0].cause
'train.gpu_oom'
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Mapping

from nnunet_doctor.engine.diagnosis import Diagnosis, Finding, diagnose
from nnunet_doctor.engine.facts import Fact, FactBase, Provenance, Record
from nnunet_doctor.engine.loader import RulePack, site_rule_dirs
from nnunet_doctor.engine.pack_cache import load_cached_pack
from nnunet_doctor.probes.base import LogSource, ProbeContext
from nnunet_doctor.probes.runner import PROBES, ProbeReport, run_probes


@dataclass
class DiagnosisRequest:
    logs: list[str] = field(default_factory=list)  # paths, or "-" for ``stdin``
    log_texts: dict[str, str] = field(default_factory=dict)  # name -> text (rule tests, callers with text in hand)
    stdin: BinaryIO | None = None  # what "-" reads, as a stream (never read whole)
    dataset: str | None = None
    results: Path | None = None
    offline: bool = False
    rule_dirs: list[Path] = field(default_factory=list)
    environ: Mapping[str, str] | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # extra facts given directly (tests, bundles)
    probes: set[str] | None = None  # run only these probes (None: all that apply)


@dataclass
class DiagnosisResult:
    diagnosis: Diagnosis
    probe_reports: list[ProbeReport]
    request: DiagnosisRequest


def facts_from_values(values: Mapping[str, Any], pack: RulePack, source: str = "given") -> tuple[list[Fact], list[str]]:
    """Facts given as plain values (rule tests, bundles); returns (facts, problems)."""
    facts: list[Fact] = []
    problems: list[str] = []
    for name, value in values.items():
        error = pack.vocabulary.check_value(name, value)
        if error:
            problems.append(error)
            continue
        spec = pack.vocabulary.specs[name]
        if spec.is_collection:
            value = [item if isinstance(item, Record) else Record(dict(item), Provenance(source)) for item in value]
        facts.append(Fact(name, value, Provenance(source)))
    return facts, problems


def load_pack(rule_dirs: list[Path], environ: Mapping[str, str] | None = None) -> RulePack:
    return load_cached_pack(site_rule_dirs(rule_dirs, environ), environ)


def run_diagnosis(request: DiagnosisRequest, pack: RulePack | None = None) -> DiagnosisResult:
    environ = dict(os.environ if request.environ is None else request.environ)
    pack = pack or load_pack(request.rule_dirs, environ)
    sources = [LogSource(name, text=text) for name, text in request.log_texts.items()]
    sources += [LogSource("<stdin>", stream=request.stdin) if path == "-" else LogSource(path, Path(path))
                for path in request.logs if path != "-" or request.stdin is not None]
    context = ProbeContext(
        vocabulary=pack.vocabulary, signatures=pack.signatures, logs=sources, dataset=request.dataset,
        results=request.results, offline=request.offline, environ=environ)
    facts, findings, reports = run_probes(context, PROBES, request.probes)
    base = FactBase()
    for fact in facts:
        base.add(fact)
    given, problems = facts_from_values(request.facts, pack)
    for fact in given:
        base.add(fact)
    findings += [Finding("input", problem, "warning") for problem in problems]
    return DiagnosisResult(diagnose(pack, base, findings), reports, request)
