"""The GPU probe: PyTorch and the CUDA devices as nnU-Net would see them, without risking the tool.

torch is imported in a subprocess (:mod:`.gpu_worker`) under a timeout (``NNUNET_DOCTOR_GPU_TIMEOUT``
seconds, default 20), and ``nvidia-smi``, when it is on PATH, runs meanwhile under the same deadline. A
worker that hangs or dies becomes a note ("GPU probe timed out after 20 s while importing torch"); what
it had reported before stays, what it had not reached is recorded as unknown with the reason.

Sample: on a machine with one RTX 3090 (driver 535.104.05), torch 2.3.1+cu121 and a second training
holding 20 GB, it establishes ``torch.cuda_available = true``, ``gpu.count = 1``, a ``gpu`` record
``{index: 0, name: "NVIDIA GeForce RTX 3090", capability: "8.6", total_mib: 24259.7, free_mib: 3822.1,
arch_supported: true, triton_supported: true, round_trip_ok: true}``, ``nvidia_smi.driver_version =
"535.104.05"`` and one ``nvidia_smi.processes`` record holding 20 GB.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

from msgspec import Struct, field

from .base import FactSink, ProbeContext

TIMEOUT_VARIABLE = "NNUNET_DOCTOR_GPU_TIMEOUT"
DEFAULT_TIMEOUT = 20.0
#: the longest a probe's subprocess may be given, whatever the variable says
MAX_TIMEOUT = 600.0
#: after a kill at the deadline, seconds to collect what the process printed
_DRAIN_SECONDS = 3.0
WORKER = Path(__file__).with_name("gpu_worker.py")
_MIB = 1024 * 1024
_GPU_QUERY = ("nvidia-smi", "--query-gpu=index,uuid,name,driver_version,memory.total,memory.used,memory.free",
              "--format=csv,noheader,nounits")
_APPS_QUERY = ("nvidia-smi", "--query-compute-apps=gpu_uuid,pid,process_name,used_memory",
               "--format=csv,noheader,nounits")
_CUDA_HEADER = re.compile(r"CUDA Version:\s*([\d.]+)")
_ARCH = re.compile(r"^(sm|compute)_(\d+)[a-z]?$")


class CommandResult(Struct):
    """What a subprocess left: its exit code (None when it was killed at the deadline) and its output."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def _start(command: Sequence[str], environ: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(list(command), env=dict(environ), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=os.name != "nt")


def _finish(process: subprocess.Popen[str], deadline: float, started: float) -> CommandResult:
    """Wait for ``process`` until ``deadline`` (time.monotonic()); kill its whole process group after it."""
    try:
        stdout, stderr = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
        return CommandResult(process.returncode, stdout, stderr, time.monotonic() - started)
    except subprocess.TimeoutExpired:
        if os.name == "nt":  # pragma: no cover - Windows only
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
        try:  # a grandchild in another session can keep the pipes open: do not wait for it
            stdout, stderr = process.communicate(timeout=_DRAIN_SECONDS)
        except subprocess.TimeoutExpired:
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
            stdout, stderr = "", ""
        return CommandResult(None, stdout, stderr, time.monotonic() - started)


def run_command(command: Sequence[str], environ: Mapping[str, str], timeout: float) -> CommandResult:
    """Run ``command`` with a deadline; a command that hangs is killed with its children."""
    started = time.monotonic()
    try:
        process = _start(command, environ)
    except OSError as exc:
        return CommandResult(127, "", str(exc), 0.0)
    return _finish(process, started + timeout, started)


def probe_timeout(environ: Mapping[str, str], variable: str = TIMEOUT_VARIABLE,
                  default: float = DEFAULT_TIMEOUT) -> float:
    """Seconds a probe's subprocess may run: ``$variable`` when it is a positive finite number (at most
    :data:`MAX_TIMEOUT`: ``inf`` would leave a hanging worker running forever), else ``default``.

    >>> probe_timeout({"NNUNET_DOCTOR_GPU_TIMEOUT": "inf"}), probe_timeout({"NNUNET_DOCTOR_GPU_TIMEOUT": "nan"})
    (600.0, 20.0)
    """
    try:
        value = float(environ.get(variable, default))
    except ValueError:
        return default
    if value != value or value <= 0:
        return default
    return min(value, MAX_TIMEOUT)


# -- what the worker said --------------------------------------------------------------------------------

