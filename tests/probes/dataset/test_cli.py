"""`diagnose --dataset/--results` through the real command line (click's CliRunner) and a real subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from dataset_support import Roots
from dataset_faults import label_255
from dataset_synthetic import Spec, write_dataset

from nnunet_doctor.cli import main
from nnunet_doctor.probes.dataset.cache import CaseCache

DIAGNOSE = Path(sys.executable).parent / "diagnose"


def run(roots: Roots, *args: str):
    return CliRunner().invoke(main, list(args), env=roots.environ, catch_exceptions=False)


def test_a_clean_dataset_exits_zero(roots: Roots) -> None:
    write_dataset(roots.raw)
    result = run(roots, "--dataset", "1", "--offline")
    assert result.exit_code == 0, result.output
    assert "no problem found" in result.output


def test_a_fault_is_reported_with_the_case_and_exits_one(roots: Roots) -> None:
    label_255(write_dataset(roots.raw), roots.raw)
    result = run(roots, "--dataset", "Dataset001_Synth", "--offline", "--jobs", "2")
    assert result.exit_code == 1
    assert "data.labels_unexpected" in result.output and "labelsTr/case_0003.nii.gz: found 0, 1, 255" in result.output


def test_quick_reads_no_voxels(roots: Roots) -> None:
    label_255(write_dataset(roots.raw), roots.raw)
    result = run(roots, "--dataset", str(roots.raw / "Dataset001_Synth"), "--offline", "--quick", "--format", "json")
    report = json.loads(result.output)
    assert report["summary"]["found"] is False
    assert [p["status"] for p in report["probes"] if p["name"] == "dataset"] == ["ran"]


def test_an_unknown_id_is_a_cause_not_a_crash(roots: Roots) -> None:
    write_dataset(roots.raw)
    result = run(roots, "--dataset", "42", "--offline")
    assert result.exit_code == 1 and "env.dataset_not_found" in result.output
    assert f"nnUNet_raw={roots.raw}" in result.output


def test_no_cache_and_all_cores_in_a_real_subprocess(roots: Roots) -> None:
    write_dataset(roots.raw, Spec(cases=8))
    done = subprocess.run([str(DIAGNOSE), "--dataset", "1", "--offline", "-j", "0", "--no-cache"],
                          capture_output=True, text=True, env=roots.environ, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    cache = CaseCache.open(roots.raw / "Dataset001_Synth", roots.environ)
    assert cache is not None and not cache.path.exists()


def test_caching_off_for_the_whole_tool_is_off_for_datasets_too(roots: Roots) -> None:
    write_dataset(roots.raw)
    result = CliRunner().invoke(main, ["--dataset", "1", "--offline"], env={**roots.environ, "NNUNET_DOCTOR_CACHE": "off"})
    assert result.exit_code == 0 and CaseCache.open(roots.raw / "Dataset001_Synth", {"NNUNET_DOCTOR_CACHE": "off"}) is None
