"""The README's set-up gives an nnU-Net that works: it plans, preprocesses, trains 2 CPU epochs and predicts."""
from __future__ import annotations

import json
import subprocess
import sys

from typing import Any


def test_plan_preprocess_train_and_predict(trained: Any) -> None:
    assert (trained.root / "nnUNet_preprocessed" / "Dataset001_Tiny" / "nnUNetPlans.json").is_file()
    fold = trained.model / "fold_0"
    assert (fold / "checkpoint_final.pth").is_file()
    log = next(fold.glob("training_log_*.txt")).read_text()
    assert "Epoch 1" in log and "Epoch 2" not in log  # epochs 0 and 1
    assert f"Using trainer '{trained.trainer}' from: {trained.root / 'trainers'}" in trained.outputs["train"]
    assert sorted(p.name for p in (trained.root / "predicted").glob("*.nii.gz")) == ["test_000.nii.gz", "test_001.nii.gz"]
    print(json.dumps({name: round(seconds, 1) for name, seconds in trained.seconds.items()}))


def test_the_check_passes_on_the_working_installation(trained: Any) -> None:
    """With a trained model at hand, every functional check runs and passes, the network's included."""
    completed = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--dataset", "1", "--results", str(trained.model),
                                "--format", "json", "--quick"], env=trained.env, capture_output=True, text=True,
                               timeout=600)
    report = json.loads(completed.stdout)
    checks = {area["key"]: area for area in report["machine"]["areas"]}
    marks = [item["mark"] for area in checks.values() for item in area["checks"]]
    assert marks and set(marks) <= {"✓", "!"}, checks
    network = [item for item in checks["gpu"]["checks"] if " network of " in item["text"]]
    assert [item["mark"] for item in network] == ["✓"], checks["gpu"]
    assert network[0]["text"].endswith("forward and backward on cpu, input 4x8x8"), network[0]
    assert checks["installation"]["mark"] == "✓" and checks["paths"]["mark"] == "✓"
    assert completed.returncode == 0, completed.stdout[-3000:]
