"""What was run (commands, stages, nnU-Net generation) and what a log shows of the machine."""
from __future__ import annotations

import pytest

from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.probes.log.machine import parse_cuda_oom
from nnunet_doctor.probes.log.run import parse_command

from .conftest import HEALTHY_LOGS, read_logs


@pytest.mark.parametrize("line, expected", [
    ("$ nnUNetv2_train 3 3d_fullres 0 -tr nnUNetTrainer_250epochs -device cpu --npz",
     {"program": "nnUNetv2_train", "dataset": "3", "configuration": "3d_fullres", "fold": "0",
      "trainer": "nnUNetTrainer_250epochs", "device": "cpu"}),
    ("(nnunet) anna@gpu01:~/work$ nnUNetv2_plan_and_preprocess -d 199 -pl nnUNetPlannerResEncL -c 3d_fullres",
     {"program": "nnUNetv2_plan_and_preprocess", "dataset": "199", "planner": "nnUNetPlannerResEncL"}),
    ("(nnunet) PS C:\\Users\\anna> nnUNetv2_predict -i in -o out -d 4 -c 3d_fullres -f 0 1 2",
     {"program": "nnUNetv2_predict", "fold": "0 1 2", "input": "in"}),
    ("nnUNet_train 3d_fullres nnUNetTrainerV2 Task004_Hippocampus 1 --npz",
     {"program": "nnUNet_train", "generation": "v1", "trainer": "nnUNetTrainerV2", "dataset": "Task004_Hippocampus"}),
])
def test_command_lines(read_text, line: str, expected: dict[str, str]) -> None:
    [command] = read_text(line + "\n")["log.commands"]
    assert {key: command[key] for key in expected} == expected


def test_the_console_script_in_a_traceback_counts_as_the_command(read_text) -> None:
    [command] = read_text('  File "/home/u/venv/bin/nnUNetv2_plan_and_preprocess", line 8, in <module>\n')["log.commands"]
    assert command["program"] == "nnUNetv2_plan_and_preprocess" and command["args"] == ""


def test_names_in_sentences_are_not_commands(read_text) -> None:
    log = read_text("RuntimeError: Cannot run validation. Use nnUNetv2_train [...] --val --npz.\n"
                    "nnUNet_raw=/data/raw\n")
    assert log["log.commands"] == [] and parse_command("no command here") is None


def test_stages_of_a_real_planning_run(pack: RulePack) -> None:
    log = read_logs(pack, HEALTHY_LOGS / "plan_healthy.log")
    assert log["log.stages"] == ["fingerprint", "verification", "planning", "preprocessing"]
    assert log["log.last_stage"] == "preprocessing" and log["nnunet.generation"] == "v2"


def test_v1_and_v2_names_together_are_both_reported(read_text) -> None:
    log = read_text("$ nnUNetv2_train 4 3d_fullres 0 -tr nnUNetTrainerV2\n")
    assert log["log.generations"] == ["v1", "v2"] and log["nnunet.generation"] == "v2"


def test_v1_code_in_a_traceback_makes_the_log_v1(read_text) -> None:
    log = read_text('  File "/home/q/nnUNet-master/nnunet/training/loss_functions/dice_loss.py", line 122, in forward\n'
                    '  File "/home/q/.local/lib/python3.6/site-packages/torch/nn/modules/module.py", line 493, in __call__\n'
                    "RuntimeError: CUDA error: device-side assert triggered\n")
    assert log["nnunet.generation"] == "v1" and log["python.version"] == "3.6"
    kinds = {p["name"]: p["kind"] for p in log["log.packages"]}
    assert kinds == {"nnunet": "source", "torch": "user"}


def test_a_user_site_next_to_a_conda_environment_is_a_shadowing_install(read_text) -> None:
    log = read_text(
        '  File "/home/u/anaconda3/envs/nn/lib/python3.10/site-packages/nnunetv2-2.1.1-py3.10.egg/nnunetv2/run/run_training.py", line 2, in <module>\n'
        '  File "/home/u/.local/lib/python3.10/site-packages/torch/__init__.py", line 1, in <module>\n'
        "ImportError: libcudnn.so.8: cannot open shared object file\n")
    assert log["log.shadowing_install"] is True
    assert log["nnunet.version"] == "2.1.1" and log["python.version"] == "3.10" and log["log.os"] == "linux"


def test_versions_from_pip_and_collect_env(read_text) -> None:
    log = read_text("PyTorch version: 2.9.0+cu128\nPython version: 3.12.3 (main, Nov 6 2024)\n"
                    "nnunetv2 2.8.1 requires torch!=2.9.*,>=2.1.2, but you have torch 2.9.0 which is incompatible.\n")
    assert (log["torch.version"], log["log.torch_build"], log["python.version"]) == ("2.9.0", "cu128", "3.12.3")
    assert log["nnunet.version"] == "2.8.1"


def test_versions_from_pip_show(read_text) -> None:
    log = read_text("$ pip show nnunetv2 torch\nName: nnunetv2\nVersion: 2.1\nSummary: nnU-Net\n---\n"
                    "Name: torch\nVersion: 2.0.1+cu117\n")
    assert (log["nnunet.version"], log["torch.version"], log["log.torch_build"]) == ("2.1", "2.0.1", "cu117")
    assert read_text("Name: nnunetv2-tools\nVersion: 9.9\n").get("nnunet.version") is None


def test_windows_paths_and_scheduler_and_container(read_text) -> None:
    windows = read_text('  File "F:\\miniconda\\envs\\nnunet\\lib\\runpy.py", line 196, in _run_module_as_main\n', name="w.log")
    assert windows["log.os"] == "windows"
    cluster = read_text("slurmstepd: error: Detected 1 oom_kill event in StepId=37620947.batch.\n"
                        "docker run --gpus all --shm-size=16g nnunet\n", name="c.log")
    assert (cluster["log.scheduler"], cluster["log.container"]) == ("slurm", "docker")


def test_gpu_names_and_capabilities(read_text) -> None:
    log = read_text("UserWarning: NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current "
                    "PyTorch installation.\n")
    assert [(g["name"], g["capability"]) for g in log["log.gpus"]] == [("NVIDIA GeForce RTX 5090", "12.0")]


def test_cuda_oom_figures_old_wording() -> None:
    figures = parse_cuda_oom("CUDA out of memory. Tried to allocate 1.17 GiB (GPU 0; 11.91 GiB total capacity; "
                             "10.92 GiB already allocated; 18.88 MiB free; 11.04 GiB reserved in total by PyTorch)")
    assert figures == {"tried_mib": 1198.08, "total_mib": 12195.84, "allocated_mib": 11182.08, "free_mib": 18.88,
                       "reserved_mib": 11304.96, "gpu": 0}


def test_cuda_oom_figures_new_wording_with_other_processes(read_text) -> None:
    log = read_text("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity "
                    "of 23.65 GiB of which 3.06 MiB is free. Process 2517 has 15.20 GiB memory in use. Process 8811 has "
                    "8.40 GiB memory in use. Including non-PyTorch memory, this process has 8.40 GiB memory in use. Of "
                    "the allocated memory 7.96 GiB is allocated by PyTorch, and 213.21 MiB is reserved by PyTorch but "
                    "unallocated.\n")
    oom = log["log.cuda_oom"]
    assert (oom["tried_mib"], oom["free_mib"], oom["process_mib"]) == (20.0, 3.06, 8601.6)
    assert oom["other_processes_mib"] == 15564.8 and oom["allocated_mib"] == 8151.04 and oom["line"] == 1
