"""The light install (`pip install nnunet-doctor`, no extra) degrades gracefully: what it cannot check is unknown,
with the extra that would check it, and nothing is blamed on the user's data or installation."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any


def _run(python: Path, home: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("nnUNet")}
    return subprocess.run([str(python), "-m", "nnunet_doctor", *args], capture_output=True, text=True, timeout=600,
                          env={**env, "HOME": str(home), **variables})


def test_a_clean_dataset_is_not_blamed_for_missing_numpy(light_venv: Path, generator: Any, tmp_path: Path) -> None:
    missing = subprocess.run([str(light_venv), "-c", "import numpy"], capture_output=True, text=True)
    assert "No module named 'numpy'" in missing.stderr
    generator.make_dataset(tmp_path / "raw", 1, "Clean", cases=6)
    completed = _run(light_venv, tmp_path, "--dataset", str(tmp_path / "raw" / "Dataset001_Clean"), "--offline",
                     "--format", "json", "--no-cache")
    report = json.loads(completed.stdout)
    assert [cause["cause"] for cause in report["causes"] if cause["certainty"] >= 0.4] == []
    notes = [finding["message"] for finding in report["findings"] if finding["source"] == "probe dataset"]
    assert any("need numpy" in note and "pip install 'nnunet-doctor[probes]'" in note for note in notes), notes
    assert completed.returncode == 0


def test_the_machine_check_says_what_it_could_not_check(light_venv: Path, tmp_path: Path) -> None:
    completed = _run(light_venv, tmp_path, SHELL="/bin/bash")
    assert "Traceback" not in completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert any(line.startswith("[✗] nnU-Net installation: nnunetv2 is not installed") or
               line.startswith("[!] nnU-Net installation: nnunetv2 is not installed") for line in lines), lines
    assert any(line.startswith("    ? import nnunetv2: not checked, nnunetv2 is not installed") for line in lines), lines
    assert any(line.startswith("[?] PyTorch and GPU") for line in lines), lines
