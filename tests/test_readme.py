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
