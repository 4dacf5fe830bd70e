"""Missing paths explained by the layout model, on real nnU-Net logs of steps run out of order.

The real logs are nnunetv2 2.8.1 runs (tests/fixtures/logs/make_real_logs.py and make_layout_logs.py): prediction
before fold 1 was trained, prediction before any training, training with plans that were never planned,
preprocessing before planning, training before preprocessing, export without the final validation, prediction
with only checkpoint_best.pth left.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from nnunet_doctor.probes.log.layout import LayoutReader
from nnunet_doctor.probes.log.scanner import Line
from nnunet_doctor.rules.layout import ARTIFACTS, match_path, path_problem
from nnunet_doctor.testing import diagnose_text

REAL = Path(__file__).parents[2] / "fixtures" / "logs" / "real"


def read(text: str) -> list[dict]:
    reader = LayoutReader()
    for number, line in enumerate(text.splitlines(), 1):
        reader.on_line(Line(number, line, "t.log", frozenset()))
    return reader.records


@pytest.mark.parametrize(("log", "artifact", "step", "cause"), [
    ("predict_fold_missing.log", "checkpoint_final", "train", "infer.model_missing"),
    ("predict_model_missing.log", "model_files", "train", "infer.model_missing"),
    ("train_plans_not_found.log", "plans", "plan", "train.not_preprocessed"),
    ("layout_preprocess_before_plan.log", "plans", "plan", "train.not_preprocessed"),
    ("layout_train_before_preprocess.log", "preprocessed_data", "preprocess", "train.not_preprocessed"),
    ("layout_export_without_validation.log", "validation_summary", "validate", "infer.export_problem"),
    ("layout_predict_latest_only.log", "checkpoint_final", "train", "infer.model_missing"),
])
def test_real_out_of_order_runs(log: str, artifact: str, step: str, cause: str) -> None:
    text = (REAL / log).read_text(encoding="utf-8")
    record = read(text)[0]
    assert (record["artifact"], record["step"], record["problem"]) == (artifact, step, "not_run")
    if not log.startswith("layout_"):  # tests/rules/test_log_rules.py diagnoses the layout_* logs
        causes = [c.cause for c in diagnose_text(text).causes]
        assert causes[0] == cause, causes


def test_a_relative_variable_joined_twice() -> None:
    line = ("FileNotFoundError: [Errno 2] No such file or directory: "
            "'./nnUNet_raw/Dataset009_Spleen/labelsTr/./nnUNet_raw/Dataset009_Spleen/labelsTr/spleen_2.nii.gz'")
    assert read(line)[0]["problem"] == "joined_twice"
    assert diagnose_text(line).causes[0].cause == "env.path_wrong"


def test_path_problems() -> None:
    assert path_problem("/d/nnUNet_raw/Dataset001_A/Dataset001_A/dataset.json") == ("wrong_level", "Dataset001_A")
    assert path_problem("../nnUNet_results/Dataset001_A/x") == ("relative", "nnUNet_results")
    assert path_problem("/d/nnUNet_results/Dataset001_A/nnUNetTrainer__nnUNetPlans__2d/fold_0/checkpoint_final.pth") is None


def test_every_artifact_of_the_model_matches_its_own_example() -> None:
    examples = {
        "checkpoint_final": "/r/Dataset001_A/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_0/checkpoint_final.pth",
        "checkpoint_latest": "/r/Dataset001_A/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_all/checkpoint_best.pth",
        "validation_summary": "/r/Dataset001_A/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_0/validation/summary.json",
        "progress_png": "/r/Dataset001_A/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_0/progress.png",
        "model_files": "/r/Dataset001_A/nnUNetTrainer__nnUNetPlans__3d_fullres/plans.json",
        "crossval_results": "/r/Dataset001_A/nnUNetTrainer__nnUNetPlans__3d_fullres/crossval_results_folds_0_1_2_3_4/summary.json",
        "inference_information": "/r/Dataset001_A/inference_information.json",
        "splits": "/p/Dataset001_A/splits_final.json",
        "dataset_fingerprint": "/p/Dataset001_A/dataset_fingerprint.json",
        "plans": "/p/Dataset001_A/nnUNetResEncUNetMPlans.json",
        "preprocessed_data": "/p/Dataset001_A/nnUNetPlans_3d_fullres/case_001.b2nd",
        "gt_segmentations": "/p/Dataset001_A/gt_segmentations/case_001.nii.gz",
        "raw_dataset": "/raw/Dataset001_A/imagesTr/case_001_0000.nii.gz",
        "v1_checkpoint": "/R/nnUNet/3d_fullres/Task004_H/nnUNetTrainerV2__nnUNetPlansv2.1/fold_0/model_final_checkpoint.model",
        "v1_validation_summary": "/R/nnUNet/3d_fullres/Task004_H/nnUNetTrainerV2__nnUNetPlansv2.1/fold_0/validation_raw/summary.json",
        "v1_plans": "/p/Task004_H/nnUNetPlansv2.1_plans_3D.pkl",
        "v1_ensembles": "/R/nnUNet/ensembles/Task004_H/prediction_commands.txt",
    }
    assert set(examples) == {a.name for a in ARTIFACTS}
    for name, path in examples.items():
        artifact = match_path(path)
        assert artifact is not None and artifact.name == name, (name, artifact)


def test_an_old_v1_release_does_not_create_the_ensembles_folder() -> None:
    line = ("FileNotFoundError: [Errno 2] No such file or directory: "
            "'/home/u/RESULTS_FOLDER/nnUNet/ensembles/Task001_ABCs/prediction_commands.txt'")
    assert read(line)[0]["problem"] == "parent_missing"
    assert diagnose_text(line).causes[0].cause == "install.nnunet_outdated"
