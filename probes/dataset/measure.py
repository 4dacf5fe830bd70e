"""Measuring one case: the header of each of its files and, when asked, what its voxels hold.

This is the expensive part of a dataset check, so it runs case by case in worker processes and its results
are cached (:mod:`.cache`). It measures and never judges: which label values are unexpected or which
geometry differs is decided later against dataset.json (:mod:`.cases`), so a cached measurement stays valid
when only dataset.json changes.

Voxels are read so that NaNs are seen: NIfTI through nibabel (SimpleITK 2.5 reads NIfTI NaNs as 0, which is
why nnU-Net's own NaN check never fires on ``.nii.gz``), other formats through SimpleITK.

>>> import numpy as np, SimpleITK as sitk, tempfile, os
>>> folder = tempfile.mkdtemp(); os.makedirs(f"{folder}/imagesTr"); os.makedirs(f"{folder}/labelsTr")
>>> image = np.full((4, 4, 4), 100.0, np.float32); image[0, 0, 0] = np.nan
>>> sitk.WriteImage(sitk.GetImageFromArray(image), f"{folder}/imagesTr/a_0000.nii.gz")
>>> label = np.zeros((4, 4, 4), np.uint8); label[1:3, 1:3, 1:3] = 255
>>> sitk.WriteImage(sitk.GetImageFromArray(label), f"{folder}/labelsTr/a.nii.gz")
>>> result = measure_case(CaseTask(folder, ("imagesTr/a_0000.nii.gz",), "labelsTr/a.nii.gz", True))
>>> result["voxels"]["label"]["counts"], result["voxels"]["channels"][0]["nonfinite"]
({'0': 56, '255': 8}, 1)
"""
from __future__ import annotations

import gzip
import math
import os
from typing import Any, cast

from msgspec import Struct

from .content import case_content
from .headers import NIFTI_DATATYPES, HeaderError, itk_message, parse_nifti_header, read_geometry

_SAMPLE = 100_000  # voxels per channel sampled (evenly) for the mean intensity per label
_PERCENTILE_SAMPLE = 20_000  # of which this many for the percentiles
_MAX_VALUES = 64  # distinct label values kept (a float "label" can have millions)
#: the voxels one file may declare for them to be read (a 1 MB .nii.gz of zeros can declare 8 GiB, consistently with
#: its gzip trailer); a larger file keeps its header checks, and its voxel checks are skipped with a note
MAX_VOXEL_BYTES = 2 << 30
_ITEM_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "float32": 4}


def declared_voxel_bytes(header: dict[str, Any]) -> int:
    """The bytes of voxels a header declares (8 per component where its pixel type is not a common one).

    >>> declared_voxel_bytes({"shape": [2048, 2048, 512], "components": 1, "pixel_type": "float32"}) / 2**30
    8.0
    """
    return math.prod(header.get("shape") or [0]) * int(header.get("components") or 1) * _ITEM_BYTES.get(
        str(header.get("pixel_type")), 8)


class CaseTask(Struct, frozen=True):
    folder: str
    images: tuple[str, ...]  # channel files, relative to folder
    label: str | None
    voxels: bool


def measure_case(task: CaseTask) -> dict[str, Any]:
    """{"headers": {file: geometry | {"error": ...}}, "voxels": {...} | None}; never raises for a bad file."""
    headers: dict[str, Any] = {}
    for rel in task.images + ((task.label,) if task.label else ()):
        try:
            headers[rel] = read_geometry(os.path.join(task.folder, rel)).to_json()
        except HeaderError as exc:
            headers[rel] = {"error": str(exc)}
    voxels = _voxels(task, headers) if task.voxels else None
    return {"headers": headers, "voxels": voxels}


def _read_array(path: str) -> Any:
    import numpy as np

    if path.lower().endswith((".nii", ".nii.gz")):
        array = _read_nifti(path)
        if array is not None:
            return array
        import nibabel as nib

        return np.asanyarray(cast(Any, nib.load(path)).dataobj)
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(sitk.ReadImage(path)).T  # header axis order (x, y, z), as NIfTI reads give it


