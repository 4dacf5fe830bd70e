"""The system probe: operating system, CPUs, memory, swap, shared memory and container of this machine.

Linux facts come from ``/proc`` and the cgroup files (the limits a container or a SLURM job really
imposes, which ``os.cpu_count()`` does not show); macOS and Windows get what the standard library offers.

Sample: a Docker container started without ``--shm-size`` on a 2-core, 24 GB host establishes
``system.os = "linux"``, ``system.cpu_count = 2``, ``system.ram_total_mib = 24105.6``,
``system.shm_total_mib = 64.0``, ``system.container = true`` and ``system.container_kind = "docker"``.
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path
from typing import ClassVar, Mapping

from .base import FactSink, ProbeContext

_MIB = 1024 * 1024
_UNLIMITED = 1 << 60  # cgroup v1 writes a huge number for "no limit"


class SystemProbe:
    name: ClassVar[str] = "system"
    needs: ClassVar[str] = "machine"
    description: ClassVar[str] = "reads the operating system, CPUs, memory, /dev/shm and container of this machine"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        system = {"Linux": "linux", "Windows": "windows", "Darwin": "macos"}.get(platform.system(), platform.system().lower())
        sink.add("system.os", system)
        sink.add("system.machine", platform.machine())
        sink.add("system.os_release", _os_release())
        if system == "linux":
            sink.add("system.wsl", _is_wsl(context.environ), detail="/proc/version")
        cores = os.cpu_count()
        if cores:
            sink.add("system.cpu_count", cores)
            usable = _usable_cpus(cores)
            sink.add("system.cpu_usable", usable, detail="CPU affinity and cgroup quota")
        memory = _memory_mib()
        for name, value in memory.items():
            sink.add(f"system.{name}", value)
        if Path("/dev/shm").is_dir():
            usage = shutil.disk_usage("/dev/shm")
            sink.add("system.shm_total_mib", round(usage.total / _MIB, 1), detail="statvfs /dev/shm")
            sink.add("system.shm_free_mib", round(usage.free / _MIB, 1), detail="statvfs /dev/shm")
        if system == "linux":
            kind = container_kind(context.environ)
            sink.add("system.container", kind is not None)
            if kind is not None:
                sink.add("system.container_kind", kind)


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform(terse=True)


def _is_wsl(environ: Mapping[str, str]) -> bool:
    if "WSL_DISTRO_NAME" in environ:
        return True
    try:
        return "microsoft" in Path("/proc/version").read_text(encoding="utf-8").lower()
    except OSError:
        return False


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _cgroup_dirs(controller: str) -> list[Path]:
    """The folders holding this process's cgroup files for ``controller`` (v2 unified and v1), nearest first."""
    dirs: list[Path] = []
    text = _read(Path("/proc/self/cgroup")) or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, relative = parts
        base = Path("/sys/fs/cgroup") if hierarchy == "0" else (
            Path("/sys/fs/cgroup") / controllers if controller in controllers.split(",") else None)
        if base is not None:
            dirs += [base / relative.lstrip("/"), base]
    return [folder for folder in dirs if folder.is_dir()]


def _usable_cpus(cores: int) -> float:
    usable = float(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else float(cores)
    for folder in _cgroup_dirs("cpu"):
        quota_text = _read(folder / "cpu.max")
        if quota_text:
            quota, _, period = quota_text.partition(" ")
            if quota != "max" and period:
                usable = min(usable, int(quota) / int(period))
            break
        quota_v1, period_v1 = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota_v1 and period_v1:
            if int(quota_v1) > 0:
                usable = min(usable, int(quota_v1) / int(period_v1))
            break
    return round(usable, 2)


def _cgroup_memory() -> tuple[float, float] | None:
    """(limit, usage) in bytes when a cgroup limits this process's memory."""
    for folder in _cgroup_dirs("memory"):
        for limit_name, usage_name in (("memory.max", "memory.current"), ("memory.limit_in_bytes", "memory.usage_in_bytes")):
            limit = _read(folder / limit_name)
            if limit is None:
                continue
            if limit == "max" or int(limit) >= _UNLIMITED:
                return None
            return float(limit), float(_read(folder / usage_name) or 0)
    return None


def _memory_mib() -> dict[str, float]:
    meminfo = _read(Path("/proc/meminfo"))
    if meminfo:
        values = {}
        for line in meminfo.splitlines():
            key, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                values[key] = float(rest.split()[0]) * 1024
        total, available = values.get("MemTotal"), values.get("MemAvailable")
        limited = _cgroup_memory()
        if limited is not None and total is not None and limited[0] < total:
            total = limited[0]
            available = min(available or total, limited[0] - limited[1])
        out = {"ram_total_mib": total, "ram_available_mib": available,
               "swap_total_mib": values.get("SwapTotal"), "swap_free_mib": values.get("SwapFree")}
        return {key: round(value / _MIB, 1) for key, value in out.items() if value is not None}
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return _windows_memory_mib()
    try:  # macOS and other POSIX systems: total only
        return {"ram_total_mib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / _MIB, 1)}
    except (ValueError, OSError, AttributeError):
        return {}


def _windows_memory_mib() -> dict[str, float]:  # pragma: no cover - Windows only
    import ctypes

    class _Status(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong), ("total_phys", ctypes.c_ulonglong),
                    ("avail_phys", ctypes.c_ulonglong), ("total_page", ctypes.c_ulonglong),
                    ("avail_page", ctypes.c_ulonglong), ("total_virtual", ctypes.c_ulonglong),
                    ("avail_virtual", ctypes.c_ulonglong), ("avail_extended", ctypes.c_ulonglong)]

    status = _Status()
    status.length = ctypes.sizeof(_Status)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return {}
    return {"ram_total_mib": round(status.total_phys / _MIB, 1), "ram_available_mib": round(status.avail_phys / _MIB, 1)}


def container_kind(environ: Mapping[str, str]) -> str | None:
    """docker, podman, kubernetes, apptainer, lxc, container, or None outside a container."""
    if "APPTAINER_CONTAINER" in environ or "SINGULARITY_CONTAINER" in environ:
        return "apptainer"
    if "KUBERNETES_SERVICE_HOST" in environ:
        return "kubernetes"
    if Path("/run/.containerenv").exists():
        return "podman"
    if Path("/.dockerenv").exists():
        return "docker"
    cgroup = _read(Path("/proc/1/cgroup")) or ""
    for marker, kind in (("kubepods", "kubernetes"), ("docker", "docker"), ("containerd", "container"),
                         ("libpod", "podman"), ("lxc", "lxc")):
        if marker in cgroup:
            return kind
    return "container" if "container" in environ else None
