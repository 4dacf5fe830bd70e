"""One fault per data cause, injected into a clean synthetic dataset (see dataset_synthetic.py).

Each fault names the cause ``diagnose --dataset`` must rank first and a text its fix must contain (the case,
file or value at fault), and whether nnU-Net's own ``--verify_dataset_integrity`` is run on it too.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import SimpleITK as sitk

from dataset_synthetic import Anatomy, Spec, edit_json, read, rewrite

Inject = Callable[[Path, Path], str | None]  # (raw dataset folder, nnUNet_raw) -> --dataset query or None ("1")


@dataclass(frozen=True)
class Fault:
    name: str
    cause: str
    inject: Inject
    names: str = ""  # must appear in the top cause's fix
    spec: Spec | Anatomy = field(default_factory=Spec)
    verify: bool = False


def _label(folder: Path, case: str) -> Path:
    return folder / "labelsTr" / f"{case}.nii.gz"


def _image(folder: Path, case: str, channel: int = 0) -> Path:
    return folder / "imagesTr" / f"{case}_{channel:04d}.nii.gz"


def _map_label(path: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    rewrite(path, change(sitk.GetArrayFromImage(read(path))))


def _set_geometry(path: Path, spacing: tuple[float, ...] | None = None, direction: tuple[float, ...] | None = None,
                  origin: tuple[float, ...] | None = None) -> None:
    image = read(path)
    if spacing:
        image.SetSpacing(spacing)
    if direction:
        image.SetDirection(direction)
    if origin:
        image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))


def labels_folder_misnamed(folder: Path, raw: Path) -> None:
    (folder / "labelsTr").rename(folder / "labelTr")


def no_channel_suffix(folder: Path, raw: Path) -> None:
    _image(folder, "case_0002").rename(folder / "imagesTr" / "case_0002.nii.gz")


def missing_label(folder: Path, raw: Path) -> None:
    _label(folder, "case_0003").unlink()


def macos_resource_fork(folder: Path, raw: Path) -> None:
    (folder / "imagesTr" / "._case_0001_0000.nii.gz").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (folder / "imagesTr" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


def json_trailing_comma(folder: Path, raw: Path) -> None:
    path = folder / "dataset.json"
    path.write_text(path.read_text().rstrip().rstrip("}").rstrip() + ",\n}\n")


def json_missing_key(folder: Path, raw: Path) -> None:
    edit_json(folder, numTraining=None)


def json_v1_format(folder: Path, raw: Path) -> None:
    edit_json(folder, channel_names=None, modality={"0": "CT"}, labels={"0": "background", "1": "liver", "2": "tumour"},
              training=[{"image": "./imagesTr/case_0000.nii.gz", "label": "./labelsTr/case_0000.nii.gz"}])


def num_training_wrong(folder: Path, raw: Path) -> None:
    edit_json(folder, numTraining=8)


def file_ending_wrong(folder: Path, raw: Path) -> None:
    edit_json(folder, file_ending=".nii")


def channel_names_extra(folder: Path, raw: Path) -> None:
    edit_json(folder, channel_names={"0": "T1", "1": "T2"})


def channels_swapped(folder: Path, raw: Path) -> None:
    first, second = _image(folder, "case_0004", 0), _image(folder, "case_0004", 1)
    first.rename(folder / "imagesTr" / "swap.nii.gz")
    second.rename(first)
    (folder / "imagesTr" / "swap.nii.gz").rename(second)


def label_cropped(folder: Path, raw: Path) -> None:
    path = _label(folder, "case_0004")
    image = read(path)
    cropped = image[:, :, 1:]
    sitk.WriteImage(cropped, str(path))


def channel_spacing(folder: Path, raw: Path) -> None:
    _set_geometry(_image(folder, "case_0002", 1), spacing=(1.0, 1.0, 3.0))


def spacing_in_metres(folder: Path, raw: Path) -> None:
    for path in (_image(folder, "case_0005"), _label(folder, "case_0005")):
        _set_geometry(path, spacing=(0.0008, 0.0008, 0.0025))


def spacing_zero(folder: Path, raw: Path) -> None:
    for path in (folder / "imagesTr" / "case_0003_0000.mha", folder / "labelsTr" / "case_0003.mha"):
        header, _, data = path.read_bytes().partition(b"ElementDataFile = LOCAL\n")
        lines = [b"ElementSpacing = 0.8 0.8 0" if line.startswith(b"ElementSpacing") else line
                 for line in header.split(b"\n")]
        path.write_bytes(b"\n".join(lines) + b"ElementDataFile = LOCAL\n" + data)


def orientation_flipped(folder: Path, raw: Path) -> None:
    for path in (_image(folder, "case_0001"), _label(folder, "case_0001")):
        _set_geometry(path, direction=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))


def labels_gap(folder: Path, raw: Path) -> None:
    edit_json(folder, labels={"background": 0, "liver": 1, "tumour": 3})
    for path in (folder / "labelsTr").iterdir():
        _map_label(path, lambda a: np.where(a == 2, 3, a).astype(np.uint8))


def label_255(folder: Path, raw: Path) -> None:
    _map_label(_label(folder, "case_0003"), lambda a: np.where(a == 2, 255, a).astype(np.uint8))


def labels_exchanged(folder: Path, raw: Path) -> None:
    _map_label(_label(folder, "case_0004"), lambda a: np.choose(a, [0, 2, 1]).astype(np.uint8))


def label_interpolated(folder: Path, raw: Path) -> None:
    path = _label(folder, "case_0002")
    array = sitk.GetArrayFromImage(read(path)).astype(np.float32)
    array[array == 2] = 1.5
    rewrite(path, array)


def labels_all_empty(folder: Path, raw: Path) -> None:
    for path in (folder / "labelsTr").iterdir():
        _map_label(path, lambda a: np.zeros_like(a))


def tiny_class(folder: Path, raw: Path) -> None:
    def keep_one(a: np.ndarray) -> np.ndarray:
        out = np.where(a == 2, 1, a).astype(np.uint8)
        out[tuple(s // 2 for s in a.shape)] = 2
        return out

    for path in (folder / "labelsTr").iterdir():
        _map_label(path, keep_one)


def nan_voxels(folder: Path, raw: Path) -> None:
    path = _image(folder, "case_0002")
    array = sitk.GetArrayFromImage(read(path))
    array[5:7, 10:12, 10:12] = np.nan
    rewrite(path, array)


def ignore_not_highest(folder: Path, raw: Path) -> None:
    edit_json(folder, labels={"background": 0, "liver": 1, "tumour": 2, "ignore": 5})


def corrupt_files(folder: Path, raw: Path) -> None:
    label = _label(folder, "case_0001")
    label.write_bytes(label.read_bytes()[: label.stat().st_size // 2])
    _image(folder, "case_0003").write_bytes(b"")
    _image(folder, "case_0004").unlink()
    _image(folder, "case_0004").mkdir()


def nested_images(folder: Path, raw: Path) -> None:
    inner = folder / "imagesTr" / "imagesTr"
    inner.mkdir()
    for path in list((folder / "imagesTr").glob("*.nii.gz")):
        path.rename(inner / path.name)


def v1_task_folder(folder: Path, raw: Path) -> str:
    folder.rename(raw / "Task004_Synth")
    return "4"


def duplicate_id(folder: Path, raw: Path) -> str:
    shutil.copytree(folder, raw / "Dataset001_SynthCopy")
    return "1"


def imagests_one_channel(folder: Path, raw: Path) -> None:
    for path in (folder / "imagesTs").glob("*_0001.nii.gz"):
        path.unlink()


def imagests_rotated(folder: Path, raw: Path) -> None:
    for path in (folder / "imagesTs").glob("*.nii.gz"):
        _set_geometry(path, direction=(0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0))


TWO_CHANNELS = Spec(channels=("T1", "T2"))

FAULTS: tuple[Fault, ...] = (
    Fault("labels folder misnamed", "data.folder_structure", labels_folder_misnamed, "labelTr", verify=True),
    Fault("images in a sub-folder", "data.folder_structure", nested_images, "imagesTr/imagesTr"),
    Fault("image without _0000", "data.file_naming", no_channel_suffix, "case_0002.nii.gz", verify=True),
    Fault("label file missing", "data.missing_file", missing_label, "case_0003", verify=True),
    Fault("corrupt files", "data.missing_file", corrupt_files, "case_0001.nii.gz"),
    Fault("macOS ._ files", "data.stray_files", macos_resource_fork, "._case_0001_0000.nii.gz", verify=True),
    Fault("dataset.json trailing comma", "data.dataset_json_invalid", json_trailing_comma, "line"),
    Fault("dataset.json without numTraining", "data.dataset_json_invalid", json_missing_key, "numTraining",
          verify=True),
    Fault("dataset.json in v1 format", "data.dataset_json_v1_format", json_v1_format, "modality", verify=True),
    Fault("numTraining wrong", "data.numtraining_mismatch", num_training_wrong, "8", verify=True),
    Fault("file_ending .nii for .nii.gz files", "data.file_ending_mismatch", file_ending_wrong, ".nii.gz",
          verify=True),
    Fault("two channel names, one file", "data.channel_count_mismatch", channel_names_extra, "case_0000_0001",
          verify=True),
    Fault("channels swapped in one case", "data.channel_order", channels_swapped, "case_0004", spec=TWO_CHANNELS),
    Fault("label cropped", "data.geometry_image_label", label_cropped, "case_0004", verify=True),
    Fault("channel spacing differs", "data.geometry_channels", channel_spacing, "case_0002", spec=TWO_CHANNELS),
    Fault("spacing in metres", "data.spacing_anomalous", spacing_in_metres, "case_0005"),
    Fault("zero spacing in an .mha header", "data.spacing_anomalous", spacing_zero, "case_0003",
          spec=Spec(file_ending=".mha")),
    Fault("orientation flipped", "data.orientation_inconsistent", orientation_flipped, "case_0001"),
    Fault("label values with a gap", "data.labels_noncontiguous", labels_gap, "[0, 1, 3]", verify=True),
    Fault("label value 255", "data.labels_unexpected", label_255, "case_0003", verify=True),
    Fault("labels exchanged in one case", "data.labels_inconsistent", labels_exchanged, "case_0004"),
    Fault("interpolated label", "data.labels_float", label_interpolated, "case_0002"),
    Fault("all labels empty", "data.labels_empty", labels_all_empty, "6 label files"),
    Fault("three cases", "data.too_few_cases", lambda folder, raw: None, "3 training cases", spec=Spec(cases=3)),
    Fault("one-voxel class", "data.class_imbalance", tiny_class, "tumour"),
    Fault("NaN voxels in .nii.gz", "data.nan_in_image", nan_voxels, "case_0002", verify=True),
    Fault("ignore label not highest", "data.ignore_label_invalid", ignore_not_highest, "5"),
    Fault("Task004 folder", "env.dataset_not_found", v1_task_folder, "nnUNetv2_convert_old_nnUNet_dataset"),
    Fault("duplicate dataset id", "env.dataset_not_found", duplicate_id, "Dataset001_SynthCopy"),
    Fault("imagesTs with one channel of two", "infer.input_mismatch", imagests_one_channel, "case_0006",
          spec=Spec(channels=("T1", "T2"), test_cases=2)),
    Fault("imagesTs oriented otherwise", "data.orientation_inconsistent", imagests_rotated, "case_0006",
          spec=Spec(test_cases=2)),
)


def dataset_json(folder: Path) -> dict:
    return json.loads((folder / "dataset.json").read_text())


# --- silent faults: nnU-Net trains through them without a word (tests/probes/dataset/test_content.py) ------------

ODD_CASES = ("case_0002", "case_0005", "case_0008")  # the minority (3 of 10) a silent fault is put into


def _each_odd_label(folder: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    for case in ODD_CASES:
        _map_label(_label(folder, case), change)


def label_shifted(folder: Path, raw: Path) -> None:
    def shift(a: np.ndarray) -> np.ndarray:  # z, y, x: along x by a fifth of the field of view, zeros coming in
        out = np.zeros_like(a)
        by = a.shape[2] // 5
        out[:, :, by:] = a[:, :, :-by]
        return out

    _each_odd_label(folder, shift)


def label_mirrored(folder: Path, raw: Path) -> None:
    _each_odd_label(folder, lambda a: np.ascontiguousarray(a[:, :, ::-1]))


def label_convention(folder: Path, raw: Path) -> None:
    _each_odd_label(folder, lambda a: np.choose(a, [0, 2, 1]).astype(np.uint8))


def channels_swapped_minority(folder: Path, raw: Path) -> None:
    for case in ODD_CASES:
        first, second = _image(folder, case, 0), _image(folder, case, 1)
        first.rename(folder / "imagesTr" / "swap.nii.gz")
        second.rename(first)
        (folder / "imagesTr" / "swap.nii.gz").rename(second)


def ct_rescaled(folder: Path, raw: Path) -> None:
    for case in ODD_CASES:
        path = _image(folder, case)
        array = sitk.GetArrayFromImage(read(path)).astype(np.float32)
        rewrite(path, (array + 1024.0) / 4095.0)


def duplicate_cases(folder: Path, raw: Path) -> None:
    """case_0008 is a copy of case_0002 (image and label), imagesTs/case_0010 a re-saved copy of case_0005."""
    for source, target in ((_image(folder, "case_0002"), _image(folder, "case_0008")),
                           (_label(folder, "case_0002"), _label(folder, "case_0008"))):
        shutil.copyfile(source, target)
    image = read(_image(folder, "case_0005"))
    sitk.WriteImage(sitk.Cast(image, sitk.sitkFloat32), str(folder / "imagesTs" / "case_0010_0000.nii.gz"))


def test_set_drift(folder: Path, raw: Path) -> None:
    """imagesTs in another resolution: 3x the slice thickness of the training cases (a thick-slice protocol)."""
    for path in (folder / "imagesTs").glob("*.nii.gz"):
        image = read(path)
        spacing = image.GetSpacing()
        _set_geometry(path, spacing=(spacing[0], spacing[1], spacing[2] * 3))


SILENT_FAULTS: tuple[Fault, ...] = (
    Fault("labels shifted", "data.geometry_image_label", label_shifted, "labelsTr/case_0005.nii.gz", spec=Anatomy()),
    Fault("labels mirrored left-right", "data.geometry_image_label", label_mirrored, "labelsTr/case_0008.nii.gz", spec=Anatomy()),
    Fault("label 1 and 2 mean the other structure", "data.labels_inconsistent", label_convention,
          "labelsTr/case_0002.nii.gz", spec=Anatomy()),
    Fault("T1 and T2 files swapped", "data.channel_order", channels_swapped_minority, "case_0005",
          spec=Anatomy(modality="MR")),
    Fault("CT rescaled to [0, 1]", "data.intensity_inconsistent", ct_rescaled, "imagesTr/case_0008_0000.nii.gz", spec=Anatomy()),
    Fault("a case twice, a training case in imagesTs", "data.duplicate_cases", duplicate_cases, "case_0010",
          spec=Anatomy(test_cases=3)),
    Fault("imagesTs with thicker slices", "infer.domain_shift", test_set_drift, "imagesTs/case_0011_0000.nii.gz",
          spec=Anatomy(test_cases=3)),
)
