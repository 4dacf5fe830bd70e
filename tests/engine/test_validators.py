"""The validators of engine/validators.py: each names the place, says what to do, and can be switched off."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nnunet_doctor.cli import main
from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.engine.validators import validate

LINTED = """\
signatures:
  oom: {anchors: ["out of memory"]}
  never_read: {anchors: ["out of memory"]}
rules:
  - id: train.gpu_oom.site_lint
    title: Says too much
    cause: train.gpu_oom
    phase: data
    severity: error
    certainty: 0.5
    status: stable
    when: match.oom
    fix: |
      export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
      nnUNetv2_train {{ run.dataset_id if run.dataset_id is number else 'DATASET_ID' }} 3d_fullres 0
    tests:
      - {log: "out of memory", expect: fire}
"""


def issues_of(tmp_path: Path, **options: list[str]) -> list[str]:
    (tmp_path / "site.yaml").write_text(LINTED, encoding="utf-8")
    pack = load_rule_pack([tmp_path], builtin=False)
    return [issue.format().replace(str(tmp_path) + "/", "") for issue in validate(pack, **options)]


def test_each_validator_points_at_the_key_and_says_what_to_do(tmp_path: Path) -> None:
    assert issues_of(tmp_path) == [
        "site.yaml:3:3: info: signature 'never_read': anchor 'out of memory' is also an anchor of 'oom' [duplicate_anchor]",
        "site.yaml:3:3: warning: signature 'never_read' is read by no rule [unused_signature]",
        "site.yaml:5:5: warning: rule 'train.gpu_oom.site_lint' has no test where it must quiet [untested]",
        "site.yaml:7:5: info: 'cause: train.gpu_oom' is the id's prefix; leave it out [redundant_key]",
        "site.yaml:8:5: warning: 'phase: data' disagrees with the catalog: train.gpu_oom is a training cause "
        "(the catalog's phase is used) [wrong_phase]",
        "site.yaml:11:5: info: 'status: stable' is the default; leave it out [redundant_key]",
        "site.yaml:13:5: warning: the fix sets PYTORCH_CUDA_ALLOC_CONF in bash only: write "
        "{{ set_var('PYTORCH_CUDA_ALLOC_CONF', value) }} (and persist_var to keep it) [bare_export]",
        "site.yaml:13:5: info: write {{ dataset_id() }} for the dataset id (a placeholder when unknown) "
        "[dataset_id_expression]",
    ]


def test_validators_can_be_switched_off_or_chosen(tmp_path: Path) -> None:
    assert issues_of(tmp_path, only=["wrong_phase"]) == [
        "site.yaml:8:5: warning: 'phase: data' disagrees with the catalog: train.gpu_oom is a training cause "
        "(the catalog's phase is used) [wrong_phase]"]
    assert not any("[redundant_key]" in issue for issue in issues_of(tmp_path, skip=["redundant_key"]))


def test_rules_check_fails_on_the_chosen_severity_and_speaks_json(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(LINTED, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["rules", "check", "--rules", str(tmp_path), "--skip", "unused_signature"]).exit_code == 0
    failed = runner.invoke(main, ["rules", "check", "--rules", str(tmp_path), "--fail-on", "warning", "--format", "json"])
    report = json.loads(failed.output)
    assert failed.exit_code == 1 and report["ok"] is False
    wrong = next(i for i in report["issues"] if i["validator"] == "wrong_phase")
    assert (Path(wrong["file"]).name, wrong["line"], wrong["column"], wrong["severity"]) == ("site.yaml", 8, 5, "warning")
    unknown = runner.invoke(main, ["rules", "check", "--skip", "no_such_check"])
    assert unknown.exit_code == 2 and "unknown validator no_such_check" in unknown.output


def test_bare_export_is_found_inside_prose_but_not_the_word_export(tmp_path: Path) -> None:
    text = LINTED.replace("export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
                          "Use fewer threads (export OMP_NUM_THREADS=1 first), or setx nnUNet_n_proc_DA 2; export the labels again")
    (tmp_path / "site.yaml").write_text(text, encoding="utf-8")
    issues = [i.message for i in validate(load_rule_pack([tmp_path], builtin=False), only=["bare_export"])]
    assert [m.split(" in bash")[0] for m in issues] == ["the fix sets OMP_NUM_THREADS", "the fix sets nnUNet_n_proc_DA"]
