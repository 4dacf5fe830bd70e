"""The results probe: trained models in nnUNet_results/DatasetXXX_Name (or the folder given with ``--results``).

A model folder is ``<Trainer>__<Plans>__<Configuration>`` with ``plans.json`` and ``dataset.json`` (what inference
reads) and one ``fold_X`` per trained fold. In a fold, ``checkpoint_final.pth`` means the training finished,
``checkpoint_latest.pth`` is deleted at the end of a training so a leftover one means the run was interrupted,
``validation/summary.json`` holds the validation Dice and ``validation/*.npz`` exist only with ``--npz`` (needed
to ensemble and by nnUNetv2_find_best_configuration). Nothing is loaded: presence, sizes and small JSON files.

Sample input::

    nnUNet_results/Dataset001_Synth/nnUNetTrainer__nnUNetPlans__3d_fullres/
        plans.json  dataset.json  fold_0/{checkpoint_final.pth, debug.json, progress.png, training_log_2025_3_5_09_07_01.txt,
                                          validation/{summary.json, case_0003.nii.gz, case_0003.npz}}
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.sources import Source

from ..base import FactSink, ProbeContext
from ..files import load_json
from . import located

_CHECKPOINTS = ("checkpoint_final.pth", "checkpoint_best.pth", "checkpoint_latest.pth")


def model_folders(folder: Path) -> list[Path]:
    """Model folders at or below ``folder`` (a dataset folder, a model folder, or a fold folder)."""
    if folder.name.startswith("fold_"):
        return [folder.parent]
    if "__" in folder.name or any(p.name.startswith("fold_") for p in _subdirs(folder)):
        return [folder]
    return [p for p in _subdirs(folder) if p.name.count("__") == 2]


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(Path(entry.path) for entry in os.scandir(folder) if entry.is_dir())
    except OSError:
        return []


def training_logs(folder: Path) -> list[Path]:
    """The newest training log of every fold below ``folder`` (what the log probe should read with --results)."""
    logs = []
    folds = [folder] if folder.name.startswith("fold_") else [
        fold for model in model_folders(folder) for fold in _subdirs(model) if fold.name.startswith("fold_")]
    for fold in folds:
        found = sorted((p for p in fold.glob("training_log_*.txt") if p.is_file()), key=lambda p: p.stat().st_mtime)
        if found:
            logs.append(found[-1])
    return logs


class ResultsProbe:
    name: ClassVar[str] = "results"
    needs: ClassVar[str] = "results"
    description: ClassVar[str] = "checks trained models: folds, checkpoints, validation, npz exports"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        where = None if context.results else located(context)
        folder = Path(context.results) if context.results else where.results if where else None
        if folder is None:
            if where is not None and where.status == "found" and context.environ.get("nnUNet_results"):
                sink.add("results.models", [], detail=f"no {where.name} folder in nnUNet_results")
                sink.add("results.folds", [], detail=f"no {where.name} folder in nnUNet_results")
            else:
                sink.unknown("results.models", "nnUNet_results is not set" if not context.environ.get(
                    "nnUNet_results") else "the dataset was not found")
            return
        if not folder.is_dir():
            sink.unknown("results.models", f"{folder}: no such folder")
            return
        sink.add("results.folder", str(folder))
        models, folds = [], []
        for model in model_folders(folder):
            record, fold_records = _model(model)
            models.append(Record(record, Provenance(Source.probe("results"), model.name)))
            folds += [Record(f, Provenance(Source.probe("results"), f"{model.name}/fold_{f['fold']}")) for f in fold_records]
        sink.add("results.models", models)
        sink.add("results.folds", folds)


def _load_json(path: Path) -> Any:
    try:
        return load_json(path)
    except (OSError, ValueError):
        return None


def _model(model: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    parts = model.name.split("__")
    trainer, plans, configuration = parts if len(parts) == 3 else (None, None, None)
    dataset_json = _load_json(model / "dataset.json")
    channels = None
    if isinstance(dataset_json, dict):
        names = dataset_json.get("channel_names") or dataset_json.get("modality")
        channels = len(names) if isinstance(names, dict) else None
    folds = [_fold(model.name, configuration, fold) for fold in _subdirs(model) if fold.name.startswith("fold_")]
    next_stage = model / "predicted_next_stage"
    record = {
        "folder": model.name, "trainer": trainer, "plans": plans, "configuration": configuration,
        "has_plans": (model / "plans.json").is_file(), "has_dataset_json": (model / "dataset.json").is_file(),
        "channels": channels, "folds": [f["fold"] for f in folds],
        "finished_folds": [f["fold"] for f in folds if f["checkpoint_final"]],
        "interrupted_folds": [f["fold"] for f in folds if f["checkpoint_latest"] and not f["checkpoint_final"]],
        "next_stage": sorted(p.name for p in _subdirs(next_stage)) if next_stage.is_dir() else []}
    return record, folds


def _fold(model: str, configuration: str | None, fold: Path) -> dict[str, Any]:
    present = {name: (fold / name).is_file() for name in _CHECKPOINTS}
    validation = fold / "validation"
    summary = _load_json(validation / "summary.json")
    dice = None
    if isinstance(summary, dict) and isinstance(summary.get("foreground_mean"), dict):
        value = summary["foreground_mean"].get("Dice")
        dice = float(value) if isinstance(value, (int, float)) else None
    npz = sum(1 for p in validation.glob("*.npz")) if validation.is_dir() else 0
    return {
        "model": model, "configuration": configuration, "fold": fold.name[len("fold_"):],
        "checkpoint_final": present["checkpoint_final.pth"], "checkpoint_best": present["checkpoint_best.pth"],
        "checkpoint_latest": present["checkpoint_latest.pth"],
        "empty_checkpoints": [name for name in _CHECKPOINTS if present[name] and (fold / name).stat().st_size == 0],
        "debug_json": (fold / "debug.json").is_file(), "progress_png": (fold / "progress.png").is_file(),
        "validation_summary": (validation / "summary.json").is_file(), "validation_npz": npz, "mean_dice": dice,
        "training_logs": sorted(p.name for p in fold.glob("training_log_*.txt"))}
