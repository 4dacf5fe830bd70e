"""API drift: import, attribute, call and plans-key errors explained against every release's API."""
from __future__ import annotations

import subprocess
import sys
from hypothesis import given, settings
from hypothesis import strategies as st

from nnunet_doctor.probes.log.api_drift import _PATTERNS, Resolver, _Error

from .conftest import HEALTHY_LOGS


def _drift(log) -> list[dict]:
    return log.get("api.drift", [])


def test_a_single_line_without_frames_names_both_packages_and_the_bounds(read_text) -> None:
    [found] = _drift(read_text("TypeError: resize_segmentation() got an unexpected keyword argument 'cval'\n"))
    assert (found["library"], found["verdict"], found["basis"]) == ("batchgenerators", "dependency_mismatch", "callers")
    assert found["qualified"] == "batchgenerators.augmentations.utils.resize_segmentation"
    assert found["works_with"] == "batchgenerators>=0.18.1,<0.23"
    assert found["caller_releases"] == "nnunet 1.0-1.6.6" and found["alternative"] == "nnunet>=1.7.0"


def test_a_frame_in_an_installed_package_is_a_dependency_mismatch(read_text) -> None:
    [found] = _drift(read_text(
        "Traceback (most recent call last):\n"
        '  File "/opt/conda/lib/python3.10/site-packages/nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py", line 650, in get_training_transforms\n'
        "    SpatialTransform(patch_size, padding_value_seg=-1)\n"
        "TypeError: SpatialTransform.__init__() got an unexpected keyword argument 'padding_value_seg'\n"))
    assert (found["caller"], found["basis"], found["verdict"]) == ("nnunetv2", "frames", "dependency_mismatch")
    assert found["works_with"] == "batchgeneratorsv2>=0.3.2"


def test_the_users_own_trainer_calling_a_changed_api_is_custom_code(read_text) -> None:
    [found] = _drift(read_text(
        "Traceback (most recent call last):\n"
        '  File "/home/u/project/nnunetv2/training/nnUNetTrainer/my_trainer.py", line 12, in __init__\n'
        "    super().__init__(plans, configuration, fold, dataset_json, unpack_dataset, device)\n"
        "TypeError: nnUNetTrainer.__init__() takes from 5 to 6 positional arguments but 7 were given\n"))
    assert (found["verdict"], found["caller"], found["library"]) == ("custom_code", "your code", "nnunetv2")
    assert found["works_with"].startswith("nnunetv2>=2.0,<2.6")


def test_a_torch_signature_change_is_found_from_the_code_on_the_same_line(read_text) -> None:
    [found] = _drift(read_text("super().__init__(optimizer, current_step if current_step is not None else -1, False) "
                               "TypeError: __init__() takes from 2 to 3 positional arguments but 4 were given\n"))
    assert (found["library"], found["works_with"], found["caller"]) == ("torch", "torch<2.7", "nnunetv2")
    assert found["alternative"] == "nnunetv2>=2.6.0" and found["source"].startswith("https://")


def test_numpy_names_come_from_the_change_table(read_text) -> None:
    [found] = _drift(read_text("AttributeError: module 'numpy' has no attribute 'float_'\n"))
    assert (found["library"], found["works_with"], found["basis"]) == ("numpy", "numpy<2.0", "name")
    [stack] = _drift(read_text("TypeError: _vhstack_dispatcher() got an unexpected keyword argument 'dtype'\n"))
    assert stack["works_with"] == "numpy>=1.24" and stack["caller"] == "nnunetv2"


def test_a_traceback_cut_at_an_import_line_is_explained_from_that_line(read_text) -> None:
    [found] = _drift(read_text(
        "Traceback (most recent call last):\n"
        '  File "/x/lib/python3.9/site-packages/nnunetv2/preprocessing/cropping/cropping.py", line 5, in <module>\n'
        "    from acvl_utils.cropping_and_padding.bounding_boxes import get_bbox_from_mask, crop_to_bbox,\n"))
    assert (found["name"], found["library"], found["cut_traceback"]) == ("crop_to_bbox", "acvl_utils", True)
    assert found["verdict"] == "dependency_mismatch" and found["works_with"].startswith("acvl-utils>=")


def test_a_plans_key_only_some_releases_write_means_plans_and_code_differ(read_text) -> None:
    [found] = _drift(read_text(
        '../nnunetv2/utilities/plans_handling/plans_handler.py", line 116, in conv_kernel_sizes\n'
        "return self.configuration['conv_kernel_sizes']\n"
        "KeyError: 'conv_kernel_sizes'\n"))
    assert found["replan"] and found["alternative"] == "nnunetv2>=2.3.1" and found["basis"] == "callers"


def test_a_lone_keyerror_on_a_plans_key_is_read_from_the_keys_name_alone(read_text) -> None:
    # no plans code in sight: a key named like an identifier that the plans code reads and only some releases
    # write is still read as a plans key, on the weaker basis "name"
    [found] = _drift(read_text("KeyError: 'conv_kernel_sizes'\n"))
    assert (found["basis"], found["replan"], found["alternative"]) == ("name", True, "nnunetv2>=2.3.1")
    assert _drift(read_text("KeyError: 'eps'\n")) == []  # a word many dictionaries use
    assert _drift(read_text("KeyError: 'patch_size'\n")) == []  # every release writes it
    assert _drift(read_text("KeyError: 'norm_op_kwargs'\n")) == []  # written by some releases, read by none
    assert _drift(read_text("x = d['conv_kernel_sizes'] KeyError: 'conv_kernel_sizes'\n")) == []  # other code


