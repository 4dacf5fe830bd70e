"""The environment check: what ``diagnose`` with no arguments shows, one line per area like ``flutter doctor``.

Areas are the probes of this machine (installation, nnU-Net paths and settings, PyTorch and GPU, system), each
with the functional checks that belong to it (imports, torchvision's operators, the trainer lookup, a file written
in each nnU-Net folder, the plans' network run once). The marks mean what flutter doctor's mean:

- ✗ a check failed, or a cause of that area reaches high certainty: nnU-Net will fail;
- ! it works but will hurt (no CUDA device, a CPU-only torch, little free GPU memory, a small /dev/shm), or a cause
  reaches medium certainty;
- ? the area could not be checked (its probe did not run, crashed or timed out before its checks);
- ✓ its checks ran and passed.

The same checklist (:func:`build_checkup`) is laid out by ``reports_templates/checkup.j2`` for ``diagnose`` alone
and joins the report of every other format (``checklist``), a bundle replay included.
"""
from __future__ import annotations

from typing import Any, Callable

from msgspec import Struct

from nnunet_doctor import __version__
from nnunet_doctor.engine.certainty import certainty_band
from nnunet_doctor.engine.diagnosis import RankedCause
from nnunet_doctor.engine.facts import FactBase, Record
from nnunet_doctor.engine.sources import Source

from .pipeline import DiagnosisResult
from .report import MARKS, STYLES


class Area(Struct, frozen=True):
    key: str
    title: str
    probe: str
    describe: Callable[[FactBase], list[str]]


#: nnU-Net's default plans target 8 GB of GPU memory (ExperimentPlanner gpu_memory_target_in_gb = 8)
_VRAM_TARGET_MIB = 8 * 1024
#: below this, data-loading workers of a container die with "unable to write to file </torch_...>" or bus errors
_SHM_MIN_MIB = 1024
#: which area a functional check (check.functional kind) belongs to
#: the fact without which an area cannot be judged: unknown (or never established), the area is "?"
_KEY_FACT = {"installation": "install.packages", "paths": "env.unset_path_variables", "gpu": "torch.cuda_available",
             "system": "system.os"}
_AREA_OF_CHECK = {"import": "installation", "torchvision_ops": "installation", "trainer_lookup": "installation",
                  "trainer": "installation", "folder": "paths", "network": "gpu"}


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
_MARK_STYLE = {"✗": "red", "!": "yellow", "?": "dim", "✓": "green"}
_MARK_ORDER = ("✗", "!", "?", "✓")
#: the functional checks: their notes are said under the installation
_FUNCTIONAL = Source.probe("functional")


def _area_of(cause: str) -> str | None:
    return next((area for prefix, area in _AREA_OF_CAUSE if cause.startswith(prefix)), None)


def _cause_entry(cause: RankedCause) -> dict[str, Any]:
    band = certainty_band(cause.certainty)
    return {"cause": cause.cause, "title": cause.best.rule.title, "certainty": round(cause.certainty, 2), "band": band,
            "mark": MARKS[band], "style": STYLES[band], "fix": cause.best.fix}


def _item(mark: str, text: str) -> dict[str, str]:
    return {"mark": mark, "style": _MARK_STYLE[mark], "text": text}


def _failure(record: dict[str, Any]) -> str:
    return record.get("error", "failed") + (f" ({record['where']})" if record.get("where") else "")


