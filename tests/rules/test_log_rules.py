"""The log rules on real nnU-Net output (tests/fixtures/logs/real, made by make_real_logs.py).

Every failing run is diagnosed with the cause it really has; no rule ranks a cause at or above 0.4 on a
successful run (the healthy corpus); "this is normal" never outranks a real cause; the log probe never
crashes on any rule's own test input.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from nnunet_doctor.engine.certainty import is_found
from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.engine.sources import LOG
from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis
from nnunet_doctor.testing import diagnose_text

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "real"

#: failing real runs -> the cause that must rank first
FAILING = {
    "find_best_untrained_configs.log": "train.cascade_missing_stage",
    "layout_export_without_validation.log": "infer.export_problem",
    "layout_predict_latest_only.log": "infer.model_missing",
    "layout_preprocess_before_plan.log": "train.not_preprocessed",
    "layout_train_before_preprocess.log": "train.not_preprocessed",
    "plan_dataset_not_found.log": "env.dataset_not_found",
    "plan_empty_labels.log": "data.labels_empty",
    "plan_paths_unset.log": "env.paths_unset",
    "plan_planner_typo.log": "install.trainer_not_found",
    "predict_channel_mismatch.log": "infer.input_mismatch",
    "predict_fold_missing.log": "infer.model_missing",
    "predict_model_missing.log": "infer.model_missing",
    "predict_no_channel_suffix.log": "infer.input_mismatch",
    "train_config_not_planned.log": "train.not_preprocessed",
    "train_corrupt_preprocessed.log": "data.preprocessed_corrupt",
    "train_device_cuda_without_gpu.log": "install.torch_cuda_mismatch",
    "train_ext_trainer_broken_torchvision.log": "install.dependency_mismatch",
    "train_labels_255.log": "data.labels_unexpected",
    "train_plans_not_found.log": "train.not_preprocessed",
    "train_results_unset.log": "env.paths_unset",
    "train_trainer_not_found.log": "install.trainer_not_found",
    "train_val_unfinished.log": "train.checkpoint_problem",
    "train_worker_killed.log": "sys.ram_exhausted",
    "verify_channel_count.log": "data.channel_count_mismatch",
    "verify_file_ending.log": "data.file_ending_mismatch",
    "verify_labels_255.log": "data.labels_unexpected",
    "verify_labels_not_consecutive.log": "data.labels_noncontiguous",
    "verify_missing_label.log": "data.missing_file",
    "verify_no_channel_suffix.log": "data.file_naming",
    "verify_numtraining.log": "data.numtraining_mismatch",
    "verify_shape_mismatch.log": "data.geometry_image_label",
    "verify_spacing_mismatch.log": "data.geometry_image_label",
    "verify_v1_labels.log": "data.dataset_json_invalid",
    "verify_v1_modality_json.log": "data.dataset_json_v1_format",
}
#: successful real runs, kept as the rule pack's healthy corpus (verify_origin_warning: verification passed with a
#: warning only; plan_labels_255_no_verify: planning succeeded - nothing in that log can show the labels)
HEALTHY_CORPUS = Path(__file__).resolve().parents[2] / "rules" / "corpus" / "healthy"
HEALTHY = sorted(p.name for p in HEALTHY_CORPUS.iterdir())


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_rule_pack()


def ranked(pack: RulePack, name: str) -> list[tuple[str, float]]:
    path = REAL / name if (REAL / name).exists() else HEALTHY_CORPUS / name
    result = run_diagnosis(DiagnosisRequest(logs=[str(path)], offline=True, environ={}, probes={"log"}), pack)
    assert not [f for f in result.diagnosis.findings if "crashed" in f.message or "invalid fact" in f.message]
    return [(cause.cause, cause.certainty) for cause in result.diagnosis.causes]


def test_every_real_log_is_covered() -> None:
    assert {p.name for p in REAL.iterdir()} == set(FAILING)
    assert len(HEALTHY) >= 8


@pytest.mark.parametrize("name", sorted(FAILING))
def test_a_failing_real_run_gets_its_cause_first(pack: RulePack, name: str) -> None:
    causes = ranked(pack, name)
    assert causes and causes[0][0] == FAILING[name], causes
    assert causes[0][1] >= 0.6


@pytest.mark.parametrize("name", HEALTHY)
def test_no_cause_reaches_medium_certainty_on_a_successful_run(pack: RulePack, name: str) -> None:
    assert [(cause, certainty) for cause, certainty in ranked(pack, name) if is_found(certainty)] == []


@pytest.mark.parametrize("name", sorted(FAILING))
def test_normal_behaviour_never_outranks_a_real_cause(pack: RulePack, name: str) -> None:
    causes = ranked(pack, name)
    expected = [certainty for cause, certainty in causes if cause == "train.expected_behaviour"]
    assert not expected or expected[0] < causes[0][1]


def test_the_log_probe_never_crashes_on_a_rule_test_input(pack: RulePack) -> None:
    logs = {test.log for rule in pack.rules for test in rule.tests if test.log}
    for log in sorted(logs):
        diagnosis = diagnose_text(log, pack=pack)
        assert not [f.message for f in diagnosis.findings if f.source == LOG and f.severity == "error"], log
