"""How users paste: a traceback cut after its quoted source line, a message wrapped or truncated by the terminal."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nnunet_doctor.cli import main
from nnunet_doctor.rules.catalog import FUZZY_CUTOFF, HOLE, MessageCatalog, quoted_message

DATASET_MISSING = ("Could not find a dataset with the ID 17. Make sure the requested dataset ID exists and that "
                   "nnU-Net knows where raw and preprocessed data are located")


@pytest.fixture(scope="module")
def catalog() -> MessageCatalog:
    return MessageCatalog.load()


@pytest.mark.parametrize("line, message", [
    ('    raise RuntimeError(f"Could not find a dataset with the ID {dataset_id}. Make sure the requested dataset ID "',
     f"Could not find a dataset with the ID {HOLE}. Make sure the requested dataset ID"),
    ("assert len(files) > 0, 'no files in %s' % folder", f"no files in {HOLE}"),
    ('raise ValueError("a " + str(b) + " c")', f"a {HOLE} c"),
    ("warnings.warn(f'{name} is deprecated')", f"{HOLE} is deprecated"),
    ("nnunet_trainer = get_trainer_from_args(dataset_name_or_id)", None),
    ("RuntimeError: CUDA out of memory.", None),
])
def test_a_quoted_source_line_spells_its_message(line: str, message: str | None) -> None:
    assert quoted_message(line) == message


def test_a_traceback_cut_after_its_raise_line_finds_the_message(catalog: MessageCatalog) -> None:
    found = catalog.find('    raise RuntimeError(f"Could not find a dataset with the ID {dataset_id}. Make sure the '
                         'requested dataset ID "')
    assert found and found[0].entry.file == "nnunetv2/utilities/dataset_name_id_conversion.py"
    assert found[0].entry.text.startswith("Could not find a dataset with the ID")


@pytest.mark.parametrize("cut", [slice(0, 45), slice(-60, None), slice(30, 95)])
def test_a_wrapped_or_truncated_message_still_matches(catalog: MessageCatalog, cut: slice) -> None:
    text = DATASET_MISSING[cut]
    found = catalog.find(text)
    assert found and found[0].score >= FUZZY_CUTOFF and "Could not find a dataset" in found[0].entry.text, text


def test_the_cut_traceback_ranks_the_messages_cause_first() -> None:
    text = ("Traceback (most recent call last):\n"
            '  File "/home/u/env/lib/python3.10/site-packages/nnunetv2/utilities/dataset_name_id_conversion.py", '
            "line 49, in find_candidate_datasets\n"
            '    raise RuntimeError(f"Could not find a dataset with the ID {dataset_id}. Make sure the requested '
            'dataset ID "\n')
    result = CliRunner().invoke(main, ["--log", "-", "--offline", "--format", "json"], input=text)
    report = json.loads(result.output)
    assert report["causes"][0]["cause"] == "env.dataset_not_found"


def test_a_line_of_a_successful_run_stays_below_the_cutoff(catalog: MessageCatalog) -> None:
    """The closest healthy line (bench/catalog_cutoff.py: 81.2) against the message it resembles."""
    line = "WARNING: Not all files in folder_ref were found in folder_predictions. Determining evaluation on the "
    assert not [m for m in catalog.find(line) if m.entry.problem and m.score < 100]
    assert [m for m in catalog.find(line, cutoff=75.0) if m.entry.problem]  # it is near: the cutoff decides


def test_an_unknown_error_inside_a_companion_library_is_a_low_dependency_candidate() -> None:
    text = ("Traceback (most recent call last):\n"
            '  File "/e/lib/python3.10/site-packages/nnunetv2/training/dataloading/nnunet_dataset.py", line 181, in '
            "save_case\n"
            "    blosc2.asarray(np.ascontiguousarray(seg), urlpath=output_filename_truncated + '_seg.b2nd')\n"
            '  File "/e/lib/python3.10/site-packages/blosc2/ndarray.py", line 6033, in asarray\n'
            "    return blosc2_ext.asarray(array, chunks, blocks, **kwargs)\n"
            "RuntimeError: Error while creating the NDArray\n")
    result = CliRunner().invoke(main, ["--log", "-", "--offline", "--format", "json"], input=text)
    report = json.loads(result.output)
    assert result.exit_code == 4 and report["unexplained"]["package"] == "blosc2"
    top = report["causes"][0]
    assert (top["cause"], top["rule"]) == ("install.dependency_mismatch", "catalog.companion_library_error")
    assert top["certainty"] < 0.2 and "pip show nnunetv2 blosc2" in top["fix"]
    own = text.replace("/e/lib/python3.10/site-packages/nnunetv2/", "/home/u/my_project/")  # not called by nnU-Net
    report = json.loads(CliRunner().invoke(main, ["--log", "-", "--offline", "--format", "json"], input=own).output)
    assert "catalog.companion_library_error" not in [c["rule"] for c in report["causes"]]


@pytest.mark.parametrize("start, cause", [
    ("Some workers in the export pool are no longer alive", "sys.ram_exhausted"),
    ("seg from prev stage missing", "train.cascade_missing_stage"),
    ("self.normalization_scheme_per_modality must have as many entries", "data.channel_count_mismatch"),
    (f"Network class {HOLE} not found", "install.dependency_mismatch"),
    ("Failed to open file", "data.file_ending_mismatch"),
    ("You MUST set EITHER conv_op OR dimension", "install.dependency_mismatch"),
])
def test_message_families_of_every_release_are_bound_to_their_cause(catalog: MessageCatalog, start: str,
                                                                      cause: str) -> None:
    """rules/knowledge/catalog_bindings.yaml: every entry of the family, whichever package or release, is bound."""
    from nnunet_doctor.pipeline import load_pack
    from nnunet_doctor.rules.catalog import Binding

    binding = Binding(catalog, load_pack([]))
    family = [entry for entry in catalog if entry.template.startswith(start)]
    assert family and all(cause in binding.causes(entry) for entry in family), start


def test_a_message_truncated_inside_its_first_stretch_of_text_still_matches(catalog: MessageCatalog) -> None:
    # https://github.com/MIC-DKFZ/nnUNet/issues/1602 (the user's paste lost the "A"), cut to 60 % as a terminal cuts it
    found = catalog.find("ssertionError: not all required keys ar")
    assert found and found[0].score >= FUZZY_CUTOFF
    assert found[0].entry.text.startswith("not all required keys are present in dataset.json")


def test_a_flattened_traceback_line_is_read_from_its_last_exception_type() -> None:
    # https://github.com/MIC-DKFZ/nnUNet/issues/1959: the code line and the error on one line (the paste lost its
    # line breaks), the message cut to 60 %
    text = ("assert folder_with_segs_from_prev_stage is not None, \\ AssertionError: The requested configuration is a "
            "cascaded network\n")
    result = CliRunner().invoke(main, ["--log", "-", "--offline", "--format", "json"], input=text)
    assert json.loads(result.output)["causes"][0]["cause"] == "train.cascade_missing_stage"
