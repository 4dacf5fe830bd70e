"""Silent data faults: datasets of bodies, organs and lesions (random sizes, positions, fields of view) with one
fault in 3 of 10 cases; ``diagnose --dataset`` must rank it first and name the file at fault. Clean datasets of the
same generator -- CT and two-channel MR, isotropic and strongly anisotropic, uniform and heterogeneous -- must raise
nothing at medium certainty (bench/dataset_false_alarms.py measures the rate over many seeds).
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from dataset_faults import SILENT_FAULTS, Fault
from dataset_support import Roots, ranking, records, tree_digest
from dataset_synthetic import Anatomy, write_anatomy

from nnunet_doctor.engine.certainty import FOUND_THRESHOLD


@pytest.mark.parametrize("fault", SILENT_FAULTS, ids=[fault.name for fault in SILENT_FAULTS])
def test_the_silent_fault_ranks_first_and_names_the_file(fault: Fault, roots: Roots) -> None:
    assert isinstance(fault.spec, Anatomy)
    fault.inject(write_anatomy(roots.raw, fault.spec), roots.raw)
    before = tree_digest(roots.raw)
    diagnosis = roots.diagnose("2")
    assert tree_digest(roots.raw) == before
    assert diagnosis.causes, f"nothing found for '{fault.name}'"
    top = diagnosis.causes[0]
    assert top.cause == fault.cause, f"'{fault.name}': expected {fault.cause} first, got {ranking(diagnosis)}"
    assert top.certainty >= FOUND_THRESHOLD
    assert fault.names in top.best.fix, f"'{fault.name}': the fix does not name {fault.names!r}:\n{top.best.fix}"
    assert "array(" not in top.best.fix and "np.float" not in top.best.fix  # words, not numpy reprs


@pytest.mark.parametrize("modality, anisotropic, heterogeneous", list(itertools.product(["CT", "MR"], [False, True], [False, True])))
def test_a_clean_dataset_raises_nothing(modality: str, anisotropic: bool, heterogeneous: bool, roots: Roots) -> None:
    write_anatomy(roots.raw, Anatomy(modality=modality, anisotropic=anisotropic, heterogeneous=heterogeneous, seed=7,
                                     test_cases=2))
    diagnosis = roots.diagnose("2")
    assert [c for c in ranking(diagnosis) if c[1] >= FOUND_THRESHOLD] == []
    assert records(diagnosis, "dataset.content_issues") == [] or all(
        issue["kind"] in ("unlike", "intensity_scale_normalized") for issue in records(diagnosis, "dataset.content_issues"))


def test_a_real_nnunet_run_trains_through_shifted_labels_and_the_doctor_ranks_them_first(roots: Roots) -> None:
    """real/: nnU-Net's verification, planning and a 1-epoch CPU training on this very dataset (make_silent_run.py)
    said nothing about the shifted labels; with the dataset, the fault outranks everything the logs say."""
    from make_silent_run import OUT, SPEC

    from dataset_faults import label_shifted

    label_shifted(write_anatomy(roots.raw, SPEC), roots.raw)
    logs = "".join((OUT / name).read_text(encoding="utf-8") for name in ("plan_labels_shifted.log",
                                                                         "train_labels_shifted.log"))
    assert "verify_dataset_integrity Done" in logs and "Training done." in logs  # nnU-Net saw nothing wrong
    alone = ranking(roots.diagnose(None, log=logs))
    assert "data.geometry_image_label" not in dict(alone)
    diagnosis = roots.diagnose("2", log=logs)
    ranked = ranking(diagnosis)
    assert ranked[0][0] == "data.geometry_image_label" and ranked[0][1] >= FOUND_THRESHOLD, ranked
    assert all(certainty < ranked[0][1] for _, certainty in ranked[1:]), ranked
    assert "labelsTr/case_0005.nii.gz" in diagnosis.causes[0].best.fix


def test_a_warm_run_gives_the_same_findings_and_an_edited_label_is_judged_again(roots: Roots) -> None:
    from dataset_faults import label_convention

    folder = write_anatomy(roots.raw, Anatomy())
    assert records(roots.diagnose("2"), "dataset.content_issues") == []
    label_convention(folder, roots.raw)
    found = records(roots.diagnose("2"), "dataset.content_issues")
    assert {issue["case"] for issue in found if issue["kind"] == "label_convention"} == {"case_0002", "case_0005",
                                                                                         "case_0008"}
    assert records(roots.diagnose("2"), "dataset.content_issues") == found


def test_the_input_folder_of_a_prediction_log_is_checked_against_the_training_cases(roots: Roots) -> None:
    """A real prediction log (the healthy corpus's) whose -i names a folder of CT images rescaled to [0, 1]."""
    import numpy as np
    import SimpleITK as sitk

    from nnunet_doctor.rules import __file__ as rules_init

    write_anatomy(roots.raw, Anatomy(test_cases=2))
    inputs = roots.base / "to_predict"
    inputs.mkdir()
    for index, source in enumerate(sorted((roots.raw / "Dataset002_Anatomy" / "imagesTs").iterdir())):
        image = sitk.ReadImage(str(source))
        rescaled = sitk.GetImageFromArray((sitk.GetArrayFromImage(image).astype(np.float32) + 1024) / 4095)
        rescaled.CopyInformation(image)
        sitk.WriteImage(rescaled, str(inputs / f"patient_{index:03d}_0000.nii.gz"))
    log = (Path(rules_init).parent / "corpus" / "healthy" / "predict_healthy.log").read_text(encoding="utf-8")
    log = log.replace("/data/nnunet/imagesTs", str(inputs))
    elsewhere = ranking(roots.diagnose("2", log=log.replace(str(inputs), str(roots.base / "elsewhere"))))
    assert [cause for cause, certainty in elsewhere if certainty >= FOUND_THRESHOLD] == []  # not on this machine
    diagnosis = roots.diagnose("2", log=log)
    assert diagnosis.causes[0].cause == "infer.domain_shift", ranking(diagnosis)
    assert str(inputs / "patient_000_0000.nii.gz") in diagnosis.causes[0].best.fix