def _check_items(records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One line per functional check, passed imports summed up in one."""
    items = []
    imports = [r for r in records if r["kind"] == "import" and r.get("ok")]
    if imports:
        commands = [r["command"] for r in imports if r.get("command")]
        seconds = sum(r.get("seconds", 0.0) for r in imports)
        items.append(_item("✓", f"imports what {', '.join(commands) or 'nnU-Net'} import ({len(imports)} modules, "
                                f"{seconds:.1f} s)"))
    for record in records:
        kind = record["kind"]
        title = _CHECK_TITLES.get(kind, lambda r: f"{r['kind']} {r['target']}")(record)
        if "skipped" in record:
            items.append(_item("?", f"{title}: not checked, {record['skipped']}"))
        elif record.get("ok") is False:
            items.append(_item("✗", f"{title}: {_failure(record)}"))
        elif kind != "import":
            items.append(_item("✓", title + _CHECK_PASSED.get(kind, lambda r: "")(record)))
    return items


_CHECK_TITLES: dict[str, Callable[[dict[str, Any]], str]] = {
    "import": lambda r: f"import {r['target']}" + (f" ({r['command']})" if r.get("command") else ""),
    "torchvision_ops": lambda r: "torchvision" + (f" {r['version']}" if r.get("version") else "") + " compiled operators",
    "trainer_lookup": lambda r: "nnU-Net's trainer lookup (every trainer module, nnUNet_extTrainer included)",
    "trainer": lambda r: f"trainer {r['target']}",
    "folder": lambda r: f"{r.get('variable', 'folder')} {r['target']}",
    "network": lambda r: f"{r.get('configuration', '')} network of {r['target']}".strip(),
}
_CHECK_PASSED: dict[str, Callable[[dict[str, Any]], str]] = {
    "torchvision_ops": lambda r: " work",
    "trainer_lookup": lambda r: " imports cleanly",
    "trainer": lambda r: f" found ({r['found_in']})" if r.get("found_in") else " found",
    "folder": lambda r: ": listed" if r.get("variable") == "nnUNet_raw" else ": a file written, read back and deleted",
    "network": lambda r: f": forward and backward on {r.get('device', '?')}"
                         + (f", input {r['shape']}" if r.get("shape") else ""),
}


def _hurts(area: str, facts: FactBase) -> list[str]:
    """What works but will hurt: flutter doctor's "!" lines."""
    lines = []
    if area == "gpu":
        if _value(facts, "torch.cuda_built") is False:
            lines.append("this PyTorch is a CPU-only build: nnU-Net can only train on the CPU (-device cpu), tens of "
                         "times slower")
        elif _value(facts, "torch.cuda_available") is False:
            lines.append("no CUDA device is usable: nnU-Net can only train on the CPU (-device cpu), tens of times slower")
        for device in _records(facts, "gpu"):
            free = device.get("free_mib")
            if isinstance(free, (int, float)) and free < _VRAM_TARGET_MIB:
                lines.append(f"cuda:{device.get('index')} has {_gib(free)} free: nnU-Net's default plans target 8 GiB "
                             "(a smaller batch or patch, or a free GPU, is needed)")
    if area == "system":
        shm = _value(facts, "system.shm_total_mib")
        if isinstance(shm, (int, float)) and shm < _SHM_MIN_MIB:
            lines.append(f"/dev/shm is {_gib(shm)}: nnU-Net's data-loading workers share batches through it "
                         "(containers: --shm-size=8g or --ipc=host)")
    return lines


def _mark(marks: list[str]) -> str:
    return next((mark for mark in _MARK_ORDER if mark in marks), "✓")


def build_checkup(result: DiagnosisResult) -> dict[str, Any]:
    diagnosis = result.diagnosis
    facts = diagnosis.facts
    reports = {report.name: report for report in result.probe_reports}
    checks = _records(facts, "check.functional")
    functional = reports.get("functional")
    # the functional checks ran but did not finish, crashed, or left no valid record: what they check is unknown
    incomplete = functional is not None and functional.status != "skipped" and (
        functional.status == "failed" or _value(facts, "check.completed") is not True
        or _value(facts, "check.functional") is None)
    areas = []
    placed: set[str] = set()
    for area in AREAS:
        causes = [_cause_entry(c) for c in diagnosis.causes if _area_of(c.cause) == area.key]
        placed |= {c["cause"] for c in causes}
        # the functional checks' own notes (a timeout, a dead subprocess) are said once, under the installation
        sources = {Source.probe(area.probe)} | ({_FUNCTIONAL} if area.key == "installation" else set())
        notes = [f.message for f in diagnosis.findings if f.source in sources
                 and not (f.source == _FUNCTIONAL and f.severity == "info")]
        report = reports.get(area.probe)
        seconds = (report.seconds if report is not None else 0.0) + (
            functional.seconds if functional is not None and area.key == "installation" else 0.0)
        items = _check_items([r for r in checks if _AREA_OF_CHECK.get(r["kind"]) == area.key])
        items += [_item("!", line) for line in _hurts(area.key, facts)]
        marks = [item["mark"] for item in items]
        if report is None or report.status != "ran":
            marks.append("?")
            notes.insert(0, f"not checked: {report.detail}" if report is not None and report.detail
                         else "not checked: its probe did not run")
        key = facts.get(_KEY_FACT[area.key])
        unchecked = key is None or not key.known
        if unchecked:
            marks.append("?")
        if incomplete and area.key != "system":
            marks.append("?")
        marks += ["✗" for c in causes if c["band"] == "high"] + ["!" for c in causes if c["band"] == "medium"]
        # a probe's own warning (a timeout, a dead subprocess) is "could not check" when it left the area unknown
        if not unchecked and any(f.severity in ("warning", "error") for f in diagnosis.findings
                                 if f.source == Source.probe(area.probe)):
            marks.append("!")
        mark = _mark(marks)
        areas.append({"key": area.key, "title": area.title, "mark": mark, "style": _MARK_STYLE[mark],
                      "lines": area.describe(facts), "checks": items, "causes": causes, "notes": notes,
                      "seconds": round(seconds, 2) if report is not None else None})
    others = [_cause_entry(c) for c in diagnosis.causes if c.cause not in placed]
    probe_sources = {Source.probe(area.probe) for area in AREAS} | {_FUNCTIONAL}
    found = diagnosis.found
    problems = sum(1 for c in found if c.best.rule.severity == "error")
    warnings = len(found) - problems
    counts = {mark: sum(1 for a in areas if a["mark"] == mark) for mark in _MARK_ORDER}
    return {
        "tool": {"name": "nnunet-doctor", "version": __version__}, "bundle": result.request.bundle is not None,
        "areas": areas, "other_causes": others,
        "findings": [{"source": str(f.source), "message": f.message, "severity": f.severity}
                     for f in diagnosis.findings if f.source not in probe_sources],
        "summary": {"found": bool(found), "problems": problems, "warnings": warnings, "marks": counts,
                    "text": _summary_text(problems, warnings, counts)},
    }


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary_text(problems: int, warnings: int, marks: dict[str, int]) -> str:
    """The last line: causes found, else what the marks say; "No problem found." only when every area is ✓."""
    if problems or warnings:
        return f"{_plural(problems, 'problem')}, {_plural(warnings, 'warning')} found."
    if marks["✗"]:
        return f"{_plural(marks['✗'], 'area')} failed a check."
    if marks["!"] or marks["?"]:
        parts = ([f"{_plural(marks['!'], 'area')} will slow nnU-Net down or need attention (!)"] if marks["!"] else []) \
            + ([f"{_plural(marks['?'], 'area')} could not be checked (?)"] if marks["?"] else [])
        return "No problem that stops nnU-Net found; " + ", ".join(parts) + "."
    return "No problem found."


def machine_was_checked(result: DiagnosisResult) -> bool:
    """Whether the checklist has something to show: a probe of this machine ran here or in the bundle's machine."""
    names = {area.probe for area in AREAS} | {"functional"}
    return any(report.name in names and report.status != "skipped" for report in result.probe_reports)
