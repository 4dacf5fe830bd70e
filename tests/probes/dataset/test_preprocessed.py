"""The preprocessed probe on data nnU-Net really preprocessed (nnUNetv2_plan_and_preprocess, once per module)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import SimpleITK as sitk

from nnunet_doctor.engine.certainty import is_found
from dataset_support import Roots, fact, ranking, records, tree_digest
from dataset_synthetic import Spec, read, rewrite, write_dataset

NNUNET = Path(sys.executable).parent


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Roots:
    roots = Roots(tmp_path_factory.mktemp("planned"))
    write_dataset(roots.raw)
    done = subprocess.run([str(NNUNET / "nnUNetv2_plan_and_preprocess"), "-d", "1", "-c", "3d_fullres", "-npfp", "1",
                           "-np", "1", "--no_pbar"], capture_output=True, text=True,
                          env={**os.environ, **roots.environ}, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return roots


@pytest.fixture
def copy(planned: Roots, tmp_path: Path) -> Roots:
    """A private copy of the planned dataset (times preserved) that a test may break."""
    roots = Roots(tmp_path)
    for folder in ("raw", "preprocessed"):
        shutil.rmtree(roots.base / folder)
        shutil.copytree(planned.base / folder, roots.base / folder, copy_function=shutil.copy2)
    return roots


def preprocessed(roots: Roots) -> Path:
    return roots.preprocessed / "Dataset001_Synth"


def test_a_fresh_preprocessing_is_complete_readable_and_up_to_date(copy: Roots) -> None:
    before = tree_digest(copy.raw, copy.preprocessed)
    diagnosis = copy.diagnose("1")
    assert tree_digest(copy.raw, copy.preprocessed) == before
    assert fact(diagnosis, "preprocessed.fingerprint") and fact(diagnosis, "preprocessed.stale") == []
    assert fact(diagnosis, "preprocessed.corrupt") == [] and fact(diagnosis, "preprocessed.dataset_json_changes") == []
    folders = records(diagnosis, "preprocessed.data_folders")
    assert [(f["name"], f["cases"], f["format"], f["missing_cases"]) for f in folders] == [
        ("nnUNetPlans_3d_fullres", 6, "blosc2", [])]
    configurations = {c["name"]: c for c in records(diagnosis, "plans.configurations")}
    assert configurations["3d_fullres"]["preprocessed"] and not configurations["2d"]["preprocessed"]
    assert configurations["3d_fullres"]["network"] == "PlainConvUNet" and 0 < configurations["3d_fullres"]["vram_gb"] < 8
    assert [c for c in ranking(diagnosis) if is_found(c[1])] == []


def test_the_memory_estimate_is_nnunets_for_the_planned_configuration(copy: Roots) -> None:
    from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner

    plans = json.loads((preprocessed(copy) / "nnUNetPlans.json").read_text())["configurations"]["3d_fullres"]
    architecture = plans["architecture"]
    estimate = ExperimentPlanner.static_estimate_VRAM_usage(
        tuple(plans["patch_size"]), 1, 3, architecture["network_class_name"], architecture["arch_kwargs"],
        architecture["_kw_requires_import"])
    configuration = next(c for c in records(copy.diagnose("1"), "plans.configurations") if c["name"] == "3d_fullres")
    assert configuration["vram_gb"] == pytest.approx(8 * estimate * plans["batch_size"] / (560_000_000 * 2))


def test_a_label_fixed_after_preprocessing_is_stale(copy: Roots) -> None:
    label = copy.raw / "Dataset001_Synth" / "labelsTr" / "case_0001.nii.gz"
    array = sitk.GetArrayFromImage(read(label))
    array[0] = 1
    rewrite(label, array)
    diagnosis = copy.diagnose("1")
    assert [s["file"] for s in records(diagnosis, "preprocessed.stale")] == ["labelsTr/case_0001.nii.gz"]
    assert diagnosis.causes[0].cause == "data.preprocessed_stale"
    assert "labelsTr/case_0001.nii.gz" in diagnosis.causes[0].best.fix


def test_the_error_persists_because_training_reads_old_preprocessed_labels(copy: Roots) -> None:
    label = copy.raw / "Dataset001_Synth" / "labelsTr" / "case_0003.nii.gz"
    rewrite(label, sitk.GetArrayFromImage(read(label)))  # rewritten ("fixed") after preprocessing
    os.utime(label, ns=(label.stat().st_atime_ns, label.stat().st_mtime_ns + 60 * 10**9))
    old = bytearray(label.read_bytes())
    old[40] ^= 0xFF  # the preprocessed copy of the label differs (same size, older)
    (preprocessed(copy) / "gt_segmentations" / "case_0003.nii.gz").write_bytes(bytes(old))
    log = "RuntimeError: CUDA error: device-side assert triggered"
    diagnosis = copy.diagnose("1", log=log)
    assert ranking(diagnosis)[0][0] == "data.preprocessed_stale", ranking(diagnosis)
    assert "data.labels_unexpected" not in [cause for cause, _ in ranking(diagnosis)]


def test_an_edited_dataset_json_is_stale_for_preprocessing(copy: Roots) -> None:
    path = copy.raw / "Dataset001_Synth" / "dataset.json"
    content = json.loads(path.read_text())
    content["labels"] = {"background": 0, "organ": 1, "tumour": 2}
    path.write_text(json.dumps(content))
    diagnosis = copy.diagnose("1")
    assert fact(diagnosis, "preprocessed.dataset_json_changes") == ["labels"]
    assert "dataset.json" in [s["file"] for s in records(diagnosis, "preprocessed.stale")]


def test_truncated_and_empty_preprocessed_files_are_corrupt(copy: Roots) -> None:
    data = preprocessed(copy) / "nnUNetPlans_3d_fullres"
    (data / "case_0002.b2nd").write_bytes((data / "case_0002.b2nd").read_bytes()[:100])
    (data / "case_0004.pkl").write_bytes(b"")
    diagnosis = copy.diagnose("1")
    corrupt = {c["file"]: c["problem"] for c in records(diagnosis, "preprocessed.corrupt")}
    assert set(corrupt) == {"case_0002.b2nd", "case_0004.pkl"} and corrupt["case_0004.pkl"].startswith("empty")
    assert diagnosis.causes[0].cause == "data.preprocessed_corrupt"
    assert "nnUNetv2_preprocess -d 1 -plans_name nnUNetPlans -c 3d_fullres" in diagnosis.causes[0].best.fix


def test_missing_parts_and_new_cases_are_reported(copy: Roots) -> None:
    (preprocessed(copy) / "nnUNetPlans_3d_fullres" / "case_0000_seg.b2nd").unlink()
    write_dataset(copy.base / "more", Spec(cases=7))
    for rel in ("imagesTr/case_0006_0000.nii.gz", "labelsTr/case_0006.nii.gz"):
        shutil.copy(copy.base / "more" / "Dataset001_Synth" / rel, copy.raw / "Dataset001_Synth" / rel)
    folder = records(copy.diagnose("1"), "preprocessed.data_folders")[0]
    assert folder["incomplete"] == ["case_0000"] and folder["missing_cases"] == ["case_0006"]


def test_splits_naming_unknown_cases_or_unreadable(copy: Roots) -> None:
    splits = preprocessed(copy) / "splits_final.json"
    splits.write_text(json.dumps([{"train": ["case_0000", "liver_99"], "val": ["case_0001"]}]))
    assert fact(copy.diagnose("1"), "preprocessed.splits")["unknown_cases"] == ["liver_99"]
    splits.write_text("[{")
    assert "error" in fact(copy.diagnose("1"), "preprocessed.splits")


def test_plans_edited_beyond_the_gpu_rank_gpu_memory_first(copy: Roots) -> None:
    path = preprocessed(copy) / "nnUNetPlans.json"
    plans = json.loads(path.read_text())
    plans["configurations"]["3d_fullres"].update(batch_size=64, patch_size=[64, 160, 160])
    path.write_text(json.dumps(plans))
    gpu = [{"index": 0, "name": "NVIDIA GeForce RTX 3060", "total_mib": 12288.0, "free_mib": 12000.0,
            "capability": "8.6"}]
    diagnosis = copy.diagnose("1", facts={"gpu": gpu})
    assert diagnosis.causes[0].cause == "train.gpu_oom", ranking(diagnosis)
    assert "-gpu_memory_target 9 -overwrite_plans_name nnUNetPlans_9G" in diagnosis.causes[0].best.fix


def test_without_nnunet_preprocessed_the_facts_stay_unknown(copy: Roots) -> None:
    environ = {**copy.environ, "nnUNet_preprocessed": ""}
    from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis

    result = run_diagnosis(DiagnosisRequest(dataset="1", offline=True, environ=environ, probes={"preprocessed"}))
    assert result.diagnosis.facts.unknown_reason("preprocessed.present") == "nnUNet_preprocessed is not set"
