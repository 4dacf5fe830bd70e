"""Root cause above symptom, and a clean run that reads clean."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from nnunet_doctor.cli import main
from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis

HEALTHY = Path(__file__).resolve().parents[2] / "rules" / "corpus" / "healthy"
PATHS = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")


def _environ(**variables: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("nnUNet")}, "SHELL": "/bin/bash", **variables}


def test_unset_path_variables_rank_above_the_dataset_they_hide(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    for environ in (_environ(HOME=str(tmp_path)), _environ(HOME=str(tmp_path), nnUNet_raw=str(tmp_path / "raw"))):
        result = run_diagnosis(DiagnosisRequest(dataset="3", environ=environ,
                                                probes={"environment", "dataset", "preprocessed", "results"}))
        causes = [(cause.cause, cause.certainty) for cause in result.diagnosis.causes]
        assert causes[0][0] == "env.paths_unset", causes
        unset = [name for name in PATHS if name not in environ]
        for cause in result.diagnosis.causes:  # no fix runs a command on a variable that is not set
            for name in unset:
                assert not re.search(rf'"\${name}\b', cause.best.fix), (cause.cause, cause.best.fix)


def test_a_log_naming_a_dataset_leads_to_its_check(generator: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generator.make_dataset(raw, 7, "Named", cases=6)
    log = "$ nnUNetv2_plan_and_preprocess -d 7 -c 3d_fullres\nFingerprint extraction...\n"
    probes = {"log", "environment", "dataset", "preprocessed", "results"}
    here = run_diagnosis(DiagnosisRequest(log_texts={"plan.log": log}, environ=_environ(nnUNet_raw=str(raw)),
                                          probes=probes))
    messages = [finding.message for finding in here.diagnosis.findings]
    assert any(m.startswith("the log names dataset 7, found from this shell") for m in messages), messages
    assert here.diagnosis.facts.get("dataset.raw_folder").value == str(raw / "Dataset007_Named")
    elsewhere = run_diagnosis(DiagnosisRequest(logs=[], log_texts={"plan.log": log}, environ=_environ(), probes=probes))
    assert "the log names dataset 7, which this shell does not reach: on the machine that holds it run " \
           "`diagnose --dataset 7 --log LOG`" in [finding.message for finding in elsewhere.diagnosis.findings]


def test_a_successful_cpu_training_reads_clean() -> None:
    """nnUNetv2_train ... -device cpu that ran to its end: "no problem found" first, then at most a few notes."""
    log = HEALTHY / "train_healthy.log"
    assert "-device cpu" in log.read_text().splitlines()[0]
    result = CliRunner().invoke(main, ["--log", str(log), "--offline"])
    lines = result.output.splitlines()
    assert lines[0].startswith("✓ Training looks healthy: 4 epochs, finished"), lines  # "is my training OK?" first
    assert lines[1] == f"✓ nnunet-doctor: no problem found in {log}.", lines
    notes = lines[2:lines.index("")]
    assert notes[0] == "Notes (low certainty):" and len(notes) <= 4, lines
    assert result.exit_code == 0


def test_no_fix_lists_a_folder_the_log_shows_as_none() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "paths_unset.log"
    report = CliRunner().invoke(main, ["--log", str(example), "--offline", "--format", "json"]).output
    causes = json.loads(report)["causes"]
    assert [cause["cause"] for cause in causes][:2] == ["env.paths_unset", "env.dataset_not_found"]
    for cause in causes:
        assert not re.search(r'"\$nnUNet_(raw|preprocessed|results)\b', cause["fix"]), cause["fix"]
