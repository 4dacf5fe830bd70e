"""Tiny but real nnU-Net datasets written with SimpleITK, for the dataset tests and the dataset benchmark.

Each case is a volume of a few dozen voxels per side with a sphere of label 1 ("liver") holding a smaller
sphere of label 2 ("tumour"); channel k has its own intensity level and contrast sign (like T1 and T2), plus
noise, so intensity statistics behave like real images. ``write_dataset`` writes a clean dataset in nnU-Net's
layout; the fault injectors below change one thing in it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

LABELS = {"background": 0, "liver": 1, "tumour": 2}


@dataclass
class Spec:
    name: str = "Dataset001_Synth"
    cases: int = 6
    shape: tuple[int, int, int] = (24, 28, 20)  # x, y, z as SimpleITK sizes
    spacing: tuple[float, float, float] = (0.8, 0.8, 2.5)
    channels: tuple[str, ...] = ("CT",)
    labels: dict[str, Any] = field(default_factory=lambda: dict(LABELS))
    file_ending: str = ".nii.gz"
    test_cases: int = 0
    seed: int = 0
    image_dtype: str = "float32"  # "int16" writes CT-like integer images (smaller files)


def case_id(index: int) -> str:
    return f"case_{index:04d}"


def label_array(spec: Spec, index: int) -> np.ndarray:
    """z, y, x array with a sphere of 1 holding a sphere of 2, their position varying a little per case."""
    z, y, x = np.ogrid[:spec.shape[2], :spec.shape[1], :spec.shape[0]]
    shift = (index % 3) - 1
    centre = (spec.shape[2] / 2 + shift, spec.shape[1] / 2 - shift, spec.shape[0] / 2 + shift)
    distance = ((z - centre[0]) * spec.spacing[2]) ** 2 + ((y - centre[1]) * spec.spacing[1]) ** 2 + (
        (x - centre[2]) * spec.spacing[0]) ** 2
    radius = min(s * p for s, p in zip(spec.shape, spec.spacing)) / 2.5
    label = np.zeros((spec.shape[2], spec.shape[1], spec.shape[0]), np.uint8)
    label[distance < radius ** 2] = 1
    label[distance < (radius / 2.2) ** 2] = 2
    return label


def image_array(spec: Spec, index: int, channel: int, label: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(spec.seed * 1000 + index * 10 + channel)
    level = 100.0 * (channel + 1) ** 2 + 20.0 * index
    sign = 1.0 if channel % 2 == 0 else -1.0
    contrast = np.array([0.0, 0.6, 1.0])[label] * sign * level
    return (level + contrast + rng.normal(0.0, 0.05 * level, label.shape)).astype(spec.image_dtype)


def write_image(array: np.ndarray, path: Path, spacing: tuple[float, ...] = (0.8, 0.8, 2.5),
                origin: tuple[float, ...] | None = None, direction: tuple[float, ...] | None = None) -> None:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    if origin is not None:
        image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))


def write_dataset(root: Path, spec: Spec | None = None) -> Path:
    """Write ``root/<spec.name>`` (images, labels, dataset.json) and return the dataset folder."""
    spec = spec or Spec()
    folder = root / spec.name
    for index in range(spec.cases + spec.test_cases):
        train = index < spec.cases
        label = label_array(spec, index)
        images = "imagesTr" if train else "imagesTs"
        for channel in range(len(spec.channels)):
            write_image(image_array(spec, index, channel, label),
                        folder / images / f"{case_id(index)}_{channel:04d}{spec.file_ending}", spec.spacing)
        if train:
            write_image(label, folder / "labelsTr" / f"{case_id(index)}{spec.file_ending}", spec.spacing)
    write_json(folder / "dataset.json", {
        "channel_names": {str(i): name for i, name in enumerate(spec.channels)}, "labels": spec.labels,
        "numTraining": spec.cases, "file_ending": spec.file_ending, "name": spec.name})
    return folder


def write_json(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=4), encoding="utf-8")


def read(path: Path) -> sitk.Image:
    return sitk.ReadImage(str(path))


def rewrite(path: Path, array: np.ndarray, like: sitk.Image | None = None) -> None:
    """Replace the voxels of ``path`` keeping its geometry (or ``like``'s)."""
    reference = like if like is not None else read(path)
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    sitk.WriteImage(image, str(path))


def edit_json(folder: Path, **changes: Any) -> None:
    path = folder / "dataset.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value
    write_json(path, content)
