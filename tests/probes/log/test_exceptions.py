"""Exceptions: tracebacks with their frames, chains, worker re-raises, nnU-Net's wrapper errors, root and last."""
from __future__ import annotations

from nnunet_doctor.engine.pack import RulePack

from .conftest import REAL_LOGS, read_logs


def test_the_real_worker_error_is_the_root_not_nnunets_wrapper(pack: RulePack) -> None:
    """nnUNetv2_train on truncated .b2nd files (tests/fixtures/logs/real, produced by make_real_logs.py)."""
    log = read_logs(pack, REAL_LOGS / "train_corrupt_preprocessed.log")
    worker, wrapper = log["log.exceptions"]
    assert worker["worker"] and not worker["generic"] and worker["message"].startswith("blosc2_schunk_open_offset(")
    assert worker["last_frame_function"] == "blosc2.blosc2_ext.open" and worker["frames"] == 7
    assert wrapper["generic"] and wrapper["message"].startswith("One or more background workers are no longer alive")
    assert log["log.root_exception"]["line"] == worker["line"]
    assert log["log.last_exception"]["line"] == wrapper["line"]


def test_workers_killed_without_an_error_leave_only_generic_exceptions(pack: RulePack) -> None:
    """A real run whose augmentation workers were SIGKILLed during epoch 1 (interleaved thread tracebacks)."""
    log = read_logs(pack, REAL_LOGS / "train_worker_killed.log")
    complete = [e for e in log["log.exceptions"] if e["complete"]]
    assert complete and all(e["generic"] for e in complete)
    assert log["log.root_exception"]["generic"]


def test_chained_exceptions_keep_their_link(read_text) -> None:
    log = read_text(
        "Traceback (most recent call last):\n"
        '  File "/x/site-packages/nnunetv2/utilities/plans_handling/plans_handler.py", line 250, in get_configuration\n'
        "KeyError: '3d_lowres'\n"
        "\n"
        "During handling of the above exception, another exception occurred:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "/x/site-packages/nnunetv2/run/run_training.py", line 60, in get_trainer_from_args\n'
        "RuntimeError: Requested configuration 3d_lowres not found in plans.\n"
        "\n"
        "The above exception was the direct cause of the following exception:\n"
        "\n"
        "SystemExit: 1\n")
    first, second, third = log["log.exceptions"]
    assert (first["type"], first["chain"]) == ("KeyError", None)
    assert (second["chain"], second["chained_from"]) == ("context", 3)
    assert (third["type"], third["chain"], third["chained_from"]) == ("SystemExit", "cause", 9)
    assert log["log.root_exception"]["type"] == "KeyError" and log["log.last_exception"]["type"] == "SystemExit"


def test_a_multiprocessing_remote_traceback_is_a_worker_error(read_text) -> None:
    log = read_text(
        "multiprocessing.pool.RemoteTraceback: \n"
        '"""\n'
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.10/multiprocessing/pool.py", line 125, in worker\n'
        '  File "/x/site-packages/nnunetv2/preprocessing/preprocessors/default_preprocessor.py", line 50, in run_case_npy\n'
        "AssertionError: Shape mismatch between image and segmentation.\n"
        '"""\n'
        "\n"
        "The above exception was the direct cause of the following exception:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "/x/bin/nnUNetv2_plan_and_preprocess", line 8, in <module>\n'
        "AssertionError: Shape mismatch between image and segmentation.\n")
    worker, main = log["log.exceptions"]
    assert worker["worker"] and worker["frames"] == 2 and not main["worker"] and main["chain"] == "cause"


def test_bare_exception_lines_count_but_indented_code_does_not(read_text) -> None:
    log = read_text("RuntimeError: CUDA out of memory.\n"
                    "    raise RuntimeError('not an exception line')\n"
                    "    Error: Unexpected labels found in file x\n"
                    "ValueError\n")
    assert [(e["type"], e["message"], e["frames"]) for e in log["log.exceptions"]] == [
        ("RuntimeError", "CUDA out of memory.", 0), ("ValueError", "", 0)]


def test_a_traceback_cut_off_by_the_paste_is_kept_as_incomplete(read_text) -> None:
    log = read_text("Traceback (most recent call last):\n"
                    '  File "/home/u/anaconda3/envs/GBM/bin/nnUNetv2_plan_and_preprocess", line 8, in <module>\n'
                    '  File "/x/site-packages/nnunetv2/experiment_planning/plan_and_preprocess_entrypoints.py", line 188, in plan_and_preprocess_entry\n'
                    "    plans_identifier = plan_experiments(args.d, args.pl, args.gpu_memory_target,\n")
    [cut] = log["log.exceptions"]
    assert cut["complete"] is False and cut["frames"] == 2
    assert cut["last_frame_function"] == "plan_and_preprocess_entry" and cut["last_frame_line"] == 188


def test_frames_pasted_on_one_line_are_all_counted(read_text) -> None:
    log = read_text('    data, seg = self.apply_process(  File "/opt/nnDetection/nndet/preprocessing/preprocessor.py", '
                    'line 304, in apply_process    data = self.resample(\n'
                    '  File "/opt/conda/lib/python3.8/site-packages/nnunet/preprocessing/preprocessing.py", line 193, in resample_data_or_seg\n'
                    "TypeError: resize_segmentation() got an unexpected keyword argument 'cval'\n")
    [error] = log["log.exceptions"]
    assert error["frames"] == 2 and error["last_frame"].endswith("nnunet/preprocessing/preprocessing.py")


def test_jupyter_and_ipython_frames(read_text) -> None:
    log = read_text("ImportError                               Traceback (most recent call last)\n"
                    "File <command-1458388170907476>, line 7\n"
                    "ImportError: cannot import name 'crop_to_bbox' from 'acvl_utils.cropping_and_padding.bounding_boxes'\n")
    [error] = log["log.exceptions"]
    assert error["frames"] == 1 and error["last_frame"] == "<command-1458388170907476>"
