"""The GPU probe: the real probe on this machine, and real subprocesses that hang, crash or answer as stand-ins.

The stand-ins (a torch whose import hangs or dies, an nvidia-smi with made-up answers) are described in
tests/fixtures/environment/README.md. GPU values for rules come from the snapshots, not from here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
import pytest

from nnunet_doctor.probes.gpu import GpuProbe, parse_apps_query, parse_gpu_query

from .conftest import FIXTURES

STANDIN_TORCH = FIXTURES / "standin_torch"
STANDIN_SMI = FIXTURES / "standin_nvidia_smi"
NO_NVIDIA_SMI = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                if p and not (Path(p) / "nvidia-smi").exists())


def _environ(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": NO_NVIDIA_SMI, **extra}


def test_the_real_probe_on_this_machine(run_probe) -> None:
    started = time.monotonic()
    run = run_probe(GpuProbe, _environ())
    real = subprocess.run([sys.executable, "-c", "import torch; print(torch.version.cuda, torch.cuda.device_count())"],
                          capture_output=True, text=True, timeout=120).stdout.split()
    assert run["nvidia_smi.present"] is False
    assert run["gpu.count"] == int(real[1])
    assert run["torch.cuda_built"] is (real[0] != "None")
    if real[0] == "None":  # this machine: a CPU-only torch, which is not an error in itself
        assert run["torch.cuda_available"] is False and run["gpu"] == []
        assert run["torch.cuda_unavailable_reason"] == "this PyTorch is a CPU-only build (torch.version.cuda is None)"
        assert run.notes == []
    assert time.monotonic() - started < 60


def test_a_torch_import_that_hangs_becomes_a_timeout_note(run_probe) -> None:
    started = time.monotonic()
    run = run_probe(GpuProbe, _environ(PYTHONPATH=str(STANDIN_TORCH / "hangs"), NNUNET_DOCTOR_GPU_TIMEOUT="2"))
    assert time.monotonic() - started < 15
    [(severity, message)] = run.notes
    assert severity == "warning"
    assert message.startswith("GPU probe timed out after 2 s while importing torch")
    assert run.unknown("gpu").startswith("GPU probe timed out after 2 s")
    assert run.unknown("torch.cuda_available") and run["nvidia_smi.present"] is False


def test_a_torch_import_that_crashes_becomes_a_note(run_probe) -> None:
    run = run_probe(GpuProbe, _environ(PYTHONPATH=str(STANDIN_TORCH / "crashes")))
    [(severity, message)] = run.notes
    assert severity == "warning"
    assert message.startswith("the GPU probe's torch subprocess was killed by signal SIGSEGV while importing torch")
    assert "killed by signal SIGSEGV" in run.unknown("gpu.count")


def test_without_torch_the_probe_says_it_does_not_apply(run_probe) -> None:
    run = run_probe(GpuProbe, _environ(PYTHONPATH=str(STANDIN_TORCH / "missing")))
    [(severity, message)] = run.notes
    assert severity == "info" and message.startswith("not applicable: PyTorch cannot be imported")
    assert "stand-in" in run.unknown("gpu")


def test_nvidia_smi_answers_are_parsed(run_probe) -> None:
    run = run_probe(GpuProbe, _environ(PATH=os.pathsep.join([str(STANDIN_SMI / "answers"), NO_NVIDIA_SMI])))
    assert run["nvidia_smi.present"] is True
    assert run["nvidia_smi.driver_version"] == "999.99.99" and run["nvidia_smi.cuda_version"] == "99.9"
    assert run["nvidia_smi.gpus"] == [
        {"index": 0, "name": "Stand-in GPU", "total_mib": 16384.0, "used_mib": 12288.0, "free_mib": 4096.0},
        {"index": 1, "name": "Stand-in GPU", "total_mib": 16384.0, "used_mib": None, "free_mib": None}]
    assert run["nvidia_smi.processes"] == [
        {"gpu_index": 0, "pid": 4242, "name": "/opt/stand-in/bin/python", "used_mib": 12000.0},
        {"gpu_index": 1, "pid": 4343, "name": "stand-in", "used_mib": None}]
    assert run.notes == []


def test_an_nvidia_smi_that_hangs_is_cut_off_and_torch_still_answers(run_probe) -> None:
    started = time.monotonic()
    run = run_probe(GpuProbe, _environ(PATH=os.pathsep.join([str(STANDIN_SMI / "hangs"), NO_NVIDIA_SMI]),
                                       NNUNET_DOCTOR_GPU_TIMEOUT="3"))
    assert time.monotonic() - started < 15
    assert ("warning", "nvidia-smi timed out while listing GPUs") in run.notes
    assert run["nvidia_smi.present"] is True and "nvidia_smi.gpus" not in run


def test_the_probe_leaves_out_its_own_processes() -> None:
    uuids = {"GPU-a": 0}
    rows = "GPU-a, 100, python, 500\nGPU-a, 200, /usr/bin/python3 train.py, 20480\n"
    assert [p["pid"] for p in parse_apps_query(rows, uuids, exclude={100})] == [200]
    assert parse_gpu_query("garbage\n") == ([], {}, None)


def _diagnose(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    diagnose = Path(sys.executable).with_name("diagnose")
    env = {key: value for key, value in os.environ.items() if not key.startswith("nnUNet_")}
    return subprocess.run([str(diagnose), *args], env={**env, "PATH": NO_NVIDIA_SMI, **environ}, capture_output=True,
                          text=True, timeout=120)


def test_a_hanging_probe_leaves_a_complete_json_report() -> None:
    completed = _diagnose("--format", "json", PYTHONPATH=str(STANDIN_TORCH / "hangs"), NNUNET_DOCTOR_GPU_TIMEOUT="2",
                          NNUNET_DOCTOR_CHECK_TIMEOUT="2")  # the functional checks import the same hanging torch
    assert completed.returncode == 1, completed.stderr
    report = json.loads(completed.stdout)
    assert {p["name"]: p["status"] for p in report["probes"]} == {
        "log": "skipped", "environment": "ran", "installation": "ran", "system": "ran", "gpu": "ran",
        "functional": "ran", "dataset": "skipped", "preprocessed": "skipped", "results": "skipped"}
    assert any(f["source"] == "probe gpu" and "timed out after 2 s while importing torch" in f["message"]
               for f in report["findings"])
    assert report["causes"][0]["cause"] == "env.paths_unset"  # the rest of the diagnosis went on


def test_a_crashing_probe_leaves_a_complete_environment_check() -> None:
    completed = _diagnose(PYTHONPATH=str(STANDIN_TORCH / "crashes"))
    assert completed.returncode == 1, completed.stderr
    out = completed.stdout
    # torch could not be looked at: "could not be checked", never a pass
    assert "[?] PyTorch and GPU" in out and "killed by signal SIGSEGV while importing torch" in out
    for area in ("nnU-Net installation", "nnU-Net paths and settings", "System"):
        assert f"] {area}" in out
    assert "Traceback" not in out + completed.stderr


def test_a_helper_whose_grandchild_keeps_the_pipes_open_is_abandoned_at_the_deadline() -> None:
    """A grandchild in a session of its own survives the kill of the process group and keeps stdout open:
    the probe must not wait for it (it used to outlive NNUNET_DOCTOR_GPU_TIMEOUT)."""
    import shutil
    import time

    from nnunet_doctor.probes.gpu import run_command

    if shutil.which("setsid") is None:
        pytest.skip("setsid is not installed")
    started = time.monotonic()
    result = run_command(["sh", "-c", "setsid sleep 60 & sleep 60"], {"PATH": "/usr/bin:/bin"}, timeout=1.0)
    assert result.timed_out and time.monotonic() - started < 15


def test_a_timeout_of_inf_or_nan_is_bounded() -> None:
    from nnunet_doctor.probes.gpu import DEFAULT_TIMEOUT, MAX_TIMEOUT, probe_timeout

    assert probe_timeout({"NNUNET_DOCTOR_GPU_TIMEOUT": "inf"}) == MAX_TIMEOUT
    for bad in ("nan", "abc", "0", "-3"):
        assert probe_timeout({"NNUNET_DOCTOR_GPU_TIMEOUT": bad}) == DEFAULT_TIMEOUT
