"""Fix macros speak the user's shell: the flagship env.paths_unset fix for a log from each kind of machine.

The log is the bundled example (real nnunetv2 2.8.1 output); the Windows one is the same output with the paths a
Windows install prints. The shell comes from run.shell (a log from Windows settles it), else env.shell.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from nnunet_doctor.engine.facts import Fact, FactBase, Provenance
from nnunet_doctor.engine.sources import Source
from nnunet_doctor.engine.fix_templates import render_fix
from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.testing import diagnose_text

LOG = (Path(__file__).resolve().parents[2] / "examples" / "paths_unset.log").read_text(encoding="utf-8")
WINDOWS_LOG = LOG.replace("/home/user/venvs/nnunet/bin/", "C:\\Users\\user\\venvs\\nnunet\\Scripts\\").replace(
    "/home/user/venvs/nnunet/lib/python3.11/site-packages/", "C:\\Users\\user\\venvs\\nnunet\\Lib\\site-packages\\")


FISH_LOG = "> set -gx nnUNet_n_proc_DA 4\n> nnUNetv2_plan_and_preprocess -d 3\n" + LOG
POWERSHELL_LOG = "PS C:\\Users\\user> nnUNetv2_plan_and_preprocess -d 3\n" + WINDOWS_LOG


@pytest.fixture(scope="module")
def pack():
    return load_rule_pack()


def paths_fix(pack, log: str, shell: str | None = None) -> str:
    diagnosis = diagnose_text(log, {"env.shell": shell} if shell else {}, pack=pack)
    top = diagnosis.causes[0]
    assert top.cause == "env.paths_unset"
    return top.best.fix


@pytest.mark.parametrize(("log", "shell", "now", "kept", "never"), [
    (LOG, None, 'export nnUNet_raw="/path/to/nnUNet_raw"', "echo 'export nnUNet_raw=", "setx"),
    (LOG, "zsh", 'export nnUNet_results="/path/to/nnUNet_results"', ">> ~/.zshrc", "setx"),
    (LOG, "fish", 'set -gx nnUNet_raw "/path/to/nnUNet_raw"', 'set -Ux nnUNet_raw "/path/to/nnUNet_raw"', "export"),
    (WINDOWS_LOG, None, "set nnUNet_raw=C:\\path\\to\\nnUNet_raw", 'setx nnUNet_raw "C:\\path\\to\\nnUNet_raw"', "export"),
    (WINDOWS_LOG, "powershell", '$env:nnUNet_raw = "C:\\path\\to\\nnUNet_raw"',
     '[Environment]::SetEnvironmentVariable("nnUNet_raw", "C:\\path\\to\\nnUNet_raw", "User")', "export"),
    (FISH_LOG, "bash", 'set -gx nnUNet_raw "/path/to/nnUNet_raw"', "set -Ux nnUNet_raw", "export"),
    (POWERSHELL_LOG, None, '$env:nnUNet_raw = "C:\\path\\to\\nnUNet_raw"', "[Environment]::SetEnvironmentVariable", "setx"),
], ids=["bash", "zsh", "fish", "windows-cmd", "powershell", "fish-log", "powershell-log"])
def test_the_paths_fix_in_each_shell(pack, log: str, shell: str | None, now: str, kept: str, never: str) -> None:
    fix = paths_fix(pack, log, shell)
    assert now in fix and kept in fix
    assert never not in fix


def test_the_dataset_macro_names_the_run_or_a_placeholder() -> None:
    facts = FactBase()
    assert render_fix("nnUNetv2_train {{ dataset_id() }} 3d_fullres 0", facts) == "nnUNetv2_train DATASET_ID 3d_fullres 0"
    facts.add(Fact("run.dataset_id", 4, Provenance(Source.probe("rules"))))
    facts.add(Fact("env.shell", "cmd", Provenance(Source.probe("environment"))))
    assert render_fix("nnUNetv2_train {{ dataset_id() }} 3d_fullres 0 && {{ set_var('nnUNet_n_proc_DA', 4) }}",
                      facts) == "nnUNetv2_train 4 3d_fullres 0 && set nnUNet_n_proc_DA=4"


def test_a_fix_naming_the_dataset_renders_after_the_rule_that_derives_it(pack) -> None:
    diagnosis = diagnose_text("", {"dataset.name": "Dataset003_Liver", "dataset.id": 3, "dataset.case_count": 3,
                                   "preprocessed.splits": {"present": False}}, pack=pack)
    assert "nnUNetv2_train 3 3d_fullres all" in diagnosis.causes[0].best.fix
