"""nnU-Net's training log: configuration, plans, epochs, and what the epochs show."""
from __future__ import annotations

import math

import pytest

from nnunet_doctor.engine.pack import RulePack

from .conftest import HEALTHY_LOGS, read_logs


def epochs(rows: list[tuple[float | str, float | str, str, float]], start: int = 0, dice_format: str = "np") -> str:
    """Epoch blocks as nnUNetTrainer writes them: (train_loss, val_loss, pseudo dice list text, epoch time)."""
    out = []
    for number, (train, val, dice, seconds) in enumerate(rows, start=start):
        stamp = f"2025-03-05 09:{number // 60 % 60:02d}:{number % 60:02d}.000000"
        out += [f"{stamp}: ", f"{stamp}: Epoch {number}", f"{stamp}: Current learning rate: 0.00{9 - number % 9}",
                f"{stamp}: train_loss {train}", f"{stamp}: val_loss {val}", f"{stamp}: Pseudo dice [{dice}]",
                f"{stamp}: Epoch time: {seconds} s"]
    return "".join(line + " \n" for line in out)


def test_a_real_training_log_folder(pack: RulePack) -> None:
    log = read_logs(pack, HEALTHY_LOGS / "fold_0")
    assert (log["training.configuration"], log["training.patch_size"], log["training.batch_size"]) == ("3d_fullres", [16, 16, 16], 2)
    assert log["training.spacing"] == [2.0, 1.0, 1.0] and log["training.network"] == "PlainConvUNet"
    assert (log["training.dataset"], log["training.plans"], log["training.fold"]) == ("Dataset001_Tiny", "nnUNetPlans", "0")
    assert log["training.trainer"] == "nnUNetTrainer_tiny" and log["training.device"] == "cpu"
    assert log["training.finished"] is True and log["training.stopped_mid_epoch"] is False
    assert log["training.epochs_completed"] == 4 and log["training.validation_dice"] == pytest.approx(0.67058, abs=1e-4)
    first = log["training.epochs"][0]
    assert (first["epoch"], first["lr"], first["dice"], first["new_best"]) == (0, 0.01, [0.0931], True)
    assert log["torch.version"] == "2.13.0" and log["log.torch_build"] == "cpu"


def test_an_excerpt_without_epoch_headers_still_gives_epochs(read_text) -> None:
    log = read_text("2024-05-01 10:00:00.000000: train_loss -0.6123 \n2024-05-01 10:00:00.000000: val_loss -0.7011 \n"
                    "2024-05-01 10:00:01.000000: train_loss -0.6301 \n2024-05-01 10:00:01.000000: val_loss nan \n",
                    name="pasted.log")
    assert [(e["epoch"], e["train_loss"], e["line"]) for e in log["training.epochs"]] == [(0, -0.6123, 1), (1, -0.6301, 3)]
    assert log["training.nan_loss_epoch"] == 1


def test_numpy1_and_numpy2_pseudo_dice_read_alike(read_text) -> None:
    numpy2 = read_text(epochs([(0.1, 0.2, "np.float32(0.5), np.float32(0.25)", 100.0)]), name="a.log")
    numpy1 = read_text(epochs([(0.1, 0.2, "0.5, 0.25", 100.0)]), name="b.log")
    assert numpy2["training.epochs"][0]["dice"] == numpy1["training.epochs"][0]["dice"] == [0.5, 0.25]
    assert numpy1["training.epochs"][0]["mean_dice"] == 0.375


def test_nan_loss_names_its_first_epoch(read_text) -> None:
    log = read_text(epochs([(0.1, 0.2, "0.5", 100.0), (-0.3, 0.1, "0.6", 100.0), ("nan", "nan", "nan", 100.0)]))
    assert log["training.nan_loss_epoch"] == 2
    assert math.isnan(log["training.epochs"][2]["train_loss"])


def test_a_class_stuck_at_zero(read_text) -> None:
    log = read_text(epochs([(-0.5, -0.4, "np.float32(0.8), np.float32(0.0)", 100.0)] * 25))
    assert log["training.dice_zero_classes"] == [2] and log["training.dice_epochs"] == 25


def test_swing_gap_and_validation_rise(read_text) -> None:
    rows = [(-0.2 - 0.02 * n, -0.3 + (0.03 * (n - 15) if n > 15 else -0.01 * n), f"{0.3 if n % 2 else 0.7}", 100.0)
            for n in range(30)]
    log = read_text(epochs(rows))
    assert log["training.dice_swing"] == pytest.approx(0.4)
    assert log["training.loss_gap"] > 0.5 and log["training.val_loss_rise"] > 0.2


def test_epoch_times_against_their_median(read_text) -> None:
    times = [100.0] * 10 + [450.0, 100.0, 300.0]
    log = read_text(epochs([(-0.5, -0.5, "0.8", t) for t in times]))
    assert log["training.epoch_time_median"] == 100.0 and log["training.slow_epochs"] == [10, 12]
    assert log["training.epoch_time_last"] == 300.0


def test_a_log_that_stops_mid_epoch_without_an_error(read_text) -> None:
    stopped = read_text(epochs([(-0.5, -0.5, "0.8", 100.0)]) + "2025-03-05 10:00:00.000000: Epoch 1 \n", name="a.log")
    assert stopped["training.stopped_mid_epoch"] is True and stopped["training.last_epoch"] == 1
    crashed = read_text(epochs([(-0.5, -0.5, "0.8", 100.0)]) + "2025-03-05 10:00:00.000000: Epoch 1 \n"
                        "RuntimeError: CUDA out of memory.\n", name="b.log")
    assert crashed["training.stopped_mid_epoch"] is False


def test_nnunet_v1_epoch_lines(read_text) -> None:
    log = read_text("2021-03-01 10:00:00.000000: \n"
                    "epoch:  0 \n"
                    "2021-03-01 10:02:00.000000: train loss : -0.1234 \n"
                    "2021-03-01 10:02:10.000000: validation loss: -0.2345 \n"
                    "2021-03-01 10:02:10.000000: Average global foreground Dice: [0.5, 0.6] \n"
                    "2021-03-01 10:02:11.000000: lr: 0.009991 \n"
                    "2021-03-01 10:02:11.000000: This epoch took 130.5 s\n")
    [epoch] = log["training.epochs"]
    assert (epoch["train_loss"], epoch["val_loss"], epoch["dice"], epoch["lr"], epoch["epoch_time"]) == (
        -0.1234, -0.2345, [0.5, 0.6], 0.009991, 130.5)


def test_the_plans_dump_as_the_planner_prints_it_numpy2(read_text) -> None:
    log = read_text("Configuration name: 3d_fullres\n"
                    " {'batch_size': 2, 'patch_size': (np.int64(128), np.int64(128), np.int64(128)), "
                    "'spacing': array([1., 1., 1.]), 'architecture': {'network_class_name': "
                    "'dynamic_network_architectures.architectures.residual_unet.ResidualEncoderUNet'}} \n")
    assert log["training.patch_size"] == [128, 128, 128] and log["training.network"] == "ResidualEncoderUNet"


def test_a_compiled_cuda_training_and_an_old_nnunet_say_so(read_text) -> None:
    log = read_text("2025-03-05 09:07:01.123456: Using torch.compile... \n"
                    "2025-03-05 09:07:01.123456: unpacking dataset... \n")
    assert log["training.compile"] is True and log["training.unpacks_dataset"] is True
