"""Fix macros speak the user's shell: the flagship env.paths_unset fix for a log from each kind of machine.

The log is the bundled example (real nnunetv2 2.8.1 output); the Windows one is the same output with the paths a
Windows install prints. The shell comes from run.shell (a log from Windows settles it), else env.shell.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from nnunet_doctor.engine.facts import Fact, FactBase, Provenance, Record
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


@pytest.mark.parametrize(("shell", "expected"), [
    ("bash", 'export nnUNet_results="$HOME/nnUNet_results"'),
    ("fish", 'set -gx nnUNet_results "$HOME/nnUNet_results"'),
    ("cmd", "set nnUNet_results=%USERPROFILE%\\nnUNet_results"),
    ("powershell", '$env:nnUNet_results = "$HOME\\nnUNet_results"'),
])
def test_a_home_folder_is_left_for_the_users_shell_to_expand(shell: str, expected: str) -> None:
    facts = FactBase()
    facts.add(Fact("run.shell", shell, Provenance(Source.probe("log"))))
    assert render_fix("{{ set_var('nnUNet_results', home('nnUNet_results')) }}", facts) == expected
    assert "touch" not in render_fix("{{ set_var('nnUNet_results', home('$(touch x)')) }}", facts)


PAGING_FILE = ('OSError: [WinError 1455] The paging file is too small for this operation to complete. Error loading '
               '"C:\\Users\\user\\venv\\lib\\site-packages\\torch\\lib\\cudnn_adv_infer64_8.dll" or one of its dependencies.')
CUDA_OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 23.65 GiB"


@pytest.mark.parametrize(("log", "rule", "expected", "never"), [
    (PAGING_FILE, "sys.too_many_workers.paging_file", "setx nnUNet_n_proc_DA 2", "export"),
    ("PS C:\\Users\\user> nnUNetv2_train 3 3d_fullres 0\n" + PAGING_FILE, "sys.too_many_workers.paging_file",
     '[Environment]::SetEnvironmentVariable("nnUNet_n_proc_DA", 2, "User")', "setx"),
    ("> set -gx nnUNet_n_proc_DA 4\n> nnUNetv2_train 3 3d_fullres 0\n" + CUDA_OOM, "train.gpu_oom.cuda_message",
     'set -gx PYTORCH_CUDA_ALLOC_CONF "expandable_segments:True"', "export"),
    (CUDA_OOM, "train.gpu_oom.cuda_message", 'export PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True"', "set -gx"),
], ids=["windows-cmd", "powershell", "fish", "bash"])
def test_built_in_fixes_speak_the_shell_of_the_log(pack, log: str, rule: str, expected: str, never: str) -> None:
    fixes = [f.fix for f in diagnose_text(log, pack=pack).chain.firings if f.rule.id == rule]
    assert fixes and expected in fixes[0] and never not in fixes[0], fixes


@pytest.mark.parametrize(("shell", "command"), [
    (None, 'pip install "batchgenerators>=0.18.1,<0.23"'),
    ("fish", 'pip install "batchgenerators>=0.18.1,<0.23"'),
    ("powershell", 'pip install "batchgenerators>=0.18.1,<0.23"'),
    ("cmd", 'pip install "batchgenerators>=0.18.1,<0.23"'),
], ids=["bash", "fish", "powershell", "cmd"])
def test_an_api_drift_fix_quotes_its_pip_requirement_for_the_shell(pack, shell: str | None, command: str) -> None:
    # the requirement's < and > would redirect if unquoted (double quotes: nothing in it expands in any shell);
    # before | q, the command the resolver wrote with its own double quotes was withheld
    diagnosis = diagnose_text("TypeError: resize_segmentation() got an unexpected keyword argument 'cval'\n",
                              {"env.shell": shell} if shell else {}, pack=pack)
    fix = diagnosis.causes[0].best.fix
    assert command in fix and "withheld" not in fix, fix


def test_log_text_shows_backticks_as_quotes_and_prose_keeps_json() -> None:
    facts = FactBase()
    rendered = render_fix("{{ m.text }} | {{ '{\"background\": 0}' | prose }} | {{ '{\"background\": 0}' }}", facts,
                          {"m": Record({"text": "CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"})})
    assert rendered == ("CUBLAS_STATUS_ALLOC_FAILED when calling 'cublasCreate(handle)' | {\"background\": 0} | "
                        "<withheld: it holds shell characters; see the evidence>")
