"""The environment probe on real variables and real folders (missing, relative, a file, read-only, dataset-level).

Where the probe claims something about nnU-Net's behaviour (a value that crashes the import, the dataset
lookup), the claim is checked against the installed nnunetv2 itself, run in a subprocess.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis
from nnunet_doctor.probes.environment import EnvironmentProbe
from nnunet_doctor.testing import fired_rules


def _paths(run) -> dict[str, dict]:
    return {record["variable"]: record for record in run["env.paths"]}


def test_nothing_set(run_probe) -> None:
    run = run_probe(EnvironmentProbe, {"SHELL": "/bin/bash"})
    assert run["env.unset_path_variables"] == ["nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"]
    assert run["env.paths"] == [] and run["env.invalid_variables"] == []
    assert run["env.compile_on"] is True
    assert run["env.da_workers"] == min(12, os.cpu_count() or 12)
    assert "env.nnUNet_raw" not in run


def test_missing_relative_file_and_dataset_level_folders(run_probe, tmp_path: Path, monkeypatch) -> None:
    dataset = tmp_path / "nnUNet_raw" / "Dataset003_Liver"
    (dataset / "imagesTr").mkdir(parents=True)
    (tmp_path / "results.txt").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    run = run_probe(EnvironmentProbe, {"nnUNet_raw": str(dataset), "nnUNet_preprocessed": "nnUNet_preprocessed",
                                       "nnUNet_results": str(tmp_path / "results.txt")})
    raw, pre, results = (_paths(run)[v] for v in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"))
    assert raw["looks_like_dataset"] and raw["dataset_parent"] == str(tmp_path / "nnUNet_raw") and raw["found"]
    assert pre["absolute"] is False and pre["found"] is False and pre["writable"] is True
    assert results["found"] is True and results["is_dir"] is False
    assert run["env.unset_path_variables"] == []


def test_a_dataset_marker_inside_the_folder_counts_too(run_probe, tmp_path: Path) -> None:
    (tmp_path / "my_data" / "dataset.json").parent.mkdir()
    (tmp_path / "my_data" / "dataset.json").write_text("{}")
    run = run_probe(EnvironmentProbe, {"nnUNet_raw": str(tmp_path / "my_data")})
    assert _paths(run)["nnUNet_raw"]["dataset_parent"] == str(tmp_path)


def test_a_read_only_results_folder(run_probe, tmp_path: Path, read_only) -> None:
    results = read_only(tmp_path / "nnUNet_results")
    run = run_probe(EnvironmentProbe, {"nnUNet_results": str(results),
                                       "nnUNet_preprocessed": str(tmp_path / "pre")})
    assert _paths(run)["nnUNet_results"]["writable"] is False
    assert _paths(run)["nnUNet_results"]["readable"] is True
    assert _paths(run)["nnUNet_preprocessed"]["writable"] is True  # missing, but its parent is writable


def test_free_space_is_that_of_the_folders_file_system(run_probe, tmp_path: Path) -> None:
    import shutil

    record = _paths(run_probe(EnvironmentProbe, {"nnUNet_results": str(tmp_path)}))["nnUNet_results"]
    usage = shutil.disk_usage(tmp_path)
    assert record["total_mib"] == round(usage.total / 1024 / 1024, 1)
    assert abs(record["free_mib"] - usage.free / 1024 / 1024) < 512  # other processes write meanwhile


def test_dataset_and_v1_task_folders_are_counted(run_probe, tmp_path: Path) -> None:
    for name in ("Dataset001_Heart", "Dataset002_Brain", "Task004_Hippocampus", "notes"):
        (tmp_path / name).mkdir()
    record = _paths(run_probe(EnvironmentProbe, {"nnUNet_raw": str(tmp_path)}))["nnUNet_raw"]
    assert (record["dataset_folders"], record["task_folders"], record["looks_like_dataset"]) == (2, 1, False)


def test_an_empty_value_is_set_but_empty(run_probe) -> None:
    run = run_probe(EnvironmentProbe, {"nnUNet_raw": ""})
    assert _paths(run)["nnUNet_raw"] == {"variable": "nnUNet_raw", "value": "", "empty": True, "absolute": False}
    assert "nnUNet_raw" not in run["env.unset_path_variables"]


SETTINGS = {"nnUNet_n_proc_DA": "abc", "nnUNet_def_n_proc": "", "nnUNet_npp": "", "nnUNet_nps": "x",
            "nnUNet_wandb_enabled": "yes"}


def test_values_nnunet_cannot_parse(run_probe) -> None:
    run = run_probe(EnvironmentProbe, SETTINGS)
    invalid = {record["name"]: record["crashes_at_import"] for record in run["env.invalid_variables"]}
    assert invalid == {"nnUNet_n_proc_DA": True, "nnUNet_def_n_proc": True, "nnUNet_nps": False,
                       "nnUNet_wandb_enabled": False}
    assert "env.da_workers" not in run  # nnU-Net itself could not compute it


@pytest.mark.parametrize(("name", "value", "crashes"), [("nnUNet_n_proc_DA", "abc", True), ("nnUNet_def_n_proc", "", True),
                                                        ("nnUNet_npp", "", False), ("nnUNet_n_proc_DA", "4", False)])
def test_the_crash_claim_is_what_nnunet_really_does(run_probe, name: str, value: str, crashes: bool) -> None:
    run = run_probe(EnvironmentProbe, {name: value})
    claimed = any(r["crashes_at_import"] for r in run["env.invalid_variables"] if r["name"] == name)
    environ = {key: val for key, val in os.environ.items() if not key.startswith("nnUNet_")} | {name: value}
    real = subprocess.run([sys.executable, "-c", "import nnunetv2.configuration"], env=environ, capture_output=True,
                          text=True, timeout=120)
    assert claimed is crashes
    assert (real.returncode != 0) is crashes, real.stderr[-500:]
    if crashes:
        assert "ValueError: invalid literal for int() with base 10" in real.stderr


@pytest.mark.parametrize(("value", "on"), [(None, True), ("f", False), ("0", False), ("TRUE", True), ("t", True), ("no", False)])
def test_compile_follows_nnunets_own_parsing(run_probe, value: str | None, on: bool) -> None:
    assert run_probe(EnvironmentProbe, {} if value is None else {"nnUNet_compile": value})["env.compile_on"] is on


def test_ext_trainer_folders(run_probe, tmp_path: Path) -> None:
    (tmp_path / "trainers").mkdir()
    value = os.pathsep.join([str(tmp_path / "trainers"), str(tmp_path / "gone"), ""])
    run = run_probe(EnvironmentProbe, {"nnUNet_extTrainer": value})
    assert run["env.ext_trainer_folders"] == [{"path": str(tmp_path / "trainers"), "found": True},
                                              {"path": str(tmp_path / "gone"), "found": False}]


def test_variables_outside_the_allow_list_are_never_read(run_probe) -> None:
    run = run_probe(EnvironmentProbe, {"HF_TOKEN": "hf_secret_value_123456", "nnUNet_raw": "/x", "SHELL": "/bin/bash"})
    assert all("hf_secret" not in repr(fact.value) for fact in run.facts.values())


def test_the_shell_falls_back_to_SHELL_when_the_parent_is_not_a_shell() -> None:
    # the parent of this subprocess is pytest (python), not a shell
    code = "import os; from nnunet_doctor.probes.environment import detect_shell; print(detect_shell(os.environ))"
    for login_shell, expected in (("/usr/bin/fish", "fish"), ("/bin/zsh", "zsh"), ("/opt/bin/nushell", "None")):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "SHELL": login_shell},
                             capture_output=True, text=True, timeout=60).stdout.strip()
        assert out == expected


def test_the_shell_that_started_diagnose_wins() -> None:
    code = "import os; from nnunet_doctor.probes.environment import detect_shell; print(detect_shell(os.environ))"
    out = subprocess.run(["bash", "-c", f"{sys.executable} -c '{code}'; true"], env={**os.environ, "SHELL": "/usr/bin/fish"},
                         capture_output=True, text=True, timeout=60).stdout.strip()
    assert out == "bash"


def test_variables_kept_in_start_up_files_and_those_only_in_this_shell(run_probe, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "fish").mkdir(parents=True)
    for rc in (".bashrc", ".zshrc", ".profile"):
        (home / rc).write_text('# export nnUNet_results=/old\nexport nnUNet_raw="/data/raw"\n')
    (home / ".config" / "fish" / "config.fish").write_text("set -gx nnUNet_raw /data/raw\n")
    run = run_probe(EnvironmentProbe, {"HOME": str(home), "SHELL": "/bin/bash", "nnUNet_raw": "/data/raw",
                                       "nnUNet_results": "/data/results"})
    assert run["env.persisted_variables"] == ["nnUNet_raw"]
    assert run["env.shell_only_variables"] == ["nnUNet_results"]  # the commented line does not count


def _folders(root: Path, *names: str) -> str:
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / name).mkdir()
    return str(root)


def test_dataset_lookup_finds_what_nnunet_finds(run_probe, tmp_path: Path) -> None:
    environ = {"nnUNet_raw": _folders(tmp_path / "raw", "Dataset003_Liver", "Dataset004_Hippocampus", "Task005_Prostate"),
               "nnUNet_preprocessed": _folders(tmp_path / "pre", "Dataset003_Liver", "Dataset004_Hippo")}
    for requested, names in (("3", ["Dataset003_Liver"]), ("Dataset004", ["Dataset004_Hippo", "Dataset004_Hippocampus"]),
                             ("5", [])):
        lookup = run_probe(EnvironmentProbe, environ, dataset=requested)["env.dataset_lookup"]
        assert lookup["names"] == names
        assert lookup["searched"] == ["nnUNet_preprocessed", "nnUNet_raw"]
    assert run_probe(EnvironmentProbe, environ, dataset="5")["env.dataset_lookup"]["tasks"] == ["Task005_Prostate"]
    code = ("from nnunetv2.utilities.dataset_name_id_conversion import find_candidate_datasets as f; "
            "print(*[sorted(map(str, set(f(i)))) for i in (3, 4, 5)])")
    real = subprocess.run([sys.executable, "-c", code], env={**os.environ, **environ}, capture_output=True, text=True,
                          timeout=120)
    assert real.stdout.strip() == "['Dataset003_Liver'] ['Dataset004_Hippo', 'Dataset004_Hippocampus'] []", real.stderr


def test_a_dataset_given_as_a_path_is_not_looked_up(run_probe, tmp_path: Path) -> None:
    assert "env.dataset_lookup" not in run_probe(EnvironmentProbe, {}, dataset=str(tmp_path))


def test_rules_on_real_folders(tmp_path: Path, read_only) -> None:
    raw = tmp_path / "nnUNet_raw" / "Dataset003_Liver"
    raw.mkdir(parents=True)
    environ = {"nnUNet_raw": str(raw), "nnUNet_preprocessed": str(read_only(tmp_path / "pre")),
               "nnUNet_n_proc_DA": "auto", "SHELL": "/bin/zsh", "HOME": str(tmp_path)}
    result = run_diagnosis(DiagnosisRequest(environ=environ, probes={"environment"}))
    assert {"env.path_wrong.dataset_level", "env.path_not_writable.output", "env.paths_unset.environment",
            "sys.too_many_workers.invalid_count"} <= fired_rules(result.diagnosis)
    fixes = {c.best.rule.id: c.best.fix for c in result.diagnosis.causes}
    assert f'export nnUNet_raw="{tmp_path / "nnUNet_raw"}"' in fixes["env.path_wrong.dataset_level"]