def test_names_every_release_has_or_none_has_are_not_drift(read_text) -> None:
    assert _drift(read_text("ImportError: cannot import name 'nnUNet_raw' from 'nnunetv2.paths'\n")) == []
    assert _drift(read_text("ImportError: cannot import name 'nnUNetPredictorX' from 'nnunetv2.inference.predict_from_raw_data'\n")) == []
    assert _drift(read_text("TypeError: resize_segmentation() got an unexpected keyword argument 'colour'\n")) == []


def test_a_log_without_such_errors_never_loads_the_index() -> None:
    code = ("import sys; from pathlib import Path; from nnunet_doctor.engine.loader import load_rule_pack;"
            "from nnunet_doctor.probes.base import LogSource, ProbeContext;"
            "from nnunet_doctor.probes.runner import PROBES, run_probes; pack = load_rule_pack();"
            f"p = Path({str(HEALTHY_LOGS / 'train_healthy.log')!r});"
            "run_probes(ProbeContext(vocabulary=pack.vocabulary, signatures=pack.signatures,"
            " logs=[LogSource(str(p), p)], offline=True), PROBES, {'log'});"
            "print('nnunet_doctor.rules.api_index' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"


def test_an_attribute_of_a_subclass_is_looked_up_on_nnunets_class(read_text) -> None:
    [found] = _drift(read_text("AttributeError: 'nnUNetTrainer_custom' object has no attribute 'unpack_dataset'\n"))
    assert (found["verdict"], found["library"]) == ("custom_code", "nnunetv2")
    assert found["works_with"] == "nnunetv2>=2.0,<2.6.0"


def test_a_submodule_of_other_releases_is_named_with_its_releases(read_text) -> None:
    [found] = _drift(read_text("ModuleNotFoundError: No module named 'nnunetv2.training.dataloading.data_loader_3d'\n"))
    assert (found["kind"], found["verdict"], found["basis"]) == ("module", "custom_code", "name")
    assert found["works_with"] == "nnunetv2>=2.0,<2.6.0"


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(_PATTERNS)), name=st.from_regex(r"[A-Za-z_][\w.]{0,30}", fullmatch=True),
       numbers=st.tuples(*[st.integers(0, 12)] * 3), frame=st.sampled_from([None, "/x/site-packages/numpy/a.py",
                                                                          "/home/u/t.py", "<string>"]))
def test_the_resolver_answers_any_error_of_each_kind_without_failing(kind, name, numbers, frame) -> None:
    low, high, given_ = numbers
    groups = {"name": name, "module": name, "owner": name.split(".")[0], "function": name,
              "low": str(low), "high": str(high), "given": str(given_)}
    found = Resolver.default().explain(_Error(kind, groups, 1, "x.log", name, ""), frame)
    assert all(f.verdict in ("dependency_mismatch", "custom_code") for f in found)


_NUMPY_2_NAME = (
    "Traceback (most recent call last):\n"
    '  File "/usr/local/lib/python3.11/site-packages/acvl_utils/cropping_and_padding/bounding_boxes.py", line 5, in <module>\n'
    "    import blosc2\n"
    '  File "/usr/local/lib/python3.11/site-packages/blosc2/__init__.py", line 174, in <module>\n'
    "    isdtype = np.isdtype\n"
    "              ^^^^^^^^^^\n"
    '  File "/usr/local/lib/python3.11/site-packages/numpy/__init__.py", line 333, in __getattr__\n'
    '    raise AttributeError("module {!r} has no attribute "\n')


def test_a_name_numpy_raises_for_in_its_getattr_is_called_by_the_frame_before(read_text) -> None:
    # numpy's module-level __getattr__ raises: the caller is blosc2, not numpy; isdtype is new in numpy 2, so the
    # fix installs numpy 2 (the removed-alias rule's "numpy<1.24" would have made it worse)
    [found] = _drift(read_text(_NUMPY_2_NAME + "AttributeError: module 'numpy' has no attribute 'isdtype'. "
                               "Did you mean: 'dtype'?\n"))
    assert (found["verdict"], found["caller"], found["works_with"]) == ("dependency_mismatch", "blosc2", "numpy>=2.0")


def test_a_traceback_cut_inside_a_modules_getattr_is_explained_from_the_access_before(read_text) -> None:
    [found] = _drift(read_text(_NUMPY_2_NAME))
    assert (found["name"], found["library"], found["cut_traceback"]) == ("isdtype", "numpy", True)
    assert (found["caller"], found["works_with"]) == ("blosc2", "numpy>=2.0")
    # the code before must access the module the frame is in
    assert _drift(read_text(_NUMPY_2_NAME.replace("np.isdtype", "torch.isdtype"))) == []
