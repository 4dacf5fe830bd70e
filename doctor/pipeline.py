"""The diagnosis pipeline: inputs -> probes -> facts -> engine + rules -> diagnosis.

>>> from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis
>>> result = run_diagnosis(DiagnosisRequest(log_texts={"pasted.log": "RuntimeError: CUDA out of memory."},
...                                         offline=True))
>>> result.diagnosis.causes[0].cause
'train.gpu_oom'
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Mapping

from msgspec import Struct, field

from nnunet_doctor.engine.context import PasteContext
from nnunet_doctor.engine.diagnosis import Diagnosis, Finding, diagnose
from nnunet_doctor.engine.facts import Fact, FactBase, Provenance, Record
from nnunet_doctor.engine.sources import INPUT, Source
from nnunet_doctor.engine.pack import RulePack, site_rule_dirs
from nnunet_doctor.engine.pack_cache import load_cached_pack
from nnunet_doctor.probes.base import LogSource, ProbeContext
from nnunet_doctor.probes.runner import PROBES, ProbeReport, run_probes

if TYPE_CHECKING:
    from .bundle import Bundle
    from .unexplained import UnexplainedError


class DiagnosisRequest(Struct):
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
    options: dict[str, Any] = field(default_factory=dict)  # probe options: quick, jobs, cache
    bundle: Path | None = None  # facts collected on the user's machine (diagnose collect); implies offline


class DiagnosisResult(Struct):
    diagnosis: Diagnosis
    probe_reports: list[ProbeReport]
    request: DiagnosisRequest
    #: the log's error when no rule explains it (its nearest catalog messages' causes join the ranking, low)
    unexplained: "UnexplainedError | None" = None


def facts_from_values(values: Mapping[str, Any], pack: RulePack, source: Source = INPUT) -> tuple[list[Fact], list[str]]:
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


def log_sources(request: DiagnosisRequest) -> list[LogSource]:
    """The logs to read: given as text, as paths, and the newest training log of each fold under --results."""
    sources = [LogSource(name, text=text) for name, text in request.log_texts.items()]
    sources += [LogSource("<stdin>", stream=request.stdin) if path == "-" else LogSource(path, Path(path))
                for path in request.logs if path != "-" or request.stdin is not None]
    if request.results is not None:
        from nnunet_doctor.probes.dataset.results import training_logs

        sources += [LogSource(str(path), path) for path in training_logs(request.results)]
    return sources


class Gathered(Struct):
    """Everything the engine will reason on, before any rule runs."""

    facts: FactBase
    findings: list[Finding]
    reports: list[ProbeReport]
    bundle: "Bundle | None" = None


def gather_facts(request: DiagnosisRequest, pack: RulePack) -> Gathered:
    """Inputs -> probes -> facts.

    A bundle's facts come first; facts of this run's probes (e.g. a log given beside the bundle) and facts
    given as values replace those of the same name.
    """
    environ = dict(os.environ if request.environ is None else request.environ)
    gathered = Gathered(FactBase(), [], [])
    if request.bundle is not None:
        from .bundle import read_bundle

        gathered.bundle = read_bundle(request.bundle, pack)
        for fact in gathered.bundle.facts:
            gathered.facts.add(fact)
        gathered.findings += gathered.bundle.findings
        gathered.reports += gathered.bundle.probe_reports
    context = ProbeContext(
        vocabulary=pack.vocabulary, signatures=pack.signatures, logs=log_sources(request), dataset=request.dataset,
        results=request.results, offline=request.offline or request.bundle is not None, environ=environ,
        options=dict(request.options))
    facts, findings, reports = run_probes(context, PROBES, request.probes)
    for fact in facts:
        gathered.facts.add(fact)
    if not context.offline and not context.dataset and (request.probes is None or "dataset" in request.probes):
        more, found, ran = _dataset_named_by_log(context, gathered.facts, request)
        for fact in more:
            gathered.facts.add(fact)
        findings += found
        reports = [report for report in reports if report.name not in {r.name for r in ran}] + ran
    given, problems = facts_from_values(request.facts, pack)
    for fact in given:
        gathered.facts.add(fact)
    gathered.findings += findings + [Finding(INPUT, problem, "warning") for problem in problems]
    gathered.reports += [report for report in reports if request.bundle is None or report.status != "skipped"]
    return gathered


_DATASET_PROBES = {"dataset", "preprocessed", "results"}


def _dataset_named_by_log(context: ProbeContext, facts: FactBase, request: DiagnosisRequest
                          ) -> tuple[list[Fact], list[Finding], list[ProbeReport]]:
    """A log that names a dataset, read on the machine that ran it: check that dataset too when this shell reaches
    it (names, dataset.json and headers, as --quick), else say the exact command that would."""
    fact = facts.get("log.dataset_id")
    if fact is None or not fact.known:
        return [], [], []
    from nnunet_doctor.probes.dataset.locate import locate

    dataset_id = str(fact.value)
    logs = " ".join(f"--log {log}" for log in request.logs) or "--log LOG"
    if locate(dataset_id, context.environ).status != "found":
        return [], [Finding(INPUT, f"the log names dataset {dataset_id}, which this shell does not reach: on the "
                                     f"machine that holds it run `diagnose --dataset {dataset_id} {logs}`", "info")], []
    context.dataset = dataset_id
    context.options["quick"] = True
    more, findings, reports = run_probes(context, PROBES, _DATASET_PROBES & (request.probes or _DATASET_PROBES))
    findings.insert(0, Finding(INPUT, f"the log names dataset {dataset_id}, found from this shell: its names, "
                                        f"dataset.json and image headers were checked too (label values and NaNs: "
                                        f"`diagnose --dataset {dataset_id} {logs}`)", "info"))
    return more, findings, reports


#: facts that show a version: a paste that prints one is not "short"
_VERSION_FACTS = ("nnunet.version", "torch.version", "python.version")


def paste_context(facts: FactBase) -> PasteContext | None:
    """What the logs showed around their messages (None: only a log-free diagnosis, nothing to lower)."""
    def value(name: str) -> Any:
        fact = facts.get(name)
        return fact.value if fact is not None and fact.known else None

    lines = value("log.line_count")
    if not lines:
        return None
    exceptions = value("log.exceptions") or []
    frames = sum(int(record.fields.get("frames") or 0) for record in exceptions)
    versions = sum(value(name) is not None for name in _VERSION_FACTS) + len(value("log.packages") or [])
    return PasteContext(int(lines), frames, len(value("log.commands") or []), versions)


def run_diagnosis(request: DiagnosisRequest, pack: RulePack | None = None) -> DiagnosisResult:
    environ = dict(os.environ if request.environ is None else request.environ)
    pack = pack or load_pack(request.rule_dirs, environ)
    gathered = gather_facts(request, pack)
    context = paste_context(gathered.facts) if request.bundle is None and not request.dataset else None
    diagnosis = diagnose(pack, gathered.facts, gathered.findings, context=context)
    unexplained = None
    if any(diagnosis.facts.is_known(name) for name in ("log.root_exception", "catalog.messages", "cli.errors")):
        from .unexplained import with_candidates

        unexplained = with_candidates(diagnosis)
    if gathered.bundle is not None:
        from .bundle import compare

        difference = compare(gathered.bundle, diagnosis, pack)
        if difference is not None:
            diagnosis.findings.append(difference)
    return DiagnosisResult(diagnosis, gathered.reports, request, unexplained)
