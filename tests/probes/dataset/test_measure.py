"""Voxel measurements: NaNs seen where SimpleITK hides them, label values and counts, unreadable files as results."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_doctor.probes.dataset.measure import CaseTask, measure_case


def write(path: Path, array: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return f"{path.parent.name}/{path.name}"


def test_nan_in_nii_gz_is_counted_although_simpleitk_reads_it_as_zero(tmp_path: Path) -> None:
    image = np.ones((6, 6, 6), np.float32)
    image[0, 0, :3] = np.nan
    rel = write(tmp_path / "imagesTr" / "a_0000.nii.gz", image)
    assert not np.isnan(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / rel)))).any()  # the quirk itself
    result = measure_case(CaseTask(str(tmp_path), (rel,), None, True))
    assert result["voxels"]["channels"][0]["nonfinite"] == 3


def test_nan_in_mha_is_counted_too(tmp_path: Path) -> None:
    image = np.ones((6, 6, 6), np.float32)
    image[1, 1, 1] = np.inf
    rel = write(tmp_path / "imagesTr" / "a_0000.mha", image)
    assert measure_case(CaseTask(str(tmp_path), (rel,), None, True))["voxels"]["channels"][0]["nonfinite"] == 1


def test_label_values_counts_and_intensity_per_label(tmp_path: Path) -> None:
    label = np.zeros((4, 5, 6), np.uint8)
    label[0] = 1
    label[1, 0, 0] = 255
    image = np.where(label == 1, 200.0, 10.0).astype(np.float32)
    result = measure_case(CaseTask(str(tmp_path), (write(tmp_path / "imagesTr" / "a_0000.nii.gz", image),),
                                   write(tmp_path / "labelsTr" / "a.nii.gz", label), True))
    stats = result["voxels"]["label"]
    assert stats["counts"] == {"0": 89, "1": 30, "255": 1} and stats["float"] is False and stats["total"] == 120
    assert result["voxels"]["channels"][0]["label_means"] == {"0": 10.0, "1": 200.0, "255": 10.0}


def test_float_labels_are_flagged_with_their_values(tmp_path: Path) -> None:
    label = np.zeros((4, 4, 4), np.float32)
    label[0] = 0.5
    label[1] = 1.0
    rel = write(tmp_path / "labelsTr" / "a.nii.gz", label)
    stats = measure_case(CaseTask(str(tmp_path), (), rel, True))["voxels"]["label"]
    assert stats["float"] is True and set(stats["counts"]) == {"0.0", "0.5", "1.0"}


def test_a_broken_file_is_a_result_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "labelsTr").mkdir()
    (tmp_path / "labelsTr" / "a.nii.gz").write_bytes(b"\x1f\x8b\x08\x00broken")
    result = measure_case(CaseTask(str(tmp_path), (), "labelsTr/a.nii.gz", True))
    assert "error" in result["headers"]["labelsTr/a.nii.gz"] and result["voxels"]["label"] is None


def test_the_one_read_nifti_reader_gives_nibabels_array(tmp_path: Path) -> None:
    import nibabel as nib

    from nnunet_doctor.probes.dataset.measure import _read_array

    rng = np.random.default_rng(1)
    cases: dict[str, np.ndarray] = {"int16.nii.gz": rng.integers(-1000, 3000, (7, 8, 9)).astype(np.int16),
                                    "float64.nii": rng.random((7, 8, 9)),
                                    "uint8.nii.gz": rng.integers(0, 3, (7, 8, 9)).astype(np.uint8)}
    for name, array in cases.items():
        nib.save(nib.Nifti1Image(array, np.eye(4)), tmp_path / name)
    big = nib.Nifti1Image(cases["int16.nii.gz"].astype(">i2"), np.eye(4))
    nib.save(big, tmp_path / "bigendian.nii.gz")
    scaled = nib.Nifti1Image(cases["int16.nii.gz"], np.eye(4))
    scaled.header.set_slope_inter(0.5, -10.0)
    nib.save(scaled, tmp_path / "scaled.nii.gz")
    for name in [*cases, "bigendian.nii.gz", "scaled.nii.gz"]:
        ours = _read_array(str(tmp_path / name))
        reference = np.asanyarray(nib.load(tmp_path / name).dataobj)  # type: ignore[attr-defined]
        assert ours.shape == reference.shape and np.allclose(ours, reference), name


def test_a_nii_gz_of_several_gzip_members_reads_whole(tmp_path: Path) -> None:
    import gzip

    import nibabel as nib

    from nnunet_doctor.probes.dataset.measure import _read_array

    array = np.arange(7 * 8 * 9, dtype=np.int16).reshape(7, 8, 9)
    nib.save(nib.Nifti1Image(array, np.eye(4)), tmp_path / "plain.nii")
    raw = (tmp_path / "plain.nii").read_bytes()
    (tmp_path / "members.nii.gz").write_bytes(gzip.compress(raw[:500]) + gzip.compress(raw[500:]))  # as bgzip writes
    assert np.array_equal(_read_array(str(tmp_path / "members.nii.gz")), array)
