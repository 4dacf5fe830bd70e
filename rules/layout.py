"""The layout model: which nnU-Net step writes which file under nnUNet_raw, nnUNet_preprocessed and nnUNet_results.

A path a log says is missing is explained by the step that writes it (it did not run, or did not finish), or by
the path itself: a relative path variable joined twice, a folder repeated (a variable one level too deep, a model
zip unpacked one level too low). The table holds nnU-Net v2 (every release: the names did not change from 2.0 to
2.8) and v1 (``nnunet`` 1.x, with the one change that matters: ``nnUNet_find_best_configuration`` creates its
``ensembles/TaskXXX`` folder itself only from 1.5 on).

>>> match_path("/d/nnUNet_results/Dataset001_X/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_1/checkpoint_final.pth").name
'checkpoint_final'
"""
from __future__ import annotations

import re

from msgspec import Struct

from nnunet_doctor.engine.patterns import regex


class Artifact(Struct, frozen=True):
    """A file (or folder) of nnU-Net's layout and the step that writes it."""

    name: str
    generation: str  # v1 | v2
    root: str  # the path variable it lives under
    pattern: str  # regex on the path with / separators
    step: str  # plan, preprocess, train, validate, find_best, export, user...
    command: str  # what runs that step
    written: str  # when in that step it is written: start, during, end
    parent_created_since: str = ""  # the release from which the step creates the parent folder itself


ARTIFACTS: tuple[Artifact, ...] = (
    Artifact("checkpoint_final", "v2", "nnUNet_results", r"/fold_[\w]+/checkpoint_final\.pth$", "train",
             "nnUNetv2_train DATASET CONFIGURATION FOLD", "end"),
    Artifact("checkpoint_latest", "v2", "nnUNet_results", r"/fold_[\w]+/checkpoint_(?:latest|best)\.pth$", "train",
             "nnUNetv2_train DATASET CONFIGURATION FOLD", "during"),
    Artifact("validation_summary", "v2", "nnUNet_results", r"/fold_[\w]+/validation/summary\.json$", "validate",
             "nnUNetv2_train DATASET CONFIGURATION FOLD --val", "end"),
    Artifact("progress_png", "v2", "nnUNet_results", r"/fold_[\w]+/progress\.png$", "train",
             "nnUNetv2_train DATASET CONFIGURATION FOLD", "during"),
    Artifact("model_files", "v2", "nnUNet_results", r"/\w+__\w+__\w+/(?:dataset\.json|plans\.json|dataset_fingerprint\.json)$",
             "train", "nnUNetv2_train DATASET CONFIGURATION FOLD", "start"),
    Artifact("crossval_results", "v2", "nnUNet_results", r"/crossval_results_folds_[\d_]+/", "find_best",
             "nnUNetv2_find_best_configuration DATASET", "end"),
    Artifact("inference_information", "v2", "nnUNet_results", r"/inference_(?:information\.json|instructions\.txt)$",
             "find_best", "nnUNetv2_find_best_configuration DATASET", "end"),
    Artifact("splits", "v2", "nnUNet_preprocessed", r"/splits_final\.json$", "train",
             "nnUNetv2_train DATASET CONFIGURATION FOLD", "start"),
    Artifact("dataset_fingerprint", "v2", "nnUNet_preprocessed", r"/Dataset\d+_[^/]+/dataset_fingerprint\.json$", "plan",
             "nnUNetv2_extract_fingerprint -d DATASET (or nnUNetv2_plan_and_preprocess -d DATASET)", "end"),
    Artifact("plans", "v2", "nnUNet_preprocessed", r"/Dataset\d+_[^/]+/[\w.-]+Plans[\w.-]*\.json$", "plan",
             "nnUNetv2_plan_experiment -d DATASET (or nnUNetv2_plan_and_preprocess -d DATASET)", "end"),
    Artifact("preprocessed_data", "v2", "nnUNet_preprocessed", r"/[\w.-]+Plans[\w.-]*_(?:2d|3d_\w+)(?:/|$)", "preprocess",
             "nnUNetv2_preprocess -d DATASET -c CONFIGURATION (or nnUNetv2_plan_and_preprocess -d DATASET)", "during"),
    Artifact("gt_segmentations", "v2", "nnUNet_preprocessed", r"/gt_segmentations/", "preprocess",
             "nnUNetv2_preprocess -d DATASET (or nnUNetv2_plan_and_preprocess -d DATASET)", "during"),
    Artifact("raw_dataset", "v2", "nnUNet_raw", r"/Dataset\d+_[^/]+/(?:dataset\.json|imagesTr|labelsTr|imagesTs)", "user",
             "(the dataset you convert into nnUNet_raw)", "start"),
    Artifact("v1_checkpoint", "v1", "RESULTS_FOLDER", r"/fold_\w+/model_(?:final_checkpoint|best|latest)\.model(?:\.pkl)?$",
             "train", "nnUNet_train CONFIGURATION TRAINER TASK FOLD", "end"),
    Artifact("v1_validation_summary", "v1", "RESULTS_FOLDER", r"/fold_\w+/validation_raw(?:_postprocessed)?/summary\.json$",
             "validate", "nnUNet_train CONFIGURATION TRAINER TASK FOLD --validation_only", "end"),
    Artifact("v1_plans", "v1", "nnUNet_preprocessed", r"/Task\d+_[^/]+/nnUNetPlans[\w.]*_plans_[23]D\.pkl$", "plan",
             "nnUNet_plan_and_preprocess -t TASK", "end"),
    Artifact("v1_ensembles", "v1", "RESULTS_FOLDER", r"/nnUNet/ensembles/Task\d+_[^/]+/[^/]+$", "find_best",
             "nnUNet_find_best_configuration -m CONFIGURATIONS -t TASK", "end", parent_created_since="1.5"),
)
_COMPILED = tuple((artifact, re.compile(artifact.pattern)) for artifact in ARTIFACTS)
#: a relative prefix (./nnUNet_raw, ../data) that appears twice in one path: a relative variable joined to itself
_JOINED_TWICE = r"(?:^|/)(?P<part>\.{1,2}/[^/]+)/(?:.*/)?(?P=part)(?:/|$)"
_ROOT_TWICE = r"(?P<part>nnUNet_(?:raw|preprocessed|results)|nnUNet_raw_data_base|RESULTS_FOLDER)/(?:.*/)?(?P=part)(?:/|$)"
_FOLDER_TWICE = r"/(?P<part>Dataset\d+_[^/]+|Task\d+_[^/]+|\w+__\w+__\w+)/(?P=part)(?:/|$)"
_FOLD = r"/(fold_\w+)/"


def match_path(path: str) -> Artifact | None:
    """The artifact a path names (``/`` or ``\\`` separators), or None."""
    clean = path.replace("\\", "/")
    return next((artifact for artifact, pattern in _COMPILED if pattern.search(clean)), None)


def path_problem(path: str) -> tuple[str, str] | None:
    """``(problem, the repeated part)`` when the path itself is wrong: joined_twice, wrong_level, relative."""
    clean = path.replace("\\", "/")
    for problem, pattern in (("joined_twice", _JOINED_TWICE), ("joined_twice", _ROOT_TWICE),
                             ("wrong_level", _FOLDER_TWICE)):
        found = regex(pattern).search(clean)
        if found:
            return problem, found.group("part")
    if re.match(r"^\.{1,2}/", clean) and re.search(r"nnUNet_(?:raw|preprocessed|results)", clean):
        return "relative", clean.split("/")[1]
    return None


def fold_of(path: str) -> str:
    found = regex(_FOLD).search(path.replace("\\", "/") + "/")
    return found.group(1) if found else ""
