"""Each functional check broken on purpose, with real installed packages and real folders: ✗ with the right evidence."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

BIN = str(Path(sys.executable).parent)


def _environ(home: Path, **variables: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("nnUNet")}
    return {**env, "HOME": str(home), "SHELL": "/bin/bash", "PATH": BIN + os.pathsep + os.environ["PATH"], **variables}


def _diagnose(python: str | Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    completed = subprocess.run([str(python), "-m", "nnunet_doctor", "--format", "json", *args], env=env,
                               capture_output=True, text=True, timeout=600)
    assert completed.stdout.startswith("{"), completed.stderr[-3000:]
    return completed.returncode, json.loads(completed.stdout)


def _area(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(area for area in report["machine"]["areas"] if area["key"] == key)


def _failed(area: dict[str, Any]) -> list[str]:
    return [item["text"] for item in area["checks"] if item["mark"] == "✗"]


def test_a_torchvision_built_for_another_torch(mismatched_venv: Path, tmp_path: Path) -> None:
    """Version reads say nothing wrong here (torchvision is installed, nnunetv2's requirements hold); loading it fails."""
    code, report = _diagnose(mismatched_venv, _environ(tmp_path))
    installation = _area(report, "installation")
    assert installation["mark"] == "✗"
    failed = _failed(installation)
    assert any(text.startswith("torchvision 0.") and "compiled operators: " in text for text in failed), failed
    assert any(text.startswith("nnU-Net's trainer lookup") for text in failed), failed
    causes = {cause["rule"]: cause for cause in report["causes"]}
    torchvision = causes["install.dependency_mismatch.torchvision_ops"]
    assert torchvision["certainty"] >= 0.9 and report["causes"][0]["cause"] in ("install.dependency_mismatch",
                                                                               "env.paths_unset")
    assert "torchvision" in torchvision["fix"] and "--force-reinstall" in torchvision["fix"]
    assert code == 1


def test_a_broken_external_trainer_and_an_unwritable_results_folder(tmp_path: Path,
                                                                    read_only: Callable[[Path], Path]) -> None:
    trainers = tmp_path / "trainers"
    trainers.mkdir()
    (trainers / "broken_trainer.py").write_text(
        "from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer\n"
        "import nnunet_doctor_absent_module\n\n\n"
        "class nnUNetTrainer_Broken(nnUNetTrainer):\n    pass\n")
    raw, pre = tmp_path / "raw", tmp_path / "pre"
    raw.mkdir(), pre.mkdir()
    results = read_only(tmp_path / "results")
    env = _environ(tmp_path, nnUNet_raw=str(raw), nnUNet_preprocessed=str(pre), nnUNet_results=str(results),
                   nnUNet_extTrainer=str(trainers))
    code, report = _diagnose(sys.executable, env)

    installation = _area(report, "installation")
    assert installation["mark"] == "✗"
    missing = "ModuleNotFoundError: No module named 'nnunet_doctor_absent_module'"
    assert f"nnU-Net's trainer lookup (every trainer module, nnUNet_extTrainer included): {missing} " \
           f"({trainers / 'broken_trainer.py'}:2)" in _failed(installation)
    assert any(text.startswith(f"trainer nnUNetTrainer_Broken: {missing}") for text in _failed(installation))

    paths = _area(report, "paths")
    assert paths["mark"] == "✗"
    assert [text for text in _failed(paths) if text.startswith(f"nnUNet_results {results}: ")], paths["checks"]
    assert f"nnUNet_preprocessed {pre}: a file written, read back and deleted" in [i["text"] for i in paths["checks"]]
    assert sorted(p.name for p in pre.iterdir()) == []

    rules = [cause["rule"] for cause in report["causes"] if cause["certainty"] >= 0.4]
    assert "env.path_not_writable.output" in rules or "env.path_not_writable.write_check" in rules
    assert any(rule.startswith("install.trainer_not_found.lookup") for rule in rules)
    assert code == 1
