"""Running the probes: lazily imported, each isolated, each failure a finding instead of a traceback.

The registry (:data:`PROBES`) names every probe by module path, so a log-only diagnosis imports only the
log probe: torch, SimpleITK and nnunetv2 are never imported on that path. A probe that raises becomes a
finding ("probe 'gpu' crashed: ..."); a slow probe is noted. Probes that may hang (importing torch,
calling nvidia-smi) run their risky part in a subprocess with a timeout themselves.
"""
from __future__ import annotations

import importlib
import time
import traceback

from msgspec import Struct

from nnunet_doctor.engine.diagnosis import Finding
from nnunet_doctor.engine.facts import Fact
from nnunet_doctor.engine.sources import Source

from .base import FactSink, ProbeContext


class ProbeEntry(Struct, frozen=True):
    name: str
    target: str  # "module:Class", relative to nnunet_doctor.probes
    needs: str  # log | dataset | results | machine


#: Every probe, in the order they run. ``needs`` decides when a probe applies.
PROBES: tuple[ProbeEntry, ...] = (
    ProbeEntry("log", "log:LogProbe", "log"),
    ProbeEntry("environment", "environment:EnvironmentProbe", "machine"),
    ProbeEntry("installation", "installation:InstallationProbe", "machine"),
    ProbeEntry("system", "system:SystemProbe", "machine"),
    ProbeEntry("gpu", "gpu:GpuProbe", "machine"),
    ProbeEntry("functional", "functional:FunctionalProbe", "machine"),
    ProbeEntry("dataset", "dataset:DatasetProbe", "dataset"),
    ProbeEntry("preprocessed", "dataset.preprocessed:PreprocessedProbe", "dataset"),
    ProbeEntry("results", "dataset.results:ResultsProbe", "results"),
)

SLOW_PROBE_SECONDS = 5.0


class ProbeReport(Struct):
    name: str
    status: str  # ran | skipped | failed
    seconds: float
    detail: str = ""


def _applies(entry: ProbeEntry, context: ProbeContext) -> str | None:
    """None when the probe should run, else why not."""
    if entry.needs == "log" and not context.logs:
        return "no --log given"
    if entry.needs == "dataset" and not context.dataset:
        return "no --dataset given"
    if entry.needs == "results" and not (context.results or context.dataset):
        return "no --results or --dataset given"
    if entry.needs == "machine" and context.offline:
        return "--offline: this machine is not the user's"
    return None


def run_probes(context: ProbeContext, entries: tuple[ProbeEntry, ...] = PROBES,
               only: set[str] | None = None) -> tuple[list[Fact], list[Finding], list[ProbeReport]]:
    facts: list[Fact] = []
    findings: list[Finding] = []
    reports: list[ProbeReport] = []
    for entry in entries:
        if only is not None and entry.name not in only:
            continue
        reason = _applies(entry, context)
        if reason is not None:
            reports.append(ProbeReport(entry.name, "skipped", 0.0, reason))
            continue
        sink = FactSink(context.vocabulary, entry.name)
        started = time.perf_counter()
        try:
            module_name, class_name = entry.target.split(":")
            module = importlib.import_module(f"{__package__}.{module_name}")
            probe = getattr(module, class_name)()
            context.established = list(facts)  # what earlier probes found (the dataset probe reads -i)
            probe.collect(context, sink)
            status, detail = "ran", sink.detail
        except Exception as exc:  # a probe must never take the diagnosis down
            status = "failed"
            detail = f"{type(exc).__name__}: {exc}"
            frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            where = f" ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" if frame else ""
            findings.append(Finding(Source.probe(entry.name), f"the {entry.name} probe crashed: {detail}{where}; "
                                    "its facts are unknown", "error"))
        seconds = time.perf_counter() - started
        facts += sink.facts
        findings += [Finding(Source.probe(entry.name), message, severity) for severity, message in sink.notes]
        for problem in sink.problems:
            findings.append(Finding(Source.probe(entry.name), f"probe produced an invalid fact: {problem}", "warning"))
        if seconds > SLOW_PROBE_SECONDS:
            findings.append(Finding(Source.probe(entry.name), f"the {entry.name} probe took {seconds:.1f} s", "info"))
        reports.append(ProbeReport(entry.name, status, seconds, detail))
    return facts, findings, reports