def _gunzip(data: bytes) -> bytes | bytearray:
    """libdeflate (the 'fast' extra) decompresses a whole .nii.gz three times faster than zlib; gzip handles what it
    does not (damaged streams, with gzip's own error)."""
    try:
        import deflate
    except ImportError:
        return gzip.decompress(data)
    try:
        return deflate.gzip_decompress(data)
    except deflate.DeflateError:
        return gzip.decompress(data)


def _read_nifti(path: str) -> Any:
    """A plain NIfTI-1 volume in one read and one decompression (faster than nibabel's streamed gzip), with
    nibabel's scaling; None for what only nibabel should read (NIfTI-2, RGB and other rare data types)."""
    import numpy as np

    with open(path, "rb") as stream:
        raw = stream.read()
    gzipped = raw[:2] == b"\x1f\x8b"  # by content: SimpleITK reads a plain NIfTI named .nii.gz as well
    data = _gunzip(raw) if gzipped else raw
    header = parse_nifti_header(data[:348])
    if header is None or header.datatype not in NIFTI_DATATYPES:
        return None
    if gzipped and len(data) < header.data_bytes:
        data = gzip.decompress(raw)  # libdeflate stops after the first of several gzip members (bgzip)
    dtype = np.dtype(NIFTI_DATATYPES[header.datatype]).newbyteorder(header.endian)
    array = np.frombuffer(data, dtype, math.prod(header.shape), header.vox_offset).reshape(header.shape, order="F")
    slope, inter = header.scale
    if slope == slope and slope != 0 and (slope, inter) != (1.0, 0.0):  # nibabel ignores NaN and 0 slopes
        return array * np.float32(slope) + np.float32(inter)
    return array


