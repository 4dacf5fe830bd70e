"""Fault injection: tiny real datasets with one fault each; ``diagnose --dataset`` must rank that fault first.

A good share of the faults is also run through nnU-Net's own ``nnUNetv2_plan_and_preprocess
--verify_dataset_integrity`` (a real subprocess), whose output is then fed to the diagnosis with the dataset:
the combined diagnosis must still rank the injected fault first. Every diagnosis must leave the dataset,
preprocessed and results folders byte-for-byte as they were.
"""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dataset_support import Roots, ranking, tree_digest
from dataset_faults import FAULTS, Fault
from dataset_synthetic import Spec, write_dataset

from nnunet_doctor.engine.certainty import FOUND_THRESHOLD

VERIFIED = [fault for fault in FAULTS if fault.verify]
_NNUNET = Path(sys.executable).parent / "nnUNetv2_plan_and_preprocess"


def _inject(roots: Roots, fault: Fault) -> str:
    folder = write_dataset(roots.raw, fault.spec)
    return fault.inject(folder, roots.raw) or "1"


def _assert_ranked_first(diagnosis, fault: Fault) -> None:
    assert diagnosis.causes, f"nothing found for '{fault.name}'"
    top = diagnosis.causes[0]
    assert top.cause == fault.cause, f"'{fault.name}': expected {fault.cause} first, got {ranking(diagnosis)}"
    assert fault.names in top.best.fix, f"'{fault.name}': the fix does not name {fault.names!r}:\n{top.best.fix}"
    crashed = [finding.message for finding in diagnosis.findings if finding.severity == "error"]
    assert not crashed, crashed


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_the_injected_fault_ranks_first(fault: Fault, roots: Roots) -> None:
    query = _inject(roots, fault)
    before = tree_digest(roots.raw, roots.preprocessed, roots.results)
    diagnosis = roots.diagnose(query)
    assert tree_digest(roots.raw, roots.preprocessed, roots.results) == before, "the diagnosis wrote into the data"
    _assert_ranked_first(diagnosis, fault)


@pytest.mark.parametrize("spec", [Spec(), Spec(channels=("T1", "T2"), test_cases=2)], ids=["one channel", "two channels"])
def test_a_clean_dataset_reports_nothing_of_medium_certainty(spec: Spec, roots: Roots) -> None:
    write_dataset(roots.raw, spec)
    diagnosis = roots.diagnose("1")
    assert [c for c in ranking(diagnosis) if c[1] >= FOUND_THRESHOLD] == []
    assert not diagnosis.findings, diagnosis.findings


def _verify(roots: Roots, query: str) -> str:
    """nnU-Net's own dataset check, as a user runs it; its console output."""
    environ = {**os.environ, **roots.environ}
    done = subprocess.run([str(_NNUNET), "-d", query, "--verify_dataset_integrity", "--no_pp", "-npfp", "1"],
                          capture_output=True, text=True, env=environ, timeout=600)
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Roots, str, str]]:
    """Every fault marked ``verify`` plus a clean dataset, each checked by nnU-Net (two at a time)."""
    cases = {fault.name: fault for fault in VERIFIED}
    prepared: dict[str, tuple[Roots, str]] = {}
    for index, name in enumerate(["clean", *cases]):
        roots = Roots(tmp_path_factory.mktemp(f"verify{index}"))
        if name in cases:
            prepared[name] = (roots, _inject(roots, cases[name]))
        else:
            write_dataset(roots.raw)
            prepared[name] = (roots, "1")
    with ThreadPoolExecutor(2) as pool:
        logs = dict(zip(prepared, pool.map(lambda item: _verify(*item), prepared.values())))
    return {name: (roots, query, logs[name]) for name, (roots, query) in prepared.items()}


def test_nnunet_passes_the_clean_dataset_and_so_does_the_diagnosis(verified) -> None:
    roots, query, log = verified["clean"]
    assert "verify_dataset_integrity Done" in log, log[-2000:]
    diagnosis = roots.diagnose(query, log=log)
    assert [c for c in ranking(diagnosis) if c[1] >= FOUND_THRESHOLD] == []


@pytest.mark.parametrize("fault", VERIFIED, ids=[fault.name for fault in VERIFIED])
def test_nnunet_output_with_the_dataset_ranks_the_fault_first(fault: Fault, verified) -> None:
    roots, query, log = verified[fault.name]
    assert "Traceback" in log or "Error" in log or "verify_dataset_integrity Done" in log, log[-2000:]
    _assert_ranked_first(roots.diagnose(query, log=log), fault)


def test_nnunet_misses_nan_in_nifti_but_the_diagnosis_does_not(verified) -> None:
    roots, query, log = verified["NaN voxels in .nii.gz"]
    assert "verify_dataset_integrity Done" in log and "NaN" not in log
    assert roots.diagnose(query, log=log).causes[0].cause == "data.nan_in_image"


def test_every_fault_of_a_dataset_is_found_in_one_run(roots: Roots) -> None:
    by_name = {fault.name: fault for fault in FAULTS}
    folder = write_dataset(roots.raw)
    for name in ("corrupt files", "label value 255", "orientation flipped", "macOS ._ files", "numTraining wrong"):
        by_name[name].inject(folder, roots.raw)
    found = dict(ranking(roots.diagnose("1")))
    for name in ("corrupt files", "label value 255", "orientation flipped", "macOS ._ files", "numTraining wrong"):
        assert found.get(by_name[name].cause, 0) >= FOUND_THRESHOLD, (name, found)


@pytest.mark.parametrize("log", [
    "RuntimeError: CUDA error: device-side assert triggered\nCUDA kernel errors might be asynchronously reported",
    "Traceback (most recent call last):\n  File \"loss.py\", line 3, in forward\nIndexError: Target 255 is out of bounds.",
])
def test_a_crash_log_and_the_dataset_name_the_label_file(log: str, roots: Roots) -> None:
    by_name = {fault.name: fault for fault in FAULTS}
    by_name["label value 255"].inject(write_dataset(roots.raw), roots.raw)
    diagnosis = roots.diagnose("1", log=log)
    top = diagnosis.causes[0]
    assert top.cause == "data.labels_unexpected" and top.certainty > 0.95
    assert any(firing.rule.id == "data.labels_unexpected.log_and_values" for firing in top.supporting)
    assert "labelsTr/case_0003.nii.gz" in top.best.fix and any(e.kind == "log" for e in top.evidence)
