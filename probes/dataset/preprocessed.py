"""The preprocessed probe: what planning and preprocessing left in nnUNet_preprocessed/DatasetXXX_Name.

It reads the plans as JSON (no torch), opens every preprocessed file the cheap way nnU-Net opens it (a Blosc2
frame's header and trailer, an npz directory; a pickle's opcodes are walked, never run) to find truncated ones, and
compares the raw data with what was preprocessed from it: raw labels against their copies in ``gt_segmentations``
(byte for byte where the sizes or times say they may differ), raw images against the time their case was
preprocessed, the raw dataset.json against the planner's copy (which is what preprocessing and training read).

Sample input (after ``nnUNetv2_plan_and_preprocess -d 1 -c 3d_fullres``)::

    nnUNet_preprocessed/Dataset001_Synth/
        dataset.json  dataset_fingerprint.json  nnUNetPlans.json  gt_segmentations/case_0000.nii.gz ...
        nnUNetPlans_3d_fullres/case_0000.b2nd  case_0000_seg.b2nd  case_0000.pkl ...
"""
from __future__ import annotations

import datetime
import io
import os
import pickletools
import zipfile
from pathlib import Path
from typing import Any, ClassVar

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.sources import Source

from ..base import FactSink, ProbeContext
from ..files import load_json
from . import RawDataset, located, raw_dataset
from .vram import calibration, required_gb

#: dataset.json keys nnU-Net reads during preprocessing and training
_USED_KEYS = ("labels", "channel_names", "modality", "file_ending", "numTraining", "regions_class_order",
              "overwrite_image_reader_writer", "dataset")
_NOT_PLANS = {"dataset.json", "dataset_fingerprint.json", "splits_final.json"}
_MAX_LISTED = 50
_SLACK_NS = 2_000_000_000  # file systems round times; two seconds of slack


class PreprocessedProbe:
    name: ClassVar[str] = "preprocessed"
    needs: ClassVar[str] = "dataset"
    description: ClassVar[str] = "checks plans, preprocessed data and splits in nnUNet_preprocessed"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        where = located(context)
        folder = where.preprocessed
        if folder is None:
            if where.status == "found" and context.environ.get("nnUNet_preprocessed"):
                sink.add("preprocessed.present", False)
            else:
                sink.unknown("preprocessed.present", "nnUNet_preprocessed is not set" if not context.environ.get(
                    "nnUNet_preprocessed") else "the dataset was not found")
            return
        sink.add("preprocessed.folder", str(folder))
        sink.add("preprocessed.present", True)
        sink.add("preprocessed.fingerprint", (folder / "dataset_fingerprint.json").is_file())
        sink.add("preprocessed.dataset_json", (folder / "dataset.json").is_file())
        raw = raw_dataset(context)
        raw_cases = [case.id for case in raw.layout.cases] if raw else None
        copy = _load_json(folder / "dataset.json")
        if raw is not None and raw.info.content is not None and isinstance(copy, dict):
            changed = [key for key in _USED_KEYS if raw.info.content.get(key) != copy.get(key)]
            sink.add("preprocessed.dataset_json_changes", changed)
        sink.add("preprocessed.splits", _splits(folder / "splits_final.json", raw_cases))
        plans = _plans(folder)
        sink.add("plans.files", [{"identifier": p["identifier"], "planner": p.get("planner"),
                                  "configurations": p.get("configurations", []), "error": p.get("error")}
                                 for p in plans])
        folders, corrupt = _data_folders(folder, raw_cases)
        sink.add("preprocessed.data_folders", [Record(f, Provenance(Source.probe("preprocessed"), f["name"])) for f in folders])
        sink.add("preprocessed.corrupt", [Record(c, Provenance(Source.probe("preprocessed"), f"{c['folder']}/{c['file']}"))
                                          for c in corrupt])
        complete = {f["name"] for f in folders if not f["missing_cases"] and not f["incomplete"] and f["cases"]}
        num_classes = len(copy.get("labels", {})) if isinstance(copy, dict) and isinstance(copy.get("labels"), dict) else (
            len(raw.info.labels) if raw else 3)
        sink.add("plans.configurations", [Record(record, Provenance(Source.probe("preprocessed"), f"{record['plans']}.json"))
                                          for p in plans for record in _configurations(p, complete, num_classes)])
        if raw is not None:
            sink.add("preprocessed.stale", [Record(s, Provenance(Source.probe("preprocessed"), s["file"]))
                                            for s in _stale(folder, raw, copy)][:_MAX_LISTED])


