"""The nnU-Net step a log comes from (plan, preprocess, train, validate, predict...), and what told it.

The same symptom means different things in different steps: ``expected input[1, 1, ...] to have 2 channels, but
got 1`` is a training-data problem in training and an input problem in prediction. Three witnesses, the most
direct first:

1. the traceback frames of the failing exception: the console script (``.../bin/nnUNetv2_preprocess``) or else the
   outermost nnU-Net module that maps to a step (``nnunetv2/run/run_training.py`` -> train), and
   ``perform_actual_validation`` as the innermost function -> validate;
2. the command line (``nnUNetv2_predict ...``, or the console script a traceback names);
3. the stages nnU-Net printed (``Predicting case_001:``, ``Epoch 0``...), the last one reached.

>>> step_of([{"frame_files": ["/v/bin/nnUNetv2_predict", "/v/site-packages/nnunetv2/inference/predict_from_raw_data.py"],
...           "line": 9, "file": "a.log"}], [], [])
('predict', 'traceback frame nnUNetv2_predict', 'a.log', 9)
"""
from __future__ import annotations

from typing import Any, Sequence

from nnunet_doctor.engine.patterns import regex

#: module path (after nnunetv2/ or nnunet/) -> step; the first pattern that matches a frame wins
_FRAME_STEPS = (
    (r"nnunet(?:v2)?/run/run_training", "train"),
    (r"nnunet(?:v2)?/training/", "train"),
    (r"nnunet(?:v2)?/inference/", "predict"),
    (r"nnunet(?:v2)?/ensembling/|nnunet/inference/ensemble_predictions", "ensemble"),
    (r"nnunet(?:v2)?/evaluation/(?:find_best_configuration|model_selection)", "find_best"),
    (r"nnunet(?:v2)?/evaluation/", "evaluate"),
    (r"nnunet(?:v2)?/postprocessing/", "postprocess"),
    (r"nnunetv2/model_sharing/(?:model_export|entry_points)|collect_pretrained_models", "export"),
    (r"nnunetv2/model_sharing/|nnunet/inference/pretrained_models/", "install"),
    (r"nnunet(?:v2)?/dataset_conversion/", "convert"),
    (r"nnunet(?:v2)?/preprocessing/|plan_and_preprocess_entrypoints.*preprocess", "preprocess"),
    (r"nnunet(?:v2)?/experiment_planning/", "plan"),
)
_VALIDATION = r"perform_actual_validation|validate\b|run_validation"
#: console script (without nnUNetv2_/nnUNet_) -> step
_PROGRAM_STEPS = {
    "plan_and_preprocess": "plan", "extract_fingerprint": "plan", "plan_experiment": "plan", "preprocess": "preprocess",
    "train": "train", "train_DP": "train", "train_DDP": "train", "predict": "predict",
    "predict_from_modelfolder": "predict", "ensemble": "ensemble", "determine_postprocessing": "postprocess",
    "apply_postprocessing": "postprocess", "find_best_configuration": "find_best",
    "accumulate_crossval_results": "evaluate", "evaluate_folder": "evaluate", "evaluate_simple": "evaluate",
    "export_model_to_zip": "export", "install_pretrained_model_from_zip": "install",
    "download_pretrained_model_by_url": "install", "download_pretrained_model": "install",
    "convert_MSD_dataset": "convert", "convert_old_nnUNet_dataset": "convert", "convert_decathlon_task": "convert",
}
#: log.stages value -> step
_STAGE_STEPS = {"fingerprint": "plan", "verification": "plan", "planning": "plan", "preprocessing": "preprocess",
                "training": "train", "validation": "validate", "inference": "predict",
                "find_best_configuration": "find_best"}


_CONSOLE_SCRIPT = r"/(?:bin|Scripts)/nnUNet(?:v2)?_(\w+?)(?:\.exe|-script\.py)?$"


def _frame_step(frames: Sequence[str]) -> tuple[str, str] | None:
    for path in frames:
        clean = path.replace("\\", "/")
        script = regex(_CONSOLE_SCRIPT).search(clean)
        if script and script.group(1) in _PROGRAM_STEPS:
            return _PROGRAM_STEPS[script.group(1)], clean.rsplit("/", 1)[-1]
        for pattern, step in _FRAME_STEPS:
            found = regex(pattern).search(clean)
            if found:
                module = clean[clean.find(found.group(0).split("/")[0]):]
                return step, module
    return None


def step_of(exceptions: Sequence[dict[str, Any]], commands: Sequence[dict[str, Any]],
            stages: Sequence[tuple[str, int, str]]) -> tuple[str, str, str, int] | None:
    """``(step, what told it, file, line)`` or None; see the module docstring."""
    for exception in reversed(list(exceptions)):
        frames = exception.get("frame_files") or []
        found = _frame_step(frames)
        if found is None:
            continue
        step, module = found
        if step == "train" and regex(_VALIDATION).search(str(exception.get("last_frame_function") or "")):
            step = "validate"
        return step, f"traceback frame {module}", exception.get("file", ""), int(exception.get("line", 0))
    for command in reversed(list(commands)):
        job = str(command.get("program", "")).split("_", 1)[-1]
        if job in _PROGRAM_STEPS:
            step = _PROGRAM_STEPS[job]
            if step == "train" and "--val" in str(command.get("args", "")).split():
                step = "validate"
            return step, f"command line {command.get('program')}", command.get("file", ""), int(command.get("line", 0))
    for stage, line, file in reversed(list(stages)):
        if stage in _STAGE_STEPS:
            return _STAGE_STEPS[stage], f"nnU-Net's progress messages ({stage})", file, line
    return None
