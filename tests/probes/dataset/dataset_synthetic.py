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


# --- anatomy-like datasets for the content checks (probes/dataset/profiles.py) ------------------------------------

@dataclass
class Anatomy:
    """A dataset of bodies (an ellipsoid in air) holding an organ (label 1, on the body's left) that holds a lesion
    (label 2), each with its own intensity; sizes, positions, fields of view and spacings random per case.

    ``modality`` "CT" writes Hounsfield-like int16 values (one channel, normalization CT); "MR" writes two channels
    (T1, T2: different contrasts) with a random scanner scaling per case. ``anisotropic`` gives 4-6 mm slices against
    0.6-0.9 mm in plane; ``heterogeneous`` varies field of view, body size and spacing widely between cases.
    """

    name: str = "Dataset002_Anatomy"
    cases: int = 10
    test_cases: int = 0
    modality: str = "CT"
    seed: int = 0
    anisotropic: bool = False
    heterogeneous: bool = False
    size: int = 40  # voxels per in-plane axis (about)

    @property
    def channels(self) -> tuple[str, ...]:
        return ("CT",) if self.modality == "CT" else ("T1", "T2")


#: intensities (CT: HU; MR: arbitrary units before scanner scaling) of air, body, organ, lesion, per channel
_TISSUE = {"CT": [(-1000.0, 40.0, 130.0, 10.0)], "MR": [(0.0, 300.0, 520.0, 150.0), (0.0, 350.0, 180.0, 700.0)]}
_NOISE = {"CT": [15.0], "MR": [25.0, 25.0]}


def anatomy_case(spec: Anatomy, index: int) -> tuple[list[np.ndarray], np.ndarray, tuple[float, float, float]]:
    """(channel arrays, label array, spacing) of one case; arrays are z, y, x as SimpleITK writes them."""
    rng = np.random.default_rng([spec.seed, index])
    spread = 0.35 if spec.heterogeneous else 0.12
    n = spec.size
    nx, ny = (int(n * rng.uniform(1 - spread, 1 + spread)) for _ in range(2))
    if spec.anisotropic:
        spacing = (rng.uniform(0.6, 0.9),) * 2 + (rng.uniform(4.0, 6.0),)
        nz = int(rng.uniform(8, 14) * (1.6 if spec.heterogeneous and rng.random() < 0.5 else 1.0))
    else:
        low, high = (0.8, 2.2) if spec.heterogeneous else (1.0, 1.5)
        spacing = (rng.uniform(low, high),) * 2 + (rng.uniform(low, high) * 1.5,)
        nz = int(n * 0.7 * rng.uniform(1 - spread, 1 + spread))
    z, y, x = np.ogrid[:nz, :ny, :nx]
    mm = (z * spacing[2], y * spacing[1], x * spacing[0])
    extent = (nz * spacing[2], ny * spacing[1], nx * spacing[0])
    body_c = [e / 2 * rng.uniform(0.9, 1.1) for e in extent]
    body_r = [extent[0] * rng.uniform(0.6, 0.9), extent[1] * rng.uniform(0.32, 0.45), extent[2] * rng.uniform(0.35, 0.46)]
    body = sum(((m - c) / r) ** 2 for m, c, r in zip(mm, body_c, body_r)) < 1
    organ_r = [body_r[0] * rng.uniform(0.45, 0.65), body_r[1] * rng.uniform(0.4, 0.5), body_r[2] * rng.uniform(0.3, 0.4)]
    organ_c = [body_c[0] + rng.uniform(-0.15, 0.15) * body_r[0], body_c[1] + rng.uniform(-0.2, 0.2) * body_r[1],
               body_c[2] - body_r[2] * rng.uniform(0.4, 0.55)]  # on one side: a mirror moves it
    organ = sum(((m - c) / r) ** 2 for m, c, r in zip(mm, organ_c, organ_r)) < 1
    lesion_r = float(np.prod(organ_r)) ** (1 / 3) * rng.uniform(0.45, 0.6)
    lesion_c = [c + rng.uniform(-0.2, 0.2) * r for c, r in zip(organ_c, organ_r)]
    lesion = sum(((m - c) / lesion_r) ** 2 for m, c in zip(mm, lesion_c)) < 1
    label = np.zeros(body.shape, np.uint8)
    label[organ & body] = 1
    label[lesion & organ & body] = 2
    images = []
    for channel, tissues in enumerate(_TISSUE[spec.modality]):
        values = np.array(tissues)
        tissue = np.where(body, 1, 0) + (label > 0) + (label == 2)
        image = values[tissue] + rng.normal(0.0, _NOISE[spec.modality][channel], tissue.shape)
        if spec.modality == "CT":
            images.append(np.clip(image, -1024, 3071).astype(np.int16))
        else:
            images.append((image * rng.uniform(0.5, 2.5) + rng.uniform(0, 50)).astype(np.float32))
    return images, label, spacing


def write_anatomy(root: Path, spec: Anatomy) -> Path:
    """Write ``root/<spec.name>`` in nnU-Net's layout and return the dataset folder."""
    folder = root / spec.name
    for index in range(spec.cases + spec.test_cases):
        train = index < spec.cases
        images, label, spacing = anatomy_case(spec, index)
        for channel, image in enumerate(images):
            write_image(image, folder / ("imagesTr" if train else "imagesTs") / f"{case_id(index)}_{channel:04d}.nii.gz",
                        spacing)
        if train:
            write_image(label, folder / "labelsTr" / f"{case_id(index)}.nii.gz", spacing)
    write_json(folder / "dataset.json", {
        "channel_names": {str(i): name for i, name in enumerate(spec.channels)}, "labels": dict(LABELS),
        "numTraining": spec.cases, "file_ending": ".nii.gz", "name": spec.name})
    return folder
