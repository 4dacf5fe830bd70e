"""The torch-free memory model equals nnU-Net's static_estimate_VRAM_usage, and inverts the planner's calibration."""
from __future__ import annotations

import pytest

from nnunet_doctor.probes.dataset.vram import calibration, feature_map_size, required_gb

IMPORTS = ["conv_op", "norm_op", "dropout_op", "nonlin"]


def arch(dim: int, stages: int, resenc: bool) -> dict:
    kwargs = {
        "n_stages": stages, "features_per_stage": [min(32 * 2 ** i, 320 if dim == 3 else 512) for i in range(stages)],
        "conv_op": f"torch.nn.modules.conv.Conv{dim}d", "kernel_sizes": [[3] * dim] * stages,
        "strides": [[1] * dim] + [[2] * dim] * (stages - 1), "n_conv_per_stage_decoder": [1 if resenc else 2] * (stages - 1),
        "conv_bias": True, "norm_op": f"torch.nn.modules.instancenorm.InstanceNorm{dim}d",
        "norm_op_kwargs": {"eps": 1e-5, "affine": True}, "dropout_op": None, "dropout_op_kwargs": None,
        "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True}}
    if resenc:
        kwargs["n_blocks_per_stage"] = [1, 3, 4, 6, 6, 6, 6, 6][:stages]
    else:
        kwargs["n_conv_per_stage"] = [2] * stages
    return kwargs


@pytest.mark.parametrize("network, patch, stages", [
    ("PlainConvUNet", [128, 128, 128], 6), ("PlainConvUNet", [80, 192, 160], 6), ("PlainConvUNet", [512, 512], 8),
    ("ResidualEncoderUNet", [128, 128, 128], 6), ("ResidualEncoderUNet", [512, 512], 8),
    ("PlainConvUNet", [20, 28, 24], 3),
])
def test_feature_map_size_equals_nnunets_estimate(network: str, patch: list[int], stages: int) -> None:
    from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner

    kwargs = arch(len(patch), stages, network == "ResidualEncoderUNet")
    reference = ExperimentPlanner.static_estimate_VRAM_usage(
        tuple(patch), 1, 3, f"dynamic_network_architectures.architectures.unet.{network}", kwargs, IMPORTS)
    assert feature_map_size(network, kwargs, patch, 3) == int(reference)


def test_the_planners_own_reference_maps_to_its_target() -> None:
    assert calibration("nnUNetPlannerResEncL", "ResidualEncoderUNet").target_gb == 24
    assert calibration(None, "ResidualEncoderUNet").reference_3d == 680_000_000
    kwargs = arch(3, 6, False)
    size = feature_map_size("PlainConvUNet", kwargs, [128, 128, 128], 3)
    # a configuration exactly at the reference value with the reference batch size needs the reference GB
    assert required_gb("ExperimentPlanner", "PlainConvUNet", kwargs, [128, 128, 128], 2, 3) == pytest.approx(
        8 * size * 2 / (560_000_000 * 2))
    assert required_gb("ExperimentPlanner", "PlainConvUNet", kwargs, [128, 128, 128], 4, 3) == pytest.approx(
        2 * required_gb("ExperimentPlanner", "PlainConvUNet", kwargs, [128, 128, 128], 2, 3))


def test_an_unknown_network_has_no_estimate() -> None:
    with pytest.raises(ValueError):
        feature_map_size("Primus", {"features_per_stage": [32], "strides": [[1, 1, 1]],
                                    "n_conv_per_stage_decoder": []}, [64, 64, 64], 3)
