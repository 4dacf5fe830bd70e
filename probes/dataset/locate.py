"""Resolving ``--dataset`` (an id such as ``3`` or ``003``, a name such as ``Dataset003_Liver``, or a path) to the
dataset's folders in nnUNet_raw, nnUNet_preprocessed and nnUNet_results, the way nnU-Net resolves it.

Ids are matched as nnU-Net's ``find_candidate_datasets`` matches them (utilities/dataset_name_id_conversion.py:21),
with the path variables of the shell being diagnosed, so duplicates are what nnU-Net calls duplicates (it matches
the prefix ``Dataset003``, so ``Dataset0031_X`` counts too). When nothing is found, the folders that explain why are
listed: nnU-Net v1 ``Task003_`` folders, ``Dataset3_`` folders whose id lacks three digits, names that are close.

>>> import tempfile, pathlib
>>> raw = pathlib.Path(tempfile.mkdtemp()); (raw / "Task003_Liver").mkdir()
>>> where = locate("3", {"nnUNet_raw": str(raw)})
>>> where.status, where.v1_folders
('not_found', ['Task003_Liver'])
>>> (raw / "Dataset003_Liver").mkdir(); locate("Dataset003_Liver", {"nnUNet_raw": str(raw)}).raw == raw / "Dataset003_Liver"
True
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from msgspec import Struct, field
from rapidfuzz import fuzz, process

ROOTS = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")
_DATASET = re.compile(r"^Dataset(?P<id>\d+)_")
_TASK = re.compile(r"^Task0*(?P<id>\d+)_")


class DatasetLocation(Struct):
    query: str
    status: str = "not_found"  # found | not_found | duplicate_id | bad_name
    name: str | None = None
    dataset_id: int | None = None
    raw: Path | None = None
    preprocessed: Path | None = None
    results: Path | None = None
    message: str = ""
    looked_in: list[str] = field(default_factory=list)
    same_id: list[str] = field(default_factory=list)
    v1_folders: list[str] = field(default_factory=list)
    unpadded_folders: list[str] = field(default_factory=list)
    similar: list[str] = field(default_factory=list)

    def as_fields(self) -> dict[str, Any]:
        return {"query": self.query, "status": self.status, "id": self.dataset_id, "message": self.message,
                "looked_in": self.looked_in, "same_id": self.same_id, "v1_folders": self.v1_folders,
                "unpadded_folders": self.unpadded_folders, "similar": self.similar}


def _roots(environ: Mapping[str, str]) -> dict[str, Path | None]:
    return {name: Path(environ[name]) if environ.get(name) else None for name in ROOTS}


def _subfolders(root: Path | None) -> list[str]:
    if root is None:
        return []
    try:
        return sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    except OSError:
        return []


def locate(query: str, environ: Mapping[str, str]) -> DatasetLocation:
    roots = _roots(environ)
    where = DatasetLocation(query.strip())
    where.looked_in = [f"{name}={root}" + ("" if root.is_dir() else " (no such folder)") if root else f"{name} (not set)"
                       for name, root in roots.items()]
    path = Path(os.path.expanduser(where.query))
    if os.sep in where.query or "/" in where.query or (path.is_dir() and not where.query.isdigit()):
        return _from_path(where, path, roots)
    if where.query.startswith("Dataset"):
        where.name = where.query
        match = _DATASET.match(where.query)
        where.dataset_id = int(match["id"]) if match else None
    else:
        try:
            where.dataset_id = int(where.query)
        except ValueError:
            where.status = "bad_name"
            task = _TASK.match(where.query)
            where.dataset_id = int(task["id"]) if task else None
            where.message = ("dataset_name_or_id was a string and did not start with 'Dataset' so we tried to convert "
                             "it to a dataset ID (int). That failed, however. Please give an integer number ('1', '2', "
                             f"etc) or a correct dataset name. Your input: {where.query}")
            _explain_absence(where, roots)
            return where
        where.name = _resolve_id(where, environ)
        if where.name is None:
            _explain_absence(where, roots)
            return where
    _attach(where, roots)
    if not (where.raw or where.preprocessed or where.results):
        where.status = "not_found"
        where.message = f"no folder named {where.name} in nnUNet_raw, nnUNet_preprocessed or nnUNet_results"
        _explain_absence(where, roots)
    return where


def candidates(dataset_id: int, environ: Mapping[str, str]) -> list[str]:
    """Dataset folders nnU-Net takes for ``dataset_id``: ``find_candidate_datasets`` of
    utilities/dataset_name_id_conversion.py:21-39 (folders starting with ``Dataset%03.0d`` in the three roots,
    unique, sorted). The same listing is done here because importing nnU-Net's module (numpy, batchgenerators)
    costs a third of a headers-only dataset check; the tests hold it against nnU-Net's function."""
    prefix = "Dataset%03.0d" % dataset_id
    return sorted({name for root in _roots(environ).values() if root is not None and root.is_dir()
                   for name in _subfolders(root) if name.startswith(prefix)})


