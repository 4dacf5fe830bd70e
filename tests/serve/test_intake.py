"""What the desk receives: upload names kept inside the upload folder, the log's author found in its paths."""
from __future__ import annotations

import gzip
from pathlib import Path, PurePosixPath

import pytest

from nnunet_doctor.intake import IntakeError, people, prepare, safe_relative


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "etc/passwd"),
    ("C:\\Users\\jdoe\\fold_0\\training_log_2025_1_2_03_04_05.txt", "Users/jdoe/fold_0/training_log_2025_1_2_03_04_05.txt"),
    ("/abs/fold_0/debug.json", "abs/fold_0/debug.json"),
    ("..", "upload.log"),
    ("train log (1).txt", "train_log__1_.txt"),
])
def test_an_upload_name_stays_inside_the_upload_folder(name: str, expected: str) -> None:
    assert safe_relative(name) == PurePosixPath(expected)


def test_the_author_of_a_log_is_found_in_its_paths() -> None:
    users, homes = people(['  File "/home/jdoe/venv/lib/python3.11/site-packages/nnunetv2/run.py"',
                           "C:\\Users\\Ana.Lopez\\nnUNet_raw\\Dataset001_X", "/home/user/nnUNet_raw"])
    assert users == {"jdoe", "Ana.Lopez"}
    assert homes == {"/home/jdoe", "C:\\Users\\Ana.Lopez"}


def test_a_truncated_archive_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    whole = gzip.compress(b"line one\nRuntimeError: CUDA out of memory.\n" * 2000)
    (tmp_path / "train.log.gz").write_bytes(whole[: len(whole) // 2])
    intake = prepare(tmp_path, ["train.log.gz"])
    assert intake.request.logs == ["train.log"] and (tmp_path / "train.log").is_file()
    assert intake.notes[0].startswith("train.log.gz: a damaged archive; only its first ")
    with pytest.raises(IntakeError, match="more than one bundle"):
        bundle = b'{"schema": "nnunet-doctor/bundle", "schema_version": 1, "facts": []}'
        (tmp_path / "a.json").write_bytes(bundle)
        (tmp_path / "b.json").write_bytes(bundle)
        prepare(tmp_path, ["a.json", "b.json"])