def _load_json(path: Path) -> Any:
    try:
        return load_json(path)
    except (OSError, ValueError):
        return None


def _iso(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9).isoformat(timespec="seconds")


def _splits(path: Path, raw_cases: list[str] | None) -> dict[str, Any]:
    if not path.is_file():
        return {"present": False, "unknown_cases": []}
    try:
        content = load_json(path)
        folds = [fold for fold in content if isinstance(fold, dict) and "train" in fold and "val" in fold]
        if len(folds) != len(content):
            raise ValueError("every fold must be {\"train\": [...], \"val\": [...]}")
    except (OSError, ValueError, TypeError) as exc:
        return {"present": True, "error": str(exc)[:300]}
    named = {case for fold in folds for case in fold["train"] + fold["val"]}
    unknown = sorted(named - set(raw_cases)) if raw_cases is not None else None
    return {"present": True, "folds": len(folds), "unknown_cases": unknown[:_MAX_LISTED] if unknown else unknown}


def _plans(folder: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        if path.name in _NOT_PLANS:
            continue
        try:
            content = load_json(path)
        except (OSError, ValueError) as exc:
            out.append({"identifier": path.stem, "error": f"cannot read {path.name}: {exc}"[:300]})
            continue
        if not isinstance(content, dict) or not isinstance(content.get("configurations"), dict):
            continue
        out.append({"identifier": path.stem, "planner": content.get("experiment_planner_used"),
                    "configurations": list(content["configurations"]), "content": content})
    return out


def _resolved(configurations: dict[str, Any], name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A configuration with what it inherits (plans_handler.py:231-253); a cycle stops the resolution."""
    own = dict(configurations.get(name) or {})
    parent = own.get("inherits_from")
    if parent and parent in configurations and parent not in seen:
        merged = _resolved(configurations, parent, seen + (name,))
        merged.update({k: v for k, v in own.items() if k != "inherits_from"})
        merged["inherits_from"] = parent
        return merged
    return own


def _configurations(plans: dict[str, Any], complete: set[str], num_classes: int) -> list[dict[str, Any]]:
    content = plans.get("content")
    if content is None:
        return []
    out = []
    for name in content["configurations"]:
        config = _resolved(content["configurations"], name)
        architecture = config.get("architecture") or {}
        arch = architecture.get("arch_kwargs") or {}
        network = str(architecture.get("network_class_name", "")).rsplit(".", 1)[-1]
        patch, batch = config.get("patch_size"), config.get("batch_size")
        vram = None
        if isinstance(patch, list) and isinstance(batch, int):
            try:
                vram = required_gb(plans.get("planner"), network, arch, patch, batch, num_classes)
            except (KeyError, ValueError, TypeError, IndexError):
                vram = None
        features = arch.get("features_per_stage")
        out.append({
            "plans": plans["identifier"], "name": name, "data_identifier": config.get("data_identifier"),
            "preprocessed": config.get("data_identifier") in complete, "batch_size": batch,
            "patch_size": patch if isinstance(patch, list) else None,
            "spacing": [float(s) for s in config["spacing"]] if isinstance(config.get("spacing"), list) else None,
            "network": network or None, "stages": arch.get("n_stages"),
            "features": list(features) if isinstance(features, list) else None,
            "normalization": config.get("normalization_schemes"), "previous_stage": config.get("previous_stage"),
            "inherits_from": config.get("inherits_from"), "vram_gb": vram,
            "vram_target_gb": calibration(plans.get("planner"), network).target_gb})
    return out


#: the largest case properties file (.pkl) whose structure is checked; nnU-Net writes a few kilobytes per case
MAX_PICKLE_BYTES = 64 << 20


def _check_pickle(path: Path) -> None:
    """Raise when a case properties file is not a whole pickle. Its opcodes are walked (pickletools), never run:
    unpickling executes whatever the file says, and the folder may be someone else's."""
    size = path.stat().st_size
    if size > MAX_PICKLE_BYTES:
        raise ValueError(f"{size >> 20} MiB, larger than a case properties file ({MAX_PICKLE_BYTES >> 20} MiB)")
    data = path.read_bytes()
    if not data:
        raise EOFError("Ran out of input")
    for _ in pickletools.genops(io.BytesIO(data)):
        pass


def _check_file(path: Path) -> str | None:
    """Why a preprocessed file cannot be opened the way nnU-Net opens it; None when it can."""
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        if path.suffix == ".b2nd":
            import blosc2

            blosc2.open(urlpath=str(path), mode="r")
        elif path.suffix == ".pkl":
            _check_pickle(path)
        elif path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                archive.namelist()
    except Exception as exc:  # each reader raises its own types for a broken file
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _data_folders(folder: Path, raw_cases: list[str] | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    folders, corrupt = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "gt_segmentations"):
        parts: dict[str, set[str]] = {}
        newest = 0
        fmt = None
        for entry in os.scandir(sub):
            if not entry.is_file():
                continue
            name = entry.name
            newest = max(newest, entry.stat().st_mtime_ns)
            for suffix, part in (("_seg.b2nd", "seg"), (".b2nd", "data"), (".npz", "data"), (".pkl", "properties")):
                if name.endswith(suffix):
                    case = name[:-len(suffix)]
                    parts.setdefault(case, set()).add(part)
                    fmt = fmt or ("blosc2" if suffix.endswith("b2nd") else "npz" if suffix == ".npz" else None)
                    problem = _check_file(Path(entry.path))
                    if problem:
                        corrupt.append({"folder": sub.name, "file": name, "problem": problem})
                    break
        if not parts:
            continue
        needed = {"data", "properties"} | ({"seg"} if fmt == "blosc2" else set())
        cases = sorted(case for case, found in parts.items() if found >= needed)
        incomplete = sorted(case for case, found in parts.items() if not found >= needed)
        missing = sorted(set(raw_cases) - set(parts)) if raw_cases is not None else []
        extra = sorted(set(parts) - set(raw_cases)) if raw_cases is not None else []
        folders.append({"name": sub.name, "cases": len(cases), "format": fmt, "written": _iso(newest),
                        "incomplete": incomplete[:_MAX_LISTED], "missing_cases": missing[:_MAX_LISTED],
                        "extra_cases": extra[:_MAX_LISTED]})
    return folders, corrupt


def _same_bytes(a: Path, b: Path) -> bool:
    with open(a, "rb") as first, open(b, "rb") as second:
        while True:
            x, y = first.read(1 << 20), second.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def _stale(folder: Path, raw: RawDataset, copy: Any) -> list[dict[str, Any]]:
    """Raw files changed after the preprocessed data made from them (labels by content, images by time)."""
    out: list[dict[str, Any]] = []
    copy_path = folder / "dataset.json"
    if isinstance(copy, dict) and raw.info.content is not None and any(
            raw.info.content.get(key) != copy.get(key) for key in _USED_KEYS):
        out.append({"file": "dataset.json", "changed": _iso((raw.folder / "dataset.json").stat().st_mtime_ns),
                    "preprocessed": _iso(copy_path.stat().st_mtime_ns), "folder": folder.name})
    data_folders = [p for p in folder.iterdir() if p.is_dir() and p.name != "gt_segmentations"]
    gt = folder / "gt_segmentations"
    for case in raw.layout.cases:
        if case.label is not None:
            name = case.label.split("/", 1)[1]
            copied = gt / name
            if copied.is_file():
                size, mtime = raw.layout.stats[case.label]
                stat = copied.stat()
                if size != stat.st_size or (mtime > stat.st_mtime_ns + _SLACK_NS and not _same_bytes(
                        raw.folder / case.label, copied)):
                    out.append({"file": case.label, "changed": _iso(mtime), "preprocessed": _iso(stat.st_mtime_ns),
                                "folder": "gt_segmentations"})
                    continue
        for data in data_folders:
            written = [p for p in (data / f"{case.id}.b2nd", data / f"{case.id}.npz") if p.is_file()]
            if not written:
                continue
            done = written[0].stat().st_mtime_ns
            for rel in case.images + ([case.label] if case.label and not (gt / case.label.split("/", 1)[1]).is_file()
                                      else []):
                if raw.layout.stats[rel][1] > done + _SLACK_NS:
                    out.append({"file": rel, "changed": _iso(raw.layout.stats[rel][1]), "preprocessed": _iso(done),
                                "folder": data.name})
                    break
    return out
