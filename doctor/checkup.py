"""The environment check: what ``diagnose`` with no arguments shows, one line per area like ``flutter doctor``.

Areas are the probes of this machine (installation, nnU-Net paths and settings, PyTorch and GPU, system).
Each shows what its probe established, marked ✓ (nothing wrong), ! (a warning, a check that failed or timed
out) or ✗ (a likely problem), followed by the causes the rules concluded for that area with their fixes.
Like the report, this module computes everything and ``reports_templates/checkup.j2`` only lays it out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from nnunet_doctor import __version__
from nnunet_doctor.engine.certainty import certainty_band
from nnunet_doctor.engine.diagnosis import RankedCause
from nnunet_doctor.engine.facts import FactBase, Record

from .pipeline import DiagnosisResult
from .report import FOUND_THRESHOLD, MARKS, STYLES


@dataclass(frozen=True)
class Area:
    key: str
    title: str
    probe: str
    describe: Callable[[FactBase], list[str]]


def _value(facts: FactBase, name: str) -> Any:
    fact = facts.get(name)
    return fact.value if fact is not None and fact.known else None


def _records(facts: FactBase, name: str) -> list[dict[str, Any]]:
    value = _value(facts, name)
    return [dict(item.fields) if isinstance(item, Record) else dict(item) for item in value] if isinstance(value, list) else []


def _gib(mib: Any) -> str:
    return f"{mib / 1024:.1f} GiB" if isinstance(mib, (int, float)) else "?"


def _installation(facts: FactBase) -> list[str]:
    packages = {p["name"]: p for p in _records(facts, "install.packages")}
    lines = []
    nnunet = packages.get("nnunetv2")
    if nnunet is not None:
        lines.append(f"nnunetv2 {nnunet.get('version')}" if nnunet.get("installed") else "nnunetv2 is not installed")
    if packages.get("nnunet", {}).get("installed"):
        lines.append(f"nnU-Net v1 (nnunet {packages['nnunet'].get('version')}) is installed too")
    if _value(facts, "python.version"):
        lines.append(f"Python {_value(facts, 'python.version')} at {_value(facts, 'python.executable')}")
    unmet = [p["name"] for p in packages.values() if p.get("satisfied") is False]
    if unmet:
        lines.append(f"requirements of nnunetv2 not met: {', '.join(unmet)}")
    scripts = _records(facts, "install.console_scripts")
    if scripts:
        lines.append(f"{scripts[0]['name']} on PATH: {scripts[0]['path']}")
    trainers = _records(facts, "install.custom_trainers")
    if trainers:
        lines.append(f"custom trainers: {', '.join(sorted({t['class_name'] for t in trainers}))}")
    return lines


def _paths(facts: FactBase) -> list[str]:
    records = {p["variable"]: p for p in _records(facts, "env.paths")}
    lines = []
    for variable in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        record = records.get(variable)
        if record is None:
            if variable in (_value(facts, "env.unset_path_variables") or []):
                lines.append(f"{variable} is not set")
            continue
        if record.get("empty"):
            lines.append(f"{variable} is set but empty")
            continue
        details = []
        if record.get("found") is False:
            details.append("does not exist")
        if variable == "nnUNet_raw" and record.get("dataset_folders") is not None:
            details.append(f"{record['dataset_folders']} dataset{'s' if record['dataset_folders'] != 1 else ''}")
        if record.get("free_mib") is not None:
            details.append(f"{_gib(record['free_mib'])} free")
        lines.append(f"{variable} = {record['value']}" + (f" ({', '.join(details)})" if details else ""))
    settings = [f"{name}={_value(facts, f'env.{name}')}" for name in
                ("nnUNet_n_proc_DA", "nnUNet_def_n_proc", "nnUNet_compile", "nnUNet_npp", "nnUNet_nps",
                 "nnUNet_wandb_enabled", "nnUNet_extTrainer", "CUDA_VISIBLE_DEVICES", "PYTORCH_CUDA_ALLOC_CONF")
                if _value(facts, f"env.{name}") is not None]
    if settings:
        lines.append("set: " + " ".join(settings))
    if _value(facts, "env.shell"):
        persist = _value(facts, "env.persist_file")
        lines.append(f"shell: {_value(facts, 'env.shell')}" + (f" (start-up file {persist})" if persist else ""))
    return lines


def _gpu(facts: FactBase) -> list[str]:
    lines = []
    version = _value(facts, "torch.version")
    built = _value(facts, "torch.cuda_built")
    if version is not None:
        build = (f"built for CUDA {_value(facts, 'torch.cuda_build')}" if built
                 else "CPU-only build" if built is False else "")
        cudnn = _value(facts, "torch.cudnn_version")
        lines.append(f"torch {version}" + (f", {build}" if build else "") + (f", cuDNN {cudnn}" if cudnn else ""))
    devices = _value(facts, "gpu")
    if isinstance(devices, list):
        for device in _records(facts, "gpu"):
            lines.append(f"cuda:{device.get('index')} {device.get('name')} (compute capability {device.get('capability')}): "
                         f"{_gib(device.get('free_mib'))} of {_gib(device.get('total_mib'))} free")
        if not devices:
            reason = _value(facts, "torch.cuda_unavailable_reason")
            lines.append("no CUDA device" + (f": {reason}" if reason else ""))
    if _value(facts, "nvidia_smi.present") is False:
        lines.append("nvidia-smi: not found")
    elif _value(facts, "nvidia_smi.driver_version"):
        lines.append(f"nvidia-smi: driver {_value(facts, 'nvidia_smi.driver_version')}, "
                     f"CUDA up to {_value(facts, 'nvidia_smi.cuda_version') or '?'}")
    return lines


def _system(facts: FactBase) -> list[str]:
    lines = []
    if _value(facts, "system.os_release"):
        where = f"{_value(facts, 'system.os_release')} ({_value(facts, 'system.machine')})"
        if _value(facts, "system.wsl"):
            where += ", under WSL"
        if _value(facts, "system.container"):
            where += f", in a {_value(facts, 'system.container_kind')} container"
        lines.append(where)
    cores = _value(facts, "system.cpu_count")
    if cores is not None:
        usable = _value(facts, "system.cpu_usable")
        lines.append(f"{cores} CPUs" + (f" ({usable:g} usable)" if usable is not None and usable < cores else ""))
    if _value(facts, "system.ram_total_mib") is not None:
        memory = f"RAM {_gib(_value(facts, 'system.ram_total_mib'))} ({_gib(_value(facts, 'system.ram_available_mib'))} available)"
        if _value(facts, "system.swap_total_mib") is not None:
            memory += f", swap {_gib(_value(facts, 'system.swap_total_mib'))}"
        if _value(facts, "system.shm_total_mib") is not None:
            memory += f", /dev/shm {_gib(_value(facts, 'system.shm_total_mib'))}"
        lines.append(memory)
    return lines


AREAS = (
    Area("installation", "nnU-Net installation", "installation", _installation),
    Area("paths", "nnU-Net paths and settings", "environment", _paths),
    Area("gpu", "PyTorch and GPU", "gpu", _gpu),
    Area("system", "System", "system", _system),
)
#: which area a cause belongs to: the first matching prefix wins
_AREA_OF_CAUSE = (("install.torch_cuda_mismatch", "gpu"), ("install.", "installation"),
                  ("train.custom_code", "installation"), ("env.", "paths"), ("gpu.", "gpu"), ("sys.", "system"))


def _area_of(cause: str) -> str | None:
    return next((area for prefix, area in _AREA_OF_CAUSE if cause.startswith(prefix)), None)


def _cause_entry(cause: RankedCause) -> dict[str, Any]:
    band = certainty_band(cause.certainty)
    return {"cause": cause.cause, "title": cause.best.rule.title, "certainty": round(cause.certainty, 2), "band": band,
            "mark": MARKS[band], "style": STYLES[band], "fix": cause.best.fix}


def build_checkup(result: DiagnosisResult) -> dict[str, Any]:
    diagnosis = result.diagnosis
    facts = diagnosis.facts
    reports = {report.name: report for report in result.probe_reports}
    areas = []
    placed: set[str] = set()
    for area in AREAS:
        causes = [_cause_entry(c) for c in diagnosis.causes if _area_of(c.cause) == area.key]
        placed |= {c["cause"] for c in causes}
        notes = [f.message for f in diagnosis.findings if f.source == f"probe {area.probe}"]
        report = reports.get(area.probe)
        if report is not None and report.status == "failed":
            notes.insert(0, f"check failed: {report.detail}")
        warned = any(f.severity in ("warning", "error") for f in diagnosis.findings if f.source == f"probe {area.probe}")
        if any(c["band"] == "high" for c in causes):
            mark, style = "✗", "red"
        elif any(c["band"] == "medium" for c in causes) or warned or (report is not None and report.status == "failed"):
            mark, style = "!", "yellow"
        else:
            mark, style = "✓", "green"
        areas.append({"key": area.key, "title": area.title, "mark": mark, "style": style,
                      "lines": area.describe(facts), "causes": causes, "notes": notes,
                      "seconds": round(report.seconds, 2) if report is not None else None})
    others = [_cause_entry(c) for c in diagnosis.causes if c.cause not in placed]
    probe_sources = {f"probe {area.probe}" for area in AREAS}
    found = [c for c in diagnosis.causes if c.certainty >= FOUND_THRESHOLD]
    return {
        "tool": {"name": "nnunet-doctor", "version": __version__},
        "areas": areas, "other_causes": others,
        "findings": [{"source": f.source, "message": f.message, "severity": f.severity}
                     for f in diagnosis.findings if f.source not in probe_sources],
        "summary": {"found": bool(found), "problems": sum(1 for c in found if c.best.rule.severity == "error"),
                    "warnings": sum(1 for c in found if c.best.rule.severity != "error")},
    }
