"""The README's two commands are what CI runs, verbatim."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"## (Set up and run on the bundled example|Run the tests)\n\n```sh\n(.*?)\n```", text, re.S)
    return [command.strip() for _, command in blocks]


def test_ci_runs_the_readme_commands_verbatim() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in commands:
        assert command in ci


def test_the_bundled_example_exists() -> None:
    example = re.search(r"--log (\S+)", readme_commands()[0])
    assert example is not None and (REPO / example.group(1)).is_file()


def test_the_site_rule_example_loads_and_passes_its_tests(tmp_path) -> None:
    from click.testing import CliRunner

    from nnunet_doctor.cli import main

    text = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"# site_rules/quota.yaml\n(.*?)\n```", text, re.S)
    assert example is not None
    (tmp_path / "quota.yaml").write_text(example.group(1), encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "test", "--rules", str(tmp_path), "site.quota_exceeded.log"])
    assert result.exit_code == 0, result.output
    assert "2/2 rule tests passed over 1 rules" in result.output
    assert len(example.group(1).splitlines()) <= 14  # 15 lines with its file name: a default, a macro, a test of evidence
    assert "defaults:" in example.group(1) and "set_var(" in example.group(1) and "evidence:" in example.group(1)
    lint = CliRunner().invoke(main, ["rules", "check", "--rules", str(tmp_path), "--fail-on", "warning"])
    assert lint.exit_code == 0, lint.output
