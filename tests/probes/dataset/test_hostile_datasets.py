"""Hostile and clumsy datasets: each gives findings, never a crashed probe (which would leave the dataset unknown),
and none is read past its bound (issue: bad input of every kind)."""
from __future__ import annotations

import gzip
import json
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from dataset_support import Roots, ranking, records
from dataset_synthetic import Spec, write_dataset

from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis


def _labels(value: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / "dataset.json"
        path.write_text(path.read_text(encoding="utf-8").replace('"tumour": 2', f'"tumour": {value}'), encoding="utf-8")
    return edit


def _deep_json(folder: Path) -> None:
    (folder / "dataset.json").write_text('{"labels": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")


def _symlink_loop(folder: Path) -> None:
    (folder / "imagesTr" / "case_x_0000.nii.gz").symlink_to(folder / "imagesTr" / "case_x_0000.nii.gz")
    (folder / "labelsTr" / "a.nii.gz").symlink_to(folder / "labelsTr" / "b.nii.gz")
    (folder / "labelsTr" / "b.nii.gz").symlink_to(folder / "labelsTr" / "a.nii.gz")


def _nifti_field(fmt: str, offset: int, value: float) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = next((folder / "imagesTr").iterdir())
        raw = bytearray(gzip.decompress(path.read_bytes()))
        struct.pack_into("<" + fmt, raw, offset, value)
        path.write_bytes(gzip.compress(bytes(raw)))
    return edit


def _fifo_dataset_json(folder: Path) -> None:
    (folder / "dataset.json").unlink()
    os.mkfifo(folder / "dataset.json")


def _fifo_image(folder: Path) -> None:
    os.mkfifo(folder / "imagesTr" / "case_x_0000.nii.gz")
    os.mkfifo(folder / "labelsTr" / "case_x.nii.gz")


def _corrupt_cache(roots: Roots) -> None:
    for path in roots.cache.glob("*.json"):
        path.write_text(json.dumps({"format": 2, "dataset": json.loads(path.read_text(encoding="utf-8"))["dataset"],
                                    "cases": {"train/case_000": {"files": "x", "result": [1]}, "x": 5}}))


HOSTILE: dict[str, Callable[[Path], None]] = {
    "label value 3e9": _labels(3_000_000_000),
    "label value negative": _labels(-3_000_000_000),
    "label value infinite": _labels("Infinity"),
    "label value NaN": _labels("NaN"),
    "label value of 400 digits": _labels("9" * 400),
    "dataset.json nested 100,000 deep": _deep_json,
    "symlink loops in imagesTr and labelsTr": _symlink_loop,
    "vox_offset inf": _nifti_field("f", 108, float("inf")),
    "vox_offset nan": _nifti_field("f", 108, float("nan")),
    "dataset.json a named pipe": _fifo_dataset_json,
    "an image and a label that are named pipes": _fifo_image,
}


def _limited_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_dataset_is_diagnosed_without_a_crashed_probe(roots: Roots, name: str) -> None:
    if "named pipe" in name and not hasattr(os, "mkfifo"):
        pytest.skip("named pipes")
    folder = write_dataset(roots.raw, Spec(cases=2, shape=(8, 8, 6)))
    HOSTILE[name](folder)
    done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--dataset", str(folder), "--offline", "--format",
                           "json"], capture_output=True, text=True, timeout=120, env=roots.environ,
                          preexec_fn=_limited_memory)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["incomplete"] == [] and not [f for f in report["findings"] if "crashed" in f["message"]]
    assert report["summary"]["found"]


def _declares_4_gib(path: Path) -> None:
    """Replace a .nii.gz by a 4 MB one whose header declares 2048 x 2048 x 1025 uint8 voxels (4.004 GiB of zeros),
    consistent with its gzip trailer: gzip members of 64 MiB of zeros (as bgzip writes members), the last one's
    size being the total's modulo 2**32, as a reader checks."""
    header = bytearray(gzip.decompress(path.read_bytes())[:352])
    struct.pack_into("<8h", header, 40, 3, 2048, 2048, 1025, 1, 1, 1, 1)
    struct.pack_into("<2h", header, 70, 2, 8)  # datatype uint8, bitpix 8
    struct.pack_into("<f", header, 108, 352.0)
    member = 64 << 20
    zeros = gzip.compress(bytes(member), 9)
    with path.open("wb") as out:
        out.write(gzip.compress(bytes(header) + bytes(member - 352), 9))
        for _ in range(63):
            out.write(zeros)
        out.write(gzip.compress(bytes((4 << 20) + 352), 9))  # 2**32 + this = 352 + 2048 * 2048 * 1025


