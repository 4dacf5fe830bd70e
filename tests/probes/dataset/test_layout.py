"""The naming grammar, held against nnU-Net's own identifier and file-list helpers."""
from __future__ import annotations

from pathlib import Path

from nnunet_doctor.probes.dataset.layout import guess_file_ending, read_layout


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def issues(layout) -> list[tuple[str, str, str]]:
    return sorted((issue.file, issue.kind, issue.case) for issue in layout.issues)


def test_case_count_is_what_nnunet_counts(tmp_path: Path) -> None:
    from nnunetv2.utilities.utils import get_identifiers_from_splitted_dataset_folder

    touch(tmp_path, "imagesTr/la_003_0000.nii.gz", "imagesTr/la_003_0001.nii.gz", "imagesTr/la_004.nii.gz",
          "imagesTr/._la_005_0000.nii.gz", "imagesTr/notes.txt", "labelsTr/la_003.nii.gz")
    layout = read_layout(tmp_path, ".nii.gz", 2)
    nnunet = get_identifiers_from_splitted_dataset_folder(str(tmp_path / "imagesTr"), ".nii.gz")
    assert layout.nnunet_case_count == len(nnunet) == 3
    assert [case.id for case in layout.cases] == ["la_003"]
    assert issues(layout) == [("._la_005_0000.nii.gz", "hidden", "._la_005"), ("la_004.nii.gz", "no_channel_suffix", "l"),
                              ("notes.txt", "other_ending", "")]


def test_channel_files_follow_nnunets_channel_pattern(tmp_path: Path) -> None:
    from nnunetv2.utilities.utils import create_paths_fn

    names = ["c_1_0000.nii.gz", "c_1_0002.nii.gz", "c_1_0003.nii.gz", "c_12_0000.nii.gz"]
    touch(tmp_path, *[f"imagesTr/{n}" for n in names], "labelsTr/c_1.nii.gz", "labelsTr/c_12.nii.gz")
    case = read_layout(tmp_path, ".nii.gz", 3).cases[0]
    nnunet = create_paths_fn(str(tmp_path / "imagesTr"), names, ".nii.gz", "c_1")
    assert [Path(p).name for p in nnunet] == ["c_1_0000.nii.gz", "c_1_0002.nii.gz", "c_1_0003.nii.gz"]
    assert case.images == ["imagesTr/c_1_0000.nii.gz", "imagesTr/c_1_0002.nii.gz"]
    assert case.missing_channels == ["c_1_0001.nii.gz"] and case.extra_channels == ["c_1_0003.nii.gz"]


def test_an_image_named_like_its_label_is_an_image_without_suffix(tmp_path: Path) -> None:
    touch(tmp_path, "imagesTr/case_0001_0000.nii.gz", "imagesTr/case_0000.nii.gz", "imagesTr/case_0002.nii.gz",
          "labelsTr/case_0001.nii.gz", "labelsTr/case_0000.nii.gz", "labelsTr/case_0002.nii.gz")
    layout = read_layout(tmp_path, ".nii.gz", 1)
    assert [case.id for case in layout.cases] == ["case_0001"]
    assert issues(layout) == [("case_0000.nii.gz", "no_channel_suffix", "case"),
                              ("case_0002.nii.gz", "no_channel_suffix", "case")]
    assert layout.issues[0].expected == "case_0000_0000.nii.gz"


def test_labels_without_images_and_labels_named_like_images(tmp_path: Path) -> None:
    touch(tmp_path, "imagesTr/a_0000.nii.gz", "labelsTr/a_0000.nii.gz", "labelsTr/z.nii.gz")
    layout = read_layout(tmp_path, ".nii.gz", 1)
    assert layout.cases[0].label is None
    assert issues(layout) == [("a_0000.nii.gz", "label_named_like_image", "a"), ("z.nii.gz", "label_without_image", "z")]


def test_folders_empty_files_and_misnamed_folders(tmp_path: Path) -> None:
    touch(tmp_path, "ImagesTr/a_0000.nii.gz", "labelsTr/a.nii.gz")
    (tmp_path / "labelsTr" / "b.nii.gz").mkdir()
    (tmp_path / "labelsTr" / "c.nii.gz").write_bytes(b"")
    layout = read_layout(tmp_path, ".nii.gz", 1)
    assert layout.misnamed == ["ImagesTr -> imagesTr"] and layout.nested == []
    assert ("b.nii.gz", "directory", "b") in issues(layout) and ("c.nii.gz", "empty", "") in issues(layout)


def test_a_file_ending_without_dot_still_finds_the_cases(tmp_path: Path) -> None:
    touch(tmp_path, "imagesTr/a_0000.nii.gz", "labelsTr/a.nii.gz")
    layout = read_layout(tmp_path, "nii.gz", 1)
    assert [case.id for case in layout.cases] == ["a"] and layout.cases[0].label == "labelsTr/a.nii.gz"


def test_the_ending_is_guessed_when_dataset_json_does_not_say(tmp_path: Path) -> None:
    touch(tmp_path, "imagesTr/a_0000.nii.gz", "imagesTr/b_0000.nii.gz", "imagesTr/c_0000.nii")
    assert guess_file_ending(tmp_path) == ".nii.gz"


def test_dataset_json_file_lists_are_followed(tmp_path: Path) -> None:
    touch(tmp_path, "data/a_img.nii.gz", "data/a_seg.nii.gz")
    layout = read_layout(tmp_path, ".nii.gz", 1, {"a": {"images": ["data/a_img.nii.gz"], "label": "data/a_seg.nii.gz"},
                                                  "b": {"images": ["data/b_img.nii.gz"], "label": "data/b_seg.nii.gz"}})
    assert layout.file_list and layout.nnunet_case_count == 2
    assert [(c.id, c.images, c.label, c.missing_channels) for c in layout.cases] == [
        ("a", ["data/a_img.nii.gz"], "data/a_seg.nii.gz", []), ("b", [], None, ["data/b_img.nii.gz"])]