def _resolve_id(where: DatasetLocation, environ: Mapping[str, str]) -> str | None:
    assert where.dataset_id is not None
    found = candidates(where.dataset_id, environ)
    if len(found) > 1:
        where.status = "duplicate_id"
        where.same_id = found
        where.message = f"More than one dataset name found for dataset id {where.dataset_id}: {', '.join(found)}"
        return None
    if not found:
        where.status = "not_found"
        where.message = f"Could not find a dataset with the ID {where.dataset_id}"
        return None
    return found[0]


def _attach(where: DatasetLocation, roots: Mapping[str, Path | None]) -> None:
    assert where.name is not None
    found = {name: root / where.name for name, root in roots.items() if root and (root / where.name).is_dir()}
    where.raw, where.preprocessed, where.results = (found.get(name) for name in ROOTS)
    if found:
        where.status = "found"
        match = _DATASET.match(where.name)
        if match and where.dataset_id is None:
            where.dataset_id = int(match["id"])


def _from_path(where: DatasetLocation, path: Path, roots: Mapping[str, Path | None]) -> DatasetLocation:
    if not path.is_dir():
        where.message = f"{path}: no such folder"
        return where
    where.name = path.resolve().name
    match = _DATASET.match(where.name)
    where.dataset_id = int(match["id"]) if match else None
    _attach(where, roots)
    where.status = "found"
    is_preprocessed = any((path / name).exists() for name in ("dataset_fingerprint.json", "nnUNetPlans.json"))
    is_results = any("__" in child for child in _subfolders(path))
    if is_preprocessed and not (path / "imagesTr").is_dir():
        where.preprocessed = path
    elif is_results and not (path / "imagesTr").is_dir():
        where.results = path
    else:
        where.raw = path
    return where


def _explain_absence(where: DatasetLocation, roots: Mapping[str, Path | None]) -> None:
    """Folders that explain why nothing was found: v1 names, ids without three digits, near-miss names."""
    names: list[str] = []
    for root in roots.values():
        names += _subfolders(root)
        names += _subfolders(root / "nnUNet_raw_data" if root else None)  # v1 layout
    names = sorted(set(names))
    if where.dataset_id is not None:
        where.v1_folders = [n for n in names if (m := _TASK.match(n)) and int(m["id"]) == where.dataset_id]
        where.unpadded_folders = [n for n in names if (m := _DATASET.match(n)) and int(m["id"]) == where.dataset_id
                                  and len(m["id"]) != 3]
    if where.name:
        where.similar = [match[0] for match in process.extract(where.name, [n for n in names if n != where.name],
                                                                scorer=fuzz.ratio, score_cutoff=80, limit=3)]
    elif where.status == "bad_name":
        where.similar = [match[0] for match in process.extract(where.query, names, scorer=fuzz.partial_ratio,
                                                                score_cutoff=80, limit=3)]
