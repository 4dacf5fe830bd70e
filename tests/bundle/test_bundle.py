"""diagnose collect on a "user's machine" with planted personal values, then diagnose --bundle on a support machine.

The user's machine is this one with a real environment: a home folder and user name, a host name, a token in
a variable and in the log, an IP address, a dataset and a case file named after a (made-up) patient.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnunet_doctor.bundle import SCHEMA_VERSION, build_bundle
from nnunet_doctor.cli import main
from nnunet_doctor.engine.diagnosis import diagnose
from nnunet_doctor.pipeline import DiagnosisRequest, gather_facts, load_pack, log_sources
from nnunet_doctor.redaction import Redactor, RedactionError, Sensitive

REPO = Path(__file__).resolve().parents[2]
PLANTED = {"user": "zqxsmith", "host": "gpu-node-17.example.org", "token": "hf_Planted0123456789abcdefghijklmnopq",
           "ip": "10.20.30.40", "dataset": "SmithLiver", "patient": "SMITH_JOHN_1970", "term": "St Elsewhere"}


@pytest.fixture
def users_machine(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home" / PLANTED["user"]
    dataset = home / "nnUNet_raw" / f"Dataset003_{PLANTED['dataset']}"
    (dataset / "labelsTr").mkdir(parents=True)
    log = home / "train.log"
    log.write_text(
        "nnUNetv2_train 3 3d_fullres 0\n"
        "Traceback (most recent call last):\n"
        f'  File "{home}/venv/lib/python3.11/site-packages/nnunetv2/run/run_training.py", line 53, in get_trainer_from_args\n'
        f"connecting to {PLANTED['ip']} as {PLANTED['user']} (token {PLANTED['token']}) for {PLANTED['term']}\n"
        f"Error: Unexpected labels found in file {dataset}/labelsTr/{PLANTED['patient']}.nii.gz.\n"
        "RuntimeError: Could not find a dataset with the ID 3. Make sure the requested dataset ID exists and that "
        "nnU-Net knows where raw and preprocessed data are located (see Documentation - Installation). Here are "
        "your currently defined folders:\n"
        "nnUNet_preprocessed=None\n"
        f"nnUNet_results={home}/results\n"
        f"nnUNet_raw={dataset}\n")
    return {"HOME": str(home), "USER": PLANTED["user"], "LOGNAME": PLANTED["user"], "HOSTNAME": PLANTED["host"],
            "HF_TOKEN": PLANTED["token"], "nnUNet_raw": str(dataset), "nnUNet_results": str(home / "results"),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""), "LOG": str(log),
            "SHELL": "/bin/bash"}


def _invoke(*args: str, env: dict[str, str] | None = None):
    clean = {key: None for key in os.environ if key.startswith("nnUNet_")}
    return CliRunner().invoke(main, list(args), env={**clean, **(env or {})}, catch_exceptions=False)


def test_collect_then_diagnose_the_bundle_elsewhere(users_machine: dict[str, str], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    result = _invoke("collect", "-o", str(bundle), "--log", users_machine["LOG"], "--dataset", "3",
                     "--redact-term", PLANTED["term"], env=users_machine)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {bundle}: ")
    text = bundle.read_text(encoding="utf-8")
    for kind, value in PLANTED.items():
        assert value not in text, f"planted {kind} left in the bundle"
    assert "Dataset003_Name1" in text and "labelsTr/case_0001.nii.gz" in text  # nnU-Net's grammar is kept
    document = json.loads(text)
    assert document["schema_version"] == SCHEMA_VERSION and document["rule_pack"]["version"]
    replaced = document["redaction"]["replaced"]
    assert {"user names", "home folders", "IP addresses", "secrets", "terms", "dataset names", "case identifiers"} <= set(replaced)
    [excerpt] = document["log_excerpts"]
    # the lines facts point at (1: the command, 3: the install path in the frame, 6: the RuntimeError, 7-9: the
    # folders) and 3 lines of context before them
    assert [line["line"] for line in excerpt["lines"]] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert {p["name"] for p in document["probes"]} == {"log", "environment", "installation", "system", "gpu", "functional",
                                                         "dataset", "preprocessed", "results"}  # --dataset 3

    # the support machine: none of the user's variables, and a different home
    support = {"HOME": str(tmp_path / "support"), "USER": "helper", "PATH": os.environ.get("PATH", "")}
    again = _invoke("--bundle", str(bundle), "--format", "json", env=support)
    report = json.loads(again.output)
    assert [(c["cause"], c["certainty"]) for c in report["causes"]] == [
        (c["cause"], c["certainty"]) for c in document["diagnosis"]]
    assert {"env.paths_unset", "env.path_wrong"} <= {c["cause"] for c in report["causes"]}
    assert not [f for f in report["findings"] if f["source"] == "bundle"]  # same diagnosis: nothing to flag
    assert report["inputs"]["offline"] is True
    fix = next(c["fix"] for c in report["causes"] if c["rule"] == "env.path_wrong.dataset_level")
    assert 'export nnUNet_raw="/home/user/nnUNet_raw"' in fix


def test_an_unredacted_bundle_keeps_the_values(users_machine: dict[str, str], tmp_path: Path) -> None:
    bundle = tmp_path / "raw.json"
    result = _invoke("collect", "-o", str(bundle), "--no-redact", env=users_machine)
    assert "NOT redacted" in result.output
    assert PLANTED["dataset"] in bundle.read_text(encoding="utf-8")
    assert PLANTED["token"] not in bundle.read_text(encoding="utf-8")  # variables outside the allow-list are never read


def test_the_final_scan_refuses_to_write(users_machine: dict[str, str], tmp_path: Path) -> None:
    """A redactor with a planted defect (it replaces nothing): the scan catches it and nothing is written."""

    class Defective(Redactor):
        def text(self, text: str) -> str:
            self.learn(text)
            return text

    pack = load_pack([])
    request = DiagnosisRequest(logs=[users_machine["LOG"]], environ=users_machine, probes={"log", "environment"})
    gathered = gather_facts(request, pack)
    facts = list(gathered.facts)
    diagnosis = diagnose(pack, gathered.facts, gathered.findings)
    sensitive = Sensitive(users={PLANTED["user"]}, homes={users_machine["HOME"]})
    with pytest.raises(RedactionError, match="redaction left .*user name.*in it"):
        build_bundle(facts, [], [], diagnosis, pack, {}, log_sources(request), Defective(sensitive))
    document = build_bundle(facts, [], [], diagnosis, pack, {}, log_sources(request), Redactor(sensitive))
    assert PLANTED["user"] not in json.dumps(document)


def test_a_newer_bundle_format_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "future.json"
    bundle.write_text(json.dumps({"schema": "nnunet-doctor/bundle", "schema_version": SCHEMA_VERSION + 1}))
    result = _invoke("--bundle", str(bundle))
    assert result.exit_code == 2
    assert "is newer than this nnunet-doctor reads" in result.output


def test_a_fact_this_rule_pack_does_not_know_is_a_finding(tmp_path: Path) -> None:
    bundle = tmp_path / "old.json"
    bundle.write_text(json.dumps({"schema": "nnunet-doctor/bundle", "schema_version": 1, "facts": [
        {"name": "env.unset_path_variables", "value": ["nnUNet_raw"], "provenance": {"source": "environment"}},
        {"name": "env.retired_fact", "value": 1, "provenance": {"source": "environment"}}]}))
    report = json.loads(_invoke("--bundle", str(bundle), "--format", "json").output)
    assert report["causes"][0]["cause"] == "env.paths_unset"
    assert any("env.retired_fact" in f["message"] for f in report["findings"])


def test_redact_any_report(users_machine: dict[str, str]) -> None:
    result = _invoke("--log", users_machine["LOG"], "--offline", "--redact", "--format", "markdown", "-v",
                     env=users_machine)
    assert result.exit_code == 1
    for kind in ("user", "token", "ip", "dataset", "patient"):
        assert PLANTED[kind] not in result.output, kind
    assert "Dataset003_Name1" in result.output


def test_the_format_document_names_the_current_version() -> None:
    text = (REPO / "docs" / "bundle-format.md").read_text(encoding="utf-8")
    assert f'"schema_version": {SCHEMA_VERSION}' in text
