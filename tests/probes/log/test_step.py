"""The step a log comes from, and the rules that read a shared symptom differently per step."""
from __future__ import annotations

from nnunet_doctor.probes.log.step import step_of
from nnunet_doctor.testing import diagnose_text

CHANNELS = ("RuntimeError: Given groups=1, weight of size [32, 2, 3, 3, 3], expected input[1, 1, 80, 160, 160] "
            "to have 2 channels, but got 1 channels instead")


def test_frames_beat_the_command_line() -> None:
    exceptions = [{"frame_files": ["/v/bin/nnUNetv2_train", "/v/lib/site-packages/nnunetv2/run/run_training.py",
                                   "/v/lib/site-packages/nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py"],
                   "last_frame_function": "perform_actual_validation", "line": 30, "file": "t.log"}]
    assert step_of(exceptions, [{"program": "nnUNetv2_predict", "line": 1}], [])[:2] == (
        "validate", "traceback frame nnUNetv2_train")
    assert step_of([dict(exceptions[0], frame_files=exceptions[0]["frame_files"][1:])], [], [])[:2] == (
        "validate", "traceback frame nnunetv2/run/run_training.py")


def test_command_then_stages() -> None:
    assert step_of([], [{"program": "nnUNet_ensemble", "line": 2, "file": "t.log"}], [])[0] == "ensemble"
    assert step_of([], [], [("fingerprint", 1, "t.log"), ("inference", 9, "t.log")])[0] == "predict"
    assert step_of([], [], []) is None


def test_channel_mismatch_in_training_is_a_dataset_problem() -> None:
    log = f"""Traceback (most recent call last):
  File "/v/bin/nnUNetv2_train", line 8, in <module>
  File "/v/lib/python3.11/site-packages/nnunetv2/run/run_training.py", line 275, in run_training_entry
  File "/v/lib/python3.11/site-packages/nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py", line 1000, in train_step
{CHANNELS}"""
    causes = [c.cause for c in diagnose_text(log).causes]
    assert causes[0] == "data.channel_count_mismatch" and "infer.input_mismatch" not in causes[:1]


def test_channel_mismatch_in_prediction_is_an_input_problem() -> None:
    log = f"""Traceback (most recent call last):
  File "/v/bin/nnUNetv2_predict", line 8, in <module>
  File "/v/lib/python3.11/site-packages/nnunetv2/inference/predict_from_raw_data.py", line 864, in predict_entry_point
{CHANNELS}"""
    assert diagnose_text(log).causes[0].cause == "infer.input_mismatch"
