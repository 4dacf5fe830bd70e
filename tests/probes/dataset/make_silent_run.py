"""Record a real nnU-Net run on a dataset with a silent fault, for test_content.py (regenerate with this script).

Writes the anatomy dataset of dataset_synthetic.py (10 cases, seed 0, 32 voxels a side) with the labels of 3 cases
shifted (dataset_faults.label_shifted), then runs nnunetv2 on it as a user would:

    nnUNetv2_plan_and_preprocess -d 2 -c 3d_fullres --verify_dataset_integrity -np 1
    nnUNetv2_train 2 3d_fullres 0 -tr nnUNetTrainer_1epoch_tiny -device cpu

(one epoch of 4 iterations, trainer found through ``nnUNet_extTrainer``; a stub ``timm`` where torchvision does not
load, as tests/fixtures/logs/make_real_logs.py explains). nnU-Net verifies the dataset, plans, preprocesses and
trains without a word about the labels. The logs go to ``real/`` (paths made machine-independent).

    .venv/bin/python tests/probes/dataset/make_silent_run.py        # about 2 minutes on 2 cores
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "fixtures" / "logs"))

from dataset_faults import label_shifted  # noqa: E402
from dataset_synthetic import Anatomy, write_anatomy  # noqa: E402
from make_real_logs import Workspace, _stub_timm, _torchvision_loads, tiny_trainer  # noqa: E402

SPEC = Anatomy(size=32)  # the test writes the same dataset again (the generator is seeded)
OUT = HERE / "real"
#: one epoch of 4 iterations: a real, complete training log in a minute on a CPU
TRAINER = tiny_trainer("nnUNetTrainer_1epoch_tiny", 1, 4)


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        workspace = Workspace(root, {**os.environ, "nnUNet_raw": str(root / "nnUNet_raw"),
                                     "nnUNet_preprocessed": str(root / "nnUNet_preprocessed"),
                                     "nnUNet_results": str(root / "nnUNet_results"), "nnUNet_n_proc_DA": "1"}, OUT)
        folder = write_anatomy(workspace.raw, SPEC)
        label_shifted(folder, workspace.raw)
        trainers = root / "custom_trainers"
        trainers.mkdir()
        (trainers / "nnUNetTrainer_1epoch_tiny.py").write_text(TRAINER)
        workspace.env["nnUNet_extTrainer"] = str(trainers)
        if not _torchvision_loads():
            _stub_timm(workspace)
        codes = [workspace.run("plan_labels_shifted", ["nnUNetv2_plan_and_preprocess", "-d", "2", "-c", "3d_fullres",
                                                       "--verify_dataset_integrity", "-np", "1"]),
                 workspace.run("train_labels_shifted", ["nnUNetv2_train", "2", "3d_fullres", "0", "-tr",
                                                        "nnUNetTrainer_1epoch_tiny", "-device", "cpu"])]
        fold = workspace.results / folder.name / "nnUNetTrainer_1epoch_tiny__nnUNetPlans__3d_fullres" / "fold_0"
        for log in fold.glob("training_log_*.txt"):
            (OUT / "train_labels_shifted_fold_0.txt").write_text(workspace.sanitise(log.read_text()), encoding="utf-8")
    return max(codes)


if __name__ == "__main__":
    raise SystemExit(main())
