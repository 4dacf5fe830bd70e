"""The functional checks: try what nnU-Net's commands need, in the environment that runs them, instead of reading versions.

:mod:`.functional_worker` runs in a subprocess of this interpreter under a timeout (``NNUNET_DOCTOR_CHECK_TIMEOUT``
seconds, default 90): it imports what ``nnUNetv2_plan_and_preprocess``, ``nnUNetv2_train`` and ``nnUNetv2_predict``
import, calls torchvision's compiled operators, runs nnU-Net's trainer lookup (``nnUNet_extTrainer`` included) and,
with ``--dataset`` or ``--results``, one forward and backward pass of the plans' network on the device nnU-Net would
use. Each check becomes a ``check.functional`` record; a worker that hangs or dies leaves ``check.completed = false``
and a note saying where it stopped.

Folders: in ``nnUNet_preprocessed`` and ``nnUNet_results`` (what nnU-Net writes) a temporary file named
``.nnunet-doctor-*`` is created at the top of the folder, written, read back and deleted at once; nothing is
written into a dataset, preprocessed data or a model folder, and ``nnUNet_raw`` is only listed.

Sample: with PyPI's torchvision 0.28.0 beside torch 2.13.0+cpu it establishes a record ``{kind: torchvision_ops,
target: torchvision, ok: false, error: "RuntimeError: operator torchvision::nms does not exist"}`` and a
``trainer_lookup`` record failing with the same error (nnU-Net's lookup imports the Primus trainers -> timm ->
torchvision).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, ClassVar, Mapping

from .base import FactSink, ProbeContext
from .files import load_json
from .gpu import probe_timeout, run_command

TIMEOUT_VARIABLE = "NNUNET_DOCTOR_CHECK_TIMEOUT"
DEFAULT_TIMEOUT = 90.0
WORKER = Path(__file__).with_name("functional_worker.py")
#: the folders nnU-Net writes into: a temporary file is written, read back and deleted there
WRITTEN_FOLDERS = ("nnUNet_preprocessed", "nnUNet_results")


class FunctionalProbe:
    name: ClassVar[str] = "functional"
    needs: ClassVar[str] = "machine"
    description: ClassVar[str] = ("imports what nnU-Net's commands import, runs its trainer lookup, writes a file in "
                                  "its folders and runs the plans' network once, in a subprocess under a timeout")

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        environ = context.environ
        request = {"trainers": trainer_names(environ), "folders": written_folders(environ),
                   "plans": plans_at_hand(context)}
        timeout = probe_timeout(environ, TIMEOUT_VARIABLE, DEFAULT_TIMEOUT)
        result = run_command([sys.executable, str(WORKER), json.dumps(request)], environ, timeout)
        records: list[dict[str, Any]] = []
        step, done = None, False
        for line in result.stdout.splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue  # something the checked code printed itself
            if not isinstance(data, dict):
                continue
            if "begin" in data:
                step = str(data["begin"])
            elif "check" in data:
                records.append(data["check"])
            elif data.get("done"):
                done = True
        records += _raw_listing(environ)
        sink.add("check.functional", records, detail=f"{WORKER.name} run by {sys.executable}")
        sink.add("check.completed", done)
        sink.detail = f"{len(records)} checks in {result.seconds:.1f} s"
        if result.timed_out:
            sink.note(f"the functional checks timed out after {timeout:g} s while {step or 'starting Python'} "
                      f"(set {TIMEOUT_VARIABLE} to wait longer); the checks after it did not run", "warning")
        elif not done:
            tail = " | ".join(result.stderr.strip().splitlines()[-3:])
            sink.note(f"the functional checks' subprocess exited with status {result.returncode} while "
                      f"{step or 'starting Python'}" + (f": {tail}" if tail else ""), "warning")


def trainer_names(environ: Mapping[str, str]) -> list[str]:
    """The trainer classes the user added (nnUNet_extTrainer folders, files added inside nnunetv2): each is looked up."""
    from .installation import custom_trainers

    records, _ = custom_trainers(environ.get("nnUNet_extTrainer"))
    return sorted({record["class_name"] for record in records if "Trainer" in record["class_name"]})


def written_folders(environ: Mapping[str, str]) -> dict[str, str]:
    return {variable: environ[variable] for variable in WRITTEN_FOLDERS
            if environ.get(variable) and os.path.isdir(environ[variable])}


def _raw_listing(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """nnUNet_raw is read, never written: the check lists it."""
    path = environ.get("nnUNet_raw")
    if not path or not os.path.isdir(path):
        return []
    record: dict[str, Any] = {"kind": "folder", "target": path, "variable": "nnUNet_raw"}
    try:
        with os.scandir(path) as entries:
            next(iter(entries), None)
        record["ok"] = True
    except OSError as exc:
        record.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    return [record]


def plans_at_hand(context: ProbeContext) -> dict[str, str] | None:
    """The plans, dataset.json and configuration of ``--results`` (its first model) or ``--dataset`` (preprocessed)."""
    if context.results is not None:
        from .dataset.results import model_folders

        for model in model_folders(context.results) if context.results.is_dir() else []:
            plans, dataset_json = model / "plans.json", model / "dataset.json"
            parts = model.name.split("__")
            if plans.is_file() and dataset_json.is_file() and len(parts) == 3:
                return {"plans": str(plans), "dataset_json": str(dataset_json), "configuration": parts[2]}
    if context.dataset:
        from .dataset import located

        folder = located(context).preprocessed
        if folder is not None and (folder / "dataset.json").is_file():
            for plans in sorted(folder.glob("*Plans*.json")):
                configuration = _configuration(plans)
                if configuration is not None:
                    return {"plans": str(plans), "dataset_json": str(folder / "dataset.json"),
                            "configuration": configuration}
    return None


def _configuration(plans: Path) -> str | None:
    """3d_fullres when the plans have it (what nnU-Net trains first), else 2d, else None."""
    try:
        configurations = load_json(plans).get("configurations", {})
    except (OSError, ValueError, AttributeError):
        return None
    return next((name for name in ("3d_fullres", "2d") if name in configurations), None)
