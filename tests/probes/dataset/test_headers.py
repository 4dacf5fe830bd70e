"""Header geometry: equal to SimpleITK's ReadImageInformation (nnU-Net's reader), broken files as HeaderError."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_doctor.probes.dataset.headers import HeaderError, _simpleitk, close, orientation, read_geometry

ROTATIONS = {
    "identity": (1, 0, 0, 0, 1, 0, 0, 0, 1),
    "flipped": (-1, 0, 0, 0, -1, 0, 0, 0, 1),
    "permuted": (0, 0, 1, 1, 0, 0, 0, 1, 0),
    "mirrored": (1, 0, 0, 0, 1, 0, 0, 0, -1),
    "oblique": tuple(np.array([[0.8660254, -0.5, 0], [0.5, 0.8660254, 0], [0, 0, 1]]).ravel()),
}


def write_sitk(path: Path, direction: tuple[float, ...], dtype=np.int16) -> Path:
    image = sitk.GetImageFromArray(np.zeros((5, 6, 7), dtype))
    image.SetSpacing((0.7, 0.8, 3.0))
    image.SetOrigin((10.0, -20.0, 30.5))
    image.SetDirection(direction)
    sitk.WriteImage(image, str(path))
    return path


def assert_same_geometry(path: Path) -> None:
    ours, reference = read_geometry(str(path)), _simpleitk(str(path))
    assert ours.shape == reference.shape and ours.ndim == reference.ndim
    for field in ("spacing", "origin", "direction"):
        assert close(getattr(ours, field), getattr(reference, field)), (field, ours, reference)
    assert ours.pixel_type == reference.pixel_type


@pytest.mark.parametrize("rotation", ROTATIONS, ids=list(ROTATIONS))
@pytest.mark.parametrize("ending", [".nii.gz", ".nii"])
def test_nifti_written_by_simpleitk_reads_as_simpleitk_reads_it(rotation: str, ending: str, tmp_path: Path) -> None:
    assert_same_geometry(write_sitk(tmp_path / f"x{ending}", ROTATIONS[rotation]))


@pytest.mark.parametrize("xform", ["sform", "qform", "both"])
def test_nifti_written_by_nibabel_reads_as_simpleitk_reads_it(xform: str, tmp_path: Path) -> None:
    affine = np.array([[-0.9, 0, 0, 5], [0, 0.9, 0, -3], [0, 0, -2.5, 7], [0, 0, 0, 1]])  # left-handed: qfac -1
    image = nib.Nifti1Image(np.zeros((5, 6, 7), np.float32), None)
    if xform in ("sform", "both"):
        image.set_sform(affine, code=1)
    if xform in ("qform", "both"):
        image.set_qform(affine, code=1)
    image.header.set_zooms((0.9, 0.9, 2.5))
    nib.save(image, tmp_path / "x.nii.gz")
    assert_same_geometry(tmp_path / "x.nii.gz")
    assert read_geometry(str(tmp_path / "x.nii.gz")).direction[8] == -1.0


def test_sform_and_qform_that_disagree_are_left_to_simpleitk(tmp_path: Path) -> None:
    image = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.diag([2.0, 2.0, 3.0, 1.0]))
    image.set_qform(np.diag([1.0, 1.0, 1.0, 1.0]), code=1)
    nib.save(image, tmp_path / "x.nii.gz")
    assert_same_geometry(tmp_path / "x.nii.gz")


@pytest.mark.parametrize("ending", [".nrrd", ".mha"])
def test_other_formats_go_through_simpleitk(ending: str, tmp_path: Path) -> None:
    geometry = read_geometry(str(write_sitk(tmp_path / f"x{ending}", ROTATIONS["permuted"])))
    assert geometry.shape == (7, 6, 5) and orientation(geometry.direction, 3) == "PSL"


def test_four_d_and_rgb_files_keep_their_dimensions(tmp_path: Path) -> None:
    volumes = [sitk.GetImageFromArray(np.zeros((3, 4, 5), np.float32)) for _ in range(2)]
    sitk.WriteImage(sitk.JoinSeries(volumes), str(tmp_path / "4d.nii.gz"))
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((8, 9, 3), np.uint8), isVector=True), str(tmp_path / "rgb.png"))
    four_d = read_geometry(str(tmp_path / "4d.nii.gz"))
    assert (four_d.ndim, four_d.shape) == (4, (5, 4, 3, 2))
    rgb = read_geometry(str(tmp_path / "rgb.png"))
    assert (rgb.ndim, rgb.components) == (2, 3)


def test_a_truncated_nii_gz_is_recognised_from_its_trailer(tmp_path: Path) -> None:
    path = tmp_path / "x.nii.gz"
    image = sitk.GetImageFromArray(np.random.default_rng(0).random((20, 30, 30)).astype(np.float32))
    sitk.WriteImage(image, str(path))
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(HeaderError, match="truncated"):
        read_geometry(str(path))


@pytest.mark.parametrize("content, message", [(b"", "empty file"), (b"not an image at all" * 30, "not a"),
                                              (b"\x1f\x8b\x08\x00garbage", "not a readable gzip")])
def test_broken_files_raise_header_errors(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "x.nii.gz"
    path.write_bytes(content)
    with pytest.raises(HeaderError, match=message):
        read_geometry(str(path))


def test_orientation_letters_follow_itk() -> None:
    assert [orientation(ROTATIONS[name], 3) for name in ("identity", "flipped", "permuted")] == ["LPS", "RAS", "PSL"]
