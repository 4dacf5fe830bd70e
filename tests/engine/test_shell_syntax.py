"""Fix templates set and keep a variable with the words of the user's shell (engine/shell_syntax.py)."""
from __future__ import annotations

import pytest

from nnunet_doctor.engine.facts import Fact, FactBase, Provenance
from nnunet_doctor.engine.sources import Source
from nnunet_doctor.engine.fix_templates import render_fix
from nnunet_doctor.engine.shell_syntax import after_persist, persist_var, set_var


@pytest.mark.parametrize(("shell", "now", "kept"), [
    ("bash", 'export nnUNet_raw="/d/raw"', "echo 'export nnUNet_raw=\"/d/raw\"' >> ~/.bashrc"),
    ("zsh", 'export nnUNet_raw="/d/raw"', "echo 'export nnUNet_raw=\"/d/raw\"' >> ~/.zshrc"),
    ("sh", 'export nnUNet_raw="/d/raw"', "echo 'export nnUNet_raw=\"/d/raw\"' >> ~/.profile"),
    ("fish", 'set -gx nnUNet_raw "/d/raw"', 'set -Ux nnUNet_raw "/d/raw"'),
    ("powershell", '$env:nnUNet_raw = "/d/raw"', '[Environment]::SetEnvironmentVariable("nnUNet_raw", "/d/raw", "User")'),
    ("cmd", "set nnUNet_raw=/d/raw", 'setx nnUNet_raw "/d/raw"'),
    (None, 'export nnUNet_raw="/d/raw"', "echo 'export nnUNet_raw=\"/d/raw\"' >> ~/.bashrc"),
])
def test_each_shell(shell: str | None, now: str, kept: str) -> None:
    assert set_var("nnUNet_raw", "/d/raw", shell) == now
    assert persist_var("nnUNet_raw", "/d/raw", shell) == kept


def test_placeholders_follow_the_platform() -> None:
    assert set_var("nnUNet_results", None, "powershell") == '$env:nnUNet_results = "C:\\path\\to\\nnUNet_results"'
    assert set_var("nnUNet_results") == 'export nnUNet_results="/path/to/nnUNet_results"'
    assert "source ~/.zshrc" in after_persist("zsh") and "new terminal" in after_persist("cmd")


def test_the_filters_in_a_fix_template() -> None:
    facts = FactBase()
    facts.add(Fact("env.shell", "fish", Provenance(Source.probe("environment"))))
    assert render_fix("{{ 'nnUNet_compile' | set_var('f', env.shell) }} / {{ 'x' | set_var('1', env.missing) }}",
                      facts) == 'set -gx nnUNet_compile "f" / export x="1"'