class WorkerReport(Struct):
    """The worker's JSON lines merged: scalar answers, devices, round trips and the last step it began."""

    values: dict[str, Any] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    round_trips: dict[int, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    step: str | None = None
    done: bool = False


def parse_worker_output(text: str) -> WorkerReport:
    report = WorkerReport()
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue  # torch printed something itself
        if not isinstance(data, dict):
            continue
        if "begin" in data:
            report.step = str(data["begin"])
        elif "device" in data:
            report.devices.append(data["device"])
        elif "round_trip" in data:
            report.round_trips[int(data["round_trip"]["index"])] = data["round_trip"]
        elif data.get("done"):
            report.done = True
        else:
            for key in ("cuda_warnings", "device_warnings"):
                report.warnings += [str(warning) for warning in data.pop(key, [])]
            report.values.update(data)
    return report


def arch_supported(major: int, minor: int, arch_list: Sequence[str]) -> bool | None:
    """Whether a torch built for ``arch_list`` runs on a device of capability major.minor.

    A cubin for sm_XY runs on X.Z with Z >= Y; PTX (compute_XY) is compiled by the driver for any newer device.

    >>> arch_supported(8, 6, ["sm_50", "sm_80", "sm_90"]), arch_supported(12, 0, ["sm_80", "sm_90"])
    (True, False)
    >>> arch_supported(12, 0, ["sm_90", "compute_90"])
    True
    """
    if not arch_list:
        return None
    for arch in arch_list:
        match = _ARCH.match(arch)
        if match is None:
            continue
        digits = match.group(2)
        arch_major, arch_minor = int(digits[:-1]), int(digits[-1])
        if match.group(1) == "sm" and arch_major == major and arch_minor <= minor:
            return True
        if match.group(1) == "compute" and (arch_major, arch_minor) <= (major, minor):
            return True
    return False


def _gpu_records(report: WorkerReport) -> list[dict[str, Any]]:
    arch_list = report.values.get("arch_list") or []
    records = []
    for device in report.devices:
        major, minor = int(device["major"]), int(device["minor"])
        record: dict[str, Any] = {
            "index": int(device["index"]), "name": str(device["name"]), "capability": f"{major}.{minor}",
            "total_mib": round(device["total_bytes"] / _MIB, 1), "free_mib": round(device["free_bytes"] / _MIB, 1),
            "arch_supported": arch_supported(major, minor, arch_list), "triton_supported": major >= 7,
        }
        trip = report.round_trips.get(record["index"])
        if trip is not None:
            record["round_trip_ok"] = bool(trip["ok"])
            if trip.get("error"):
                record["round_trip_error"] = str(trip["error"])
        records.append(record)
    return records


# -- what nvidia-smi said --------------------------------------------------------------------------------

def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # "[N/A]", "[Not Supported]"


def parse_gpu_query(text: str) -> tuple[list[dict[str, Any]], dict[str, int], str | None]:
    """Rows of ``--query-gpu=index,uuid,name,driver_version,memory.total,memory.used,memory.free``.

    >>> parse_gpu_query("0, GPU-5e1c, NVIDIA A100-SXM4-40GB, 550.54.15, 40960, 3, 40354\\n")[0][0]["free_mib"]
    40354.0
    """
    gpus, uuids, driver = [], {}, None
    for line in text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 7 or not parts[0].isdigit():
            continue
        index = int(parts[0])
        uuids[parts[1]] = index
        driver = parts[3] or driver
        gpus.append({"index": index, "name": parts[2], "total_mib": _number(parts[4]), "used_mib": _number(parts[5]),
                     "free_mib": _number(parts[6])})
    return gpus, uuids, driver


def parse_apps_query(text: str, uuids: Mapping[str, int], exclude: set[int]) -> list[dict[str, Any]]:
    """Rows of ``--query-compute-apps=gpu_uuid,pid,process_name,used_memory`` (without the pids in ``exclude``)."""
    processes = []
    for line in text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 4 or not parts[1].isdigit() or int(parts[1]) in exclude:
            continue
        processes.append({"gpu_index": uuids.get(parts[0]), "pid": int(parts[1]), "name": ",".join(parts[2:-1]),
                          "used_mib": _number(parts[-1])})
    return processes


class GpuProbe:
    name: ClassVar[str] = "gpu"
    needs: ClassVar[str] = "machine"
    description: ClassVar[str] = "imports torch in a subprocess and runs nvidia-smi, both under a timeout"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        environ = context.environ
        timeout = probe_timeout(environ)
        started = time.monotonic()
        deadline = started + timeout
        worker = _start([sys.executable, str(WORKER)], environ)
        _nvidia_smi(environ, deadline, {worker.pid, os.getpid()}, sink)
        result = _finish(worker, deadline, started)
        report = parse_worker_output(result.stdout)
        _torch_facts(report, sink)
        if result.timed_out:
            reason = f"GPU probe timed out after {timeout:g} s while {report.step or 'starting Python'}"
            sink.note(reason + f" (set {TIMEOUT_VARIABLE} to wait longer); the rest of the diagnosis went on",
                      "warning")
            _unknown_rest(report, sink, reason)
        elif not report.done:
            reason = (f"the GPU probe's torch subprocess {_death(result.returncode)} while "
                      f"{report.step or 'starting Python'}")
            tail = result.stderr.strip().splitlines()[-3:]
            sink.note(reason + (": " + " | ".join(tail) if tail else ""), "warning")
            _unknown_rest(report, sink, reason)


def _death(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _torch_facts(report: WorkerReport, sink: FactSink) -> None:
    values = report.values
    if "torch" not in values:
        return
    if values["torch"] is None:
        reason = f"PyTorch cannot be imported by {sys.executable}: {values.get('error', '')}"
        sink.note(f"not applicable: {reason}", "info")
        for name in ("torch.cuda_available", "gpu"):
            sink.unknown(name, reason)
        return
    built = values.get("cuda_build") is not None or values.get("hip") is not None
    sink.add("torch.cuda_built", built, detail="torch.version.cuda")
    if values.get("cuda_build"):
        sink.add("torch.cuda_build", str(values["cuda_build"]), detail="torch.version.cuda")
    if values.get("cudnn"):
        sink.add("torch.cudnn_version", str(values["cudnn"]), detail="torch.backends.cudnn.version()")
    if "cuda_available" not in values:
        return
    sink.add("torch.cuda_available", bool(values["cuda_available"]), detail="torch.cuda.is_available()")
    sink.add("torch.mps_available", bool(values.get("mps_available")))
    if report.warnings:
        sink.add("torch.cuda_warnings", report.warnings)
    if not values["cuda_available"]:
        if values.get("reason"):
            sink.add("torch.cuda_unavailable_reason", str(values["reason"]))
        sink.add("gpu.count", 0)
        sink.add("gpu", [])
        return
    if "count" in values:
        sink.add("gpu.count", int(values["count"]), detail="torch.cuda.device_count()")
        sink.add("torch.arch_list", [str(a) for a in values.get("arch_list") or []])
    if report.devices and (report.done or len(report.devices) == values.get("count")):
        sink.add("gpu", _gpu_records(report), detail="torch.cuda.get_device_properties, mem_get_info")


def _unknown_rest(report: WorkerReport, sink: FactSink, reason: str) -> None:
    known = {fact.name for fact in sink.facts}
    for name in ("torch.cuda_available", "gpu.count", "gpu"):
        if name not in known:
            sink.unknown(name, reason)


def _nvidia_smi(environ: Mapping[str, str], deadline: float, exclude: set[int], sink: FactSink) -> None:
    executable = shutil.which("nvidia-smi", path=environ.get("PATH", os.defpath))
    sink.add("nvidia_smi.present", executable is not None, detail="nvidia-smi on PATH")
    if executable is None:
        return
    steps = ((_GPU_QUERY, "listing GPUs"), (_APPS_QUERY, "listing GPU processes"), (("nvidia-smi",), "reading its header"))
    outputs: list[str] = []
    for command, what in steps:
        started = time.monotonic()
        result = run_command([executable, *command[1:]], environ, max(0.0, deadline - started))
        if result.timed_out or result.returncode != 0:
            problem = "timed out" if result.timed_out else f"failed (exit {result.returncode})"
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
            sink.note(f"nvidia-smi {problem} while {what}: {detail[0][:200]}".rstrip(": "), "warning")
            break
        outputs.append(result.stdout)
    if outputs:
        gpus, uuids, driver = parse_gpu_query(outputs[0])
        sink.add("nvidia_smi.gpus", gpus, detail="nvidia-smi --query-gpu")
        if driver:
            sink.add("nvidia_smi.driver_version", driver, detail="nvidia-smi --query-gpu=driver_version")
        if len(outputs) > 1:
            sink.add("nvidia_smi.processes", parse_apps_query(outputs[1], uuids, exclude),
                     detail="nvidia-smi --query-compute-apps")
        if len(outputs) > 2:
            header = _CUDA_HEADER.search(outputs[2])
            if header:
                sink.add("nvidia_smi.cuda_version", header.group(1), detail="nvidia-smi header")