def _voxels(task: CaseTask, headers: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    skipped: dict[str, str] = {}
    arrays: dict[str, Any] = {}
    for rel in task.images + ((task.label,) if task.label else ()):
        if "error" in headers[rel]:
            continue
        declared = declared_voxel_bytes(headers[rel])
        if declared > MAX_VOXEL_BYTES:
            skipped[rel] = (f"its header declares {declared / 2**30:.1f} GiB of voxels, above the "
                            f"{MAX_VOXEL_BYTES / 2**30:.0f} GiB the voxel checks read")
            continue
        try:
            arrays[rel] = _read_array(os.path.join(task.folder, rel))
        except Exception as exc:  # any reader failure is a finding about that file
            errors[rel] = f"{type(exc).__name__}: {itk_message(str(exc))}"
    label = arrays.get(task.label) if task.label else None
    label_stats, label_int = _label_stats(label) if label is not None else (None, None)
    channels = []
    for rel in task.images:
        image = arrays.get(rel)
        channels.append(None if image is None else _channel_stats(image, label_int))
    return {"errors": errors, "skipped": skipped, "label": label_stats, "channels": channels,
            "content": _content(task, headers, arrays, label)}


def _content(task: CaseTask, headers: dict[str, Any], arrays: dict[str, Any], label: Any | None) -> dict[str, Any] | None:
    """The case's content profile (:mod:`.content`), when every channel was read and they share one shape."""
    images = [arrays[rel] for rel in task.images if rel in arrays]
    if not images or len(images) != len(task.images) or any(
            image.ndim != 3 or image.shape != images[0].shape for image in images):
        return None
    try:
        lr_axis = _left_right_axis(headers[task.images[0]])
        return case_content(images, label if label is not None and label.ndim == 3 else None, lr_axis)
    except (ValueError, MemoryError) as exc:  # an odd file must not cost the other checks
        return {"error": f"{type(exc).__name__}: {exc}"}


def _left_right_axis(header: dict[str, Any]) -> int | None:
    """The array axis whose direction points mostly left-right (x of ITK's LPS), from the header's direction."""
    direction, ndim = header.get("direction"), header.get("ndim")
    if ndim != 3 or not direction or len(direction) != 9:
        return None
    return max(range(3), key=lambda axis: abs(direction[axis]))  # row 0 (x) of each column


def _flat_pair(a: Any, b: Any | None) -> tuple[Any, Any | None]:
    """Both arrays flattened in the same element order, without copying where their layouts agree."""
    if b is None:
        return a.ravel(order="K"), None
    same = a.flags.f_contiguous == b.flags.f_contiguous and a.flags.c_contiguous == b.flags.c_contiguous
    order = "K" if same else "C"
    return a.ravel(order=order), b.ravel(order=order)


def _label_stats(label: Any) -> tuple[dict[str, Any], Any | None]:
    """Distinct values with their voxel counts; the label as non-negative ints when it is one (else None)."""
    import numpy as np

    flat = label.ravel(order="K")
    nonfinite = 0
    is_float = False
    if flat.dtype.kind == "f":
        finite = np.isfinite(flat)
        nonfinite = int(flat.size - np.count_nonzero(finite))
        values = flat[finite] if nonfinite else flat
        is_float = bool(np.any(values != np.rint(values)))
    if flat.dtype.kind in "iub" or (flat.dtype.kind == "f" and not is_float and not nonfinite):
        ints = flat if flat.dtype.kind in "iub" else flat.astype(np.int64)
        small_unsigned = ints.dtype.kind in "ub" and ints.dtype.itemsize <= 2  # bincount needs no range check
        low, high = (0, 0) if small_unsigned or not ints.size else (int(ints.min()), int(ints.max()))
        if low >= 0 and high <= 65535:
            counts = np.bincount(ints.astype(np.intp, copy=False) if ints.dtype.kind == "b" else ints)
            present = np.flatnonzero(counts)
            stats = {"counts": {str(int(v)): int(counts[v]) for v in present[:_MAX_VALUES]},
                     "distinct": int(present.size), "total": int(flat.size), "float": False, "nonfinite": 0}
            as_int = label if label.dtype.kind in "iu" else label.astype(np.int64)
            return stats, as_int
        uniques, counts = np.unique(ints, return_counts=True)
    else:
        uniques, counts = np.unique(flat[np.isfinite(flat)] if nonfinite else flat, return_counts=True)
    keys = [repr(float(v)) if is_float else str(int(v)) for v in uniques[:_MAX_VALUES]]
    return {"counts": dict(zip(keys, (int(c) for c in counts[:_MAX_VALUES]))), "distinct": int(uniques.size),
            "total": int(flat.size), "float": is_float, "nonfinite": nonfinite}, None


def _channel_stats(image: Any, label: Any | None) -> dict[str, Any]:
    """Non-finite voxels (all of them), intensity percentiles and mean intensity per label value (on a sample)."""
    import numpy as np

    if label is not None and label.shape != image.shape:
        label = None
    flat, flat_label = _flat_pair(image, label)
    nonfinite = 0
    if flat.dtype.kind == "f":
        nonfinite = int(flat.size - np.count_nonzero(np.isfinite(flat)))
    step = max(1, flat.size // _SAMPLE)
    sample = flat[::step].astype(np.float64)
    finite = np.isfinite(sample) if nonfinite else None
    stats: dict[str, Any] = {"nonfinite": nonfinite, "dtype": str(image.dtype)}
    values = sample if finite is None else sample[finite]
    if values.size:
        p01, p50, p99 = (float(v) for v in np.percentile(values[::max(1, values.size // _PERCENTILE_SAMPLE)], [1, 50, 99]))
        stats.update(mean=float(values.mean()), std=float(values.std()), p01=p01, p50=p50, p99=p99)
    if flat_label is not None and flat_label.size:
        labels = flat_label[::step] if finite is None else flat_label[::step][finite]
        sums = np.bincount(labels, weights=values)
        counts = np.bincount(labels)
        stats["label_means"] = {str(v): float(sums[v] / counts[v]) for v in np.flatnonzero(counts)[:_MAX_VALUES]}
    return stats