def test_a_small_file_that_declares_gibibytes_keeps_its_header_checks_and_skips_its_voxels(roots: Roots) -> None:
    folder = write_dataset(roots.raw, Spec(cases=2, shape=(8, 8, 6)))
    image = sorted((folder / "imagesTr").iterdir())[0]
    _declares_4_gib(image)
    assert image.stat().st_size < 8 << 20
    done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--dataset", str(folder), "--offline", "--format",
                           "json"], capture_output=True, text=True, timeout=120, env=roots.environ,
                          preexec_fn=_limited_memory)  # reading the voxels would need more than this 3 GiB
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    notes = [f["message"] for f in report["findings"] if "not checked" in f["message"]]
    assert notes and f"{image.name} not checked: its header declares 4.0 GiB of voxels" in notes[0], report["findings"]
    diagnosis = roots.diagnose(str(folder))  # in process, from the cache the run above filled
    shapes = [case.get("shape") for case in records(diagnosis, "dataset.cases")]
    assert [2048, 2048, 1025] in shapes, shapes
    assert not [i for i in records(diagnosis, "dataset.file_issues") if i["file"] == image.name]


def test_a_label_value_no_image_holds_is_reported_as_such(roots: Roots) -> None:
    folder = write_dataset(roots.raw, Spec(cases=2, shape=(8, 8, 6)))
    _labels(3_000_000_000)(folder)
    assert "data.labels_noncontiguous" in dict(ranking(roots.diagnose(str(folder))))


def test_a_symlink_loop_is_a_file_nnunet_does_not_see(roots: Roots) -> None:
    folder = write_dataset(roots.raw, Spec(cases=2, shape=(8, 8, 6)))
    _symlink_loop(folder)
    issues = [issue for issue in records(roots.diagnose(str(folder)), "dataset.file_issues")
              if issue["file"] in ("case_x_0000.nii.gz", "a.nii.gz", "b.nii.gz")]
    assert len(issues) == 3 and all("a symbolic link that leads nowhere" in issue["message"] for issue in issues)


def test_a_plain_nifti_named_nii_gz_is_not_flagged(roots: Roots) -> None:
    """SimpleITK (nnU-Net's reader for .nii.gz) reads an uncompressed NIfTI whatever its name says."""
    folder = write_dataset(roots.raw, Spec(cases=5, shape=(8, 8, 6)))
    image = next((folder / "imagesTr").iterdir())
    image.write_bytes(gzip.decompress(image.read_bytes()))
    causes = dict(ranking(roots.diagnose(str(folder))))
    assert "data.missing_file" not in causes


def test_a_corrupt_case_cache_is_measured_again(roots: Roots) -> None:
    folder = write_dataset(roots.raw, Spec(cases=2, shape=(8, 8, 6)))
    first = ranking(roots.diagnose(str(folder)))
    _corrupt_cache(roots)
    assert ranking(roots.diagnose(str(folder))) == first


def test_a_named_pipe_inside_results_is_not_read(roots: Roots, tmp_path: Path) -> None:
    """A FIFO named like a training log under --results used to block the diagnosis for ever."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("named pipes")
    fold = roots.results / "Dataset001_Synth" / "nnUNetTrainer__nnUNetPlans__3d_fullres" / "fold_0"
    fold.mkdir(parents=True)
    os.mkfifo(fold / "training_log_2025_1_1_00_00_00.txt")
    os.mkfifo(fold.parent / "plans.json")
    result = run_diagnosis(DiagnosisRequest(results=fold.parent, offline=True, environ=roots.environ))
    assert all(report.status != "failed" for report in result.probe_reports)


def test_a_case_pickle_is_checked_without_running_it(roots: Roots, tmp_path: Path) -> None:
    """Unpickling runs what the file says: a .pkl in someone's preprocessed folder must never execute."""
    from nnunet_doctor.probes.dataset.preprocessed import _check_file

    marker = tmp_path / "PWNED"
    payload = (b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    (tmp_path / "case_0000.pkl").write_bytes(payload)
    assert _check_file(tmp_path / "case_0000.pkl") is None  # a whole pickle: its opcodes are fine
    assert not marker.exists()
    (tmp_path / "cut.pkl").write_bytes(payload[:-2])
    assert "STOP" in (_check_file(tmp_path / "cut.pkl") or "")
