"""The system probe on this machine, checked against what the operating system says by other means."""
from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

import pytest

from nnunet_doctor.probes.system import SystemProbe, container_kind

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def test_os_and_cpus(run_probe) -> None:
    run = run_probe(SystemProbe, {})
    assert run["system.os"] == {"Linux": "linux", "Darwin": "macos", "Windows": "windows"}[platform.system()]
    assert run["system.machine"] == platform.machine()
    assert run["system.cpu_count"] == os.cpu_count()
    assert 0 < run["system.cpu_usable"] <= run["system.cpu_count"]


@linux_only
def test_memory_and_shared_memory(run_probe) -> None:
    run = run_probe(SystemProbe, {})
    meminfo = {line.split(":")[0]: int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()}
    assert run["system.ram_total_mib"] <= round(meminfo["MemTotal"] / 1024, 1)
    assert 0 < run["system.ram_available_mib"] <= run["system.ram_total_mib"]
    assert run["system.swap_total_mib"] == round(meminfo["SwapTotal"] / 1024, 1)
    assert run["system.shm_total_mib"] == round(shutil.disk_usage("/dev/shm").total / 1024 / 1024, 1)
    assert run["system.wsl"] is ("microsoft" in Path("/proc/version").read_text().lower())


@linux_only
def test_container_markers(run_probe) -> None:
    assert container_kind({"APPTAINER_CONTAINER": "/images/nnunet.sif"}) == "apptainer"
    assert container_kind({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}) == "kubernetes"
    here = container_kind({})
    run = run_probe(SystemProbe, {})
    assert run["system.container"] is (here is not None)
    if Path("/.dockerenv").exists() and not Path("/run/.containerenv").exists():
        assert run["system.container_kind"] == "docker"
