"""The marks mean what flutter doctor's mean, on facts recorded on other machines (tests/fixtures/snapshots)."""
from __future__ import annotations

import json
from pathlib import Path

from nnunet_doctor.checkup import build_checkup
from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis
from nnunet_doctor.probes.runner import ProbeReport

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots"


def _checklist(facts: dict, ran: tuple[str, ...] = ("installation", "environment", "gpu", "system")) -> dict:
    result = run_diagnosis(DiagnosisRequest(facts=facts, offline=True))
    result.probe_reports = [ProbeReport(name, "ran", 0.1) for name in ran]  # as on the machine the facts come from
    return {area["key"]: area for area in build_checkup(result)["areas"]}


def test_a_gpu_held_by_another_process_will_hurt() -> None:
    facts = json.loads((SNAPSHOTS / "brats21kaist_2_oom_constructed.json").read_text())["facts"]
    gpu = _checklist(facts)["gpu"]
    assert gpu["mark"] in ("!", "✗")
    assert {"mark": "!", "style": "yellow",
            "text": "cuda:0 has 0.0 GiB free: nnU-Net's default plans target 8 GiB (a smaller batch or patch, or a free "
                    "GPU, is needed)"} in gpu["checks"]


def test_a_small_dev_shm_will_hurt_and_an_unprobed_area_is_unknown() -> None:
    areas = _checklist({"system.os": "linux", "system.shm_total_mib": 64.0, "system.container": True,
                        "system.container_kind": "docker"}, ran=("system",))
    assert areas["system"]["mark"] == "!"
    assert areas["system"]["checks"][0]["text"].startswith("/dev/shm is 0.1 GiB: ")
    assert {areas[key]["mark"] for key in ("installation", "paths", "gpu")} == {"?"}


def test_a_cpu_only_torch_will_hurt() -> None:
    facts = json.loads((SNAPSHOTS / "dev_machine_cpu_only.json").read_text())["facts"]
    gpu = _checklist(facts)["gpu"]
    assert gpu["mark"] == "!"
    assert gpu["checks"][0]["text"].startswith("this PyTorch is a CPU-only build")
