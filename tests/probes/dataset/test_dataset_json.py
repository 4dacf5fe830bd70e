"""dataset.json checks, held against nnU-Net's own code where nnU-Net has some (LabelManager, readers, normalization)."""
from __future__ import annotations

import json

import pytest

from nnunet_doctor.probes.dataset.dataset_json import (NORMALIZATIONS, READER_ENDINGS, normalization_for,
                                                       parse_dataset_json, readers_for)


def kinds(text: str) -> list[str]:
    return [problem.kind for problem in parse_dataset_json(text).problems]


def valid(**changes: object) -> str:
    content = {"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1}, "numTraining": 4,
               "file_ending": ".nii.gz"}
    content.update(changes)
    return json.dumps({k: v for k, v in content.items() if v is not None}, indent=4)


def test_a_valid_file_has_no_problem() -> None:
    info = parse_dataset_json(valid())
    assert info.problems == [] and info.expected_labels == [0, 1] and info.channel_names == {0: "CT"}


def test_a_syntax_error_gives_line_and_column_and_the_line() -> None:
    text = '{\n    "labels": {"background": 0,},\n    "numTraining": 4\n}'
    problem = parse_dataset_json(text).problems[0]
    assert (problem.kind, problem.line, problem.column) == ("syntax", 2, 32)
    assert problem.found == '"labels": {"background": 0,},'


def test_every_missing_key_is_reported_not_only_the_first() -> None:
    assert kinds(valid(numTraining=None, file_ending=None)) == ["missing_key", "missing_key"]


def test_v1_format_is_recognised() -> None:
    text = json.dumps({"modality": {"0": "MRI"}, "labels": {"0": "background", "1": "tumour"}, "numTraining": 2,
                       "file_ending": ".nii.gz", "training": []})
    info = parse_dataset_json(text)
    assert [(p.kind, p.key) for p in info.problems] == [("missing_key", "channel_names"), ("v1_key", "modality"),
                                                         ("v1_key", "training"), ("v1_labels", "labels")]
    assert json.loads(info.problems[-1].expected) == {"background": 0, "tumour": 1}
    assert info.channel_names == {0: "MRI"}  # nnU-Net falls back to 'modality' for the channel count


@pytest.mark.parametrize("labels, regions_class_order", [
    ({"background": 0, "a": 1, "b": 2}, None),
    ({"bg": 0, "a": 1}, None),
    ({"background": 1, "a": 2}, None),
    ({"background": [0, 1], "a": 2}, None),
    ({"background": 0, "a": 1, "ignore": 3}, None),
    ({"background": 0, "a": 1, "ignore": 2}, None),
    ({"background": 0, "a": 1, "ignore": "2"}, None),
    ({"background": 0, "whole": [1, 2], "core": 2}, None),
    ({"background": 0, "whole": [1, 2], "core": 2}, [1, 2]),
    ({"background": 0, "whole": [1, 2], "core": 2}, [1]),
    ({"background": "0", "a": "1"}, None),
])
def test_label_checks_agree_with_nnunets_label_manager(labels: dict, regions_class_order: list | None) -> None:
    from nnunetv2.utilities.label_handling.label_handling import LabelManager

    try:
        LabelManager(labels, regions_class_order)
        nnunet_accepts = True
    except (AssertionError, RuntimeError):
        nnunet_accepts = False
    text = valid(labels=labels, regions_class_order=regions_class_order)
    ours = [k for k in kinds(text) if k not in ("labels_not_consecutive",)]
    assert (ours == []) == nnunet_accepts, ours


def test_consecutive_labels_as_verify_dataset_integrity_demands() -> None:
    assert kinds(valid(labels={"background": 0, "a": 1, "b": 3})) == ["labels_not_consecutive"]
    info = parse_dataset_json(valid(labels={"background": 0, "a": 1, "ignore": 2}))
    assert info.problems == [] and info.expected_labels == [0, 1, 2] and info.ignore_label == 2


def test_the_normalization_table_is_nnunets() -> None:
    from nnunetv2.preprocessing.normalization.map_channel_name_to_normalization import (
        channel_name_to_normalization_mapping)

    assert {k: v.__name__ for k, v in channel_name_to_normalization_mapping.items()} == NORMALIZATIONS


def test_the_reader_table_is_nnunets() -> None:
    from nnunetv2.imageio.reader_writer_registry import LIST_OF_IO_CLASSES

    assert {cls.__name__: tuple(cls.supported_file_endings) for cls in LIST_OF_IO_CLASSES} == READER_ENDINGS
    assert readers_for(".nii") == ["NibabelIO", "NibabelIOWithReorient"] and readers_for(".jpg") == []


def test_file_ending_problems() -> None:
    assert kinds(valid(file_ending="nii.gz")) == ["file_ending_no_dot"]
    assert kinds(valid(file_ending=".jpg")) == ["file_ending_unsupported"]
    assert kinds(valid(file_ending=".jpg", overwrite_image_reader_writer="MyReader")) == []


@pytest.mark.parametrize("name, normalization, flagged", [
    ("CT", "CTNormalization", False), ("ct", "CTNormalization", False), ("CT scan", "ZScoreNormalization", True),
    ("NCCT", "ZScoreNormalization", True), ("T1", "ZScoreNormalization", False), ("noNorm", "NoNormalization", False),
])
def test_channel_names_select_nnunets_normalization(name: str, normalization: str, flagged: bool) -> None:
    from nnunetv2.preprocessing.normalization.map_channel_name_to_normalization import get_normalization_scheme

    assert normalization_for(name) == get_normalization_scheme(name).__name__ == normalization
    assert ("channel_name_normalization" in kinds(valid(channel_names={"0": name}))) == flagged
