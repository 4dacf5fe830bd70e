"""How much GPU memory a planned configuration needs, by nnU-Net's own planner model, without torch.

nnU-Net's planner counts the feature-map elements of one sample (``ExperimentPlanner.static_estimate_VRAM_usage``,
experiment_planning/experiment_planners/default_experiment_planner.py:93-111, which instantiates the network with
torch) and sizes patch and batch so that ``estimate * batch / ref_bs`` stays under a reference value calibrated to
a GPU-memory target (:315-378). The same count is computed here from the plans' ``arch_kwargs`` (the tests check
it against nnU-Net's function), and inverting the calibration gives the memory a configuration needs::

    GB = corresp_GB * estimate * batch_size / (reference_value * reference_batch_size)

A configuration planned unchanged lands at or under its planner's target (8 GB by default); a hand-edited
patch or batch size in the plans scales it.

>>> arch = {"features_per_stage": [32, 64, 128, 256, 320, 320], "strides": [[1, 1, 1]] + [[2, 2, 2]] * 5,
...         "n_conv_per_stage": [2] * 6, "n_conv_per_stage_decoder": [2] * 5}
>>> feature_map_size("PlainConvUNet", arch, [128, 128, 128], 3)
452796416
>>> round(required_gb("ExperimentPlanner", "PlainConvUNet", arch, [128, 128, 128], 2, 3), 2)
6.47
"""
from __future__ import annotations

from math import prod
from typing import Any, Mapping, Sequence

from msgspec import Struct


class Calibration(Struct, frozen=True):
    """A planner's reference values (default_experiment_planner.py:53-60; residual_encoder_unet_planners.py)."""

    reference_3d: float
    reference_2d: float
    corresp_gb: float
    target_gb: float
    batch_3d: int = 2
    batch_2d: int = 12


_DEFAULT = Calibration(560_000_000, 85_000_000, 8, 8)
_RESENC_M = Calibration(680_000_000, 135_000_000, 8, 8)
_RESENC_L = Calibration(2_100_000_000, 380_000_000, 24, 24)
_RESENC_XL = Calibration(3_600_000_000, 560_000_000, 40, 40)


def calibration(planner: str | None, network: str) -> Calibration:
    """The calibration of the planner that wrote the plans (by name; else by network class)."""
    name = planner or ""
    if "ResEncXL" in name:
        return _RESENC_XL
    if "ResEncL" in name:
        return _RESENC_L
    if "ResEnc" in name or (not name and network == "ResidualEncoderUNet"):
        return _RESENC_M
    return _DEFAULT


def feature_map_size(network: str, arch: Mapping[str, Any], patch: Sequence[int], num_classes: int) -> int:
    """Feature-map elements of one sample, as ``net.compute_conv_feature_map_size(patch)`` counts them (no deep
    supervision). Raises KeyError/ValueError for an architecture this model does not know."""
    features = list(arch["features_per_stage"])
    strides = [list(s) if isinstance(s, (list, tuple)) else [s] * len(patch) for s in arch["strides"]]
    decoder = list(arch["n_conv_per_stage_decoder"])
    size = list(patch)
    sizes: list[list[int]] = []
    if network == "PlainConvUNet":
        total = 0
        for stage, width in enumerate(features):
            size = [a // b for a, b in zip(size, strides[stage])]
            sizes.append(size)
            total += list(arch["n_conv_per_stage"])[stage] * width * prod(size)
    elif network == "ResidualEncoderUNet":
        total = features[0] * prod(size)  # stem
        channels = features[0]
        for stage, width in enumerate(features):
            new = [a // b for a, b in zip(size, strides[stage])]
            total += 2 * width * prod(new) * list(arch["n_blocks_per_stage"])[stage]
            if channels != width or new != size:
                total += width * prod(new)  # 1x1 projection of the first block's skip
            size, channels = new, width
            sizes.append(new)
    else:
        raise ValueError(f"no memory model for network {network}")
    for stage in range(len(features) - 1):
        skip, width = sizes[-(stage + 2)], features[-(stage + 2)]
        total += decoder[stage] * width * prod(skip) + width * prod(skip)
        if stage == len(features) - 2:
            total += num_classes * prod(skip)
    return int(total)


def required_gb(planner: str | None, network: str, arch: Mapping[str, Any], patch: Sequence[int], batch_size: int,
                num_classes: int) -> float:
    calib = calibration(planner, network)
    three_d = len(patch) == 3
    reference = calib.reference_3d if three_d else calib.reference_2d
    reference_batch = calib.batch_3d if three_d else calib.batch_2d
    return calib.corresp_gb * feature_map_size(network, arch, patch, num_classes) * batch_size / (
        reference * reference_batch)
