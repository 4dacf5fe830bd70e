"""The results probe on a trained-model folder laid out as nnU-Net writes it (nnUNetTrainer.py, §5.3 of the reference)."""
from __future__ import annotations

import json
from pathlib import Path

from dataset_support import Roots, fact, ranking, records, tree_digest
from dataset_synthetic import read, rewrite, write_dataset

MODEL = "nnUNetTrainer__nnUNetPlans__3d_fullres"


def train(roots: Roots, folds: dict[str, list[str]], model: str = MODEL, channels: int = 1) -> Path:
    """A model folder whose folds hold the given files (checkpoints are only looked at, never loaded)."""
    folder = roots.results / "Dataset001_Synth" / model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plans.json").write_text("{}")
    (folder / "dataset.json").write_text(json.dumps({"channel_names": {str(i): f"c{i}" for i in range(channels)}}))
    for fold, files in folds.items():
        for name in files:
            path = folder / f"fold_{fold}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name == "validation/summary.json":
                path.write_text(json.dumps({"foreground_mean": {"Dice": 0.91}}))
            else:
                path.write_bytes(b"" if name.startswith("empty_") else b"PK\x03\x04 saved by nnU-Net")
    return folder


FINISHED = ["checkpoint_final.pth", "checkpoint_best.pth", "debug.json", "progress.png",
            "training_log_2025_3_5_09_07_01.txt", "validation/summary.json", "validation/case_0001.nii.gz"]


def test_finished_and_interrupted_folds(roots: Roots) -> None:
    write_dataset(roots.raw)
    train(roots, {"0": FINISHED, "1": ["checkpoint_latest.pth", "checkpoint_best.pth", "training_log_2025_3_6_10_00_00.txt"]})
    before = tree_digest(roots.results)
    diagnosis = roots.diagnose("1")
    assert tree_digest(roots.results) == before
    model = records(diagnosis, "results.models")[0]
    assert (model["finished_folds"], model["interrupted_folds"], model["channels"]) == (["0"], ["1"], 1)
    folds = {f["fold"]: f for f in records(diagnosis, "results.folds")}
    assert folds["0"]["mean_dice"] == 0.91 and folds["0"]["validation_npz"] == 0 and folds["1"]["checkpoint_latest"]
    assert diagnosis.causes[0].cause == "infer.model_missing"
    assert "nnUNetv2_train 1 3d_fullres 1 -tr nnUNetTrainer -p nnUNetPlans --c" in diagnosis.causes[0].best.fix


def test_results_folder_given_directly_at_any_level(roots: Roots) -> None:
    model = train(roots, {"0": FINISHED})
    for folder in (model.parent, model, model / "fold_0"):
        diagnosis = roots.diagnose(None, results=folder)
        assert [m["folder"] for m in records(diagnosis, "results.models")] == [MODEL]


def test_the_training_logs_in_results_are_read_with_the_dataset(roots: Roots) -> None:
    folder = write_dataset(roots.raw)
    label = folder / "labelsTr" / "case_0003.nii.gz"
    array = __import__("SimpleITK").GetArrayFromImage(read(label))
    array[array == 2] = 255
    rewrite(label, array)
    model = train(roots, {"0": ["checkpoint_latest.pth"]})
    (model / "fold_0" / "training_log_2025_3_5_09_07_01.txt").write_text(
        "2025-03-05 09:07:01.000000: Epoch 0 \nRuntimeError: CUDA error: device-side assert triggered\n")
    diagnosis = roots.diagnose("1", results=model)
    assert diagnosis.causes[0].cause == "data.labels_unexpected", ranking(diagnosis)
    assert any(e.kind == "log" and "device-side assert" in e.text for e in diagnosis.causes[0].evidence)


def test_cascade_without_lowres_predictions_and_empty_checkpoints(roots: Roots) -> None:
    write_dataset(roots.raw)
    train(roots, {"0": ["checkpoint_final.pth"]}, "nnUNetTrainer__nnUNetPlans__3d_lowres")
    train(roots, {"0": ["empty_checkpoint_latest.pth"]}, "nnUNetTrainer__nnUNetPlans__3d_cascade_fullres")
    (roots.results / "Dataset001_Synth" / "nnUNetTrainer__nnUNetPlans__3d_cascade_fullres" / "fold_0" /
     "empty_checkpoint_latest.pth").rename(roots.results / "Dataset001_Synth" /
                                           "nnUNetTrainer__nnUNetPlans__3d_cascade_fullres" / "fold_0" / "checkpoint_latest.pth")
    causes = [cause for cause, _ in ranking(roots.diagnose("1"))]
    assert causes[:2] == ["train.checkpoint_problem", "train.cascade_missing_stage"]


def test_a_model_trained_on_other_channels(roots: Roots) -> None:
    write_dataset(roots.raw)
    train(roots, {"0": FINISHED}, channels=2)
    assert ranking(roots.diagnose("1"))[0][0] == "infer.input_mismatch"


def test_no_results_folder_for_the_dataset_means_no_model(roots: Roots) -> None:
    write_dataset(roots.raw)
    assert fact(roots.diagnose("1"), "results.models") == []
