"""Inputs that are not what they claim to be: exit 2 and one clear line, never "no problem found"."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nnunet_doctor.cli import main


def _invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.mark.parametrize("name, args, stdin, message", [
    ("results missing", ["--results", "{tmp}/nope"], None, "{tmp}/nope: no such folder (--results)"),
    ("results not a model", ["--results", "{tmp}"], None, "{tmp}: not an nnU-Net model folder"),
    ("dataset path missing", ["--dataset", "{tmp}/Dataset001_X"], None, "{tmp}/Dataset001_X: no such folder"),
    ("dataset path not a dataset", ["--dataset", "{tmp}"], None, "{tmp}: not an nnU-Net dataset folder"),
    ("empty log", ["--log", "-"], b"", "<stdin>: the log is empty"),
    ("binary log", ["--log", "-"], b"\x7fELF\x02\x01\x01\x00\x00\x00" * 300, "<stdin>: binary data (NUL bytes), not a text log"),
    ("bundle and dataset", ["--bundle", "{tmp}/b.json", "--dataset", "3"], None,
     "--bundle replays the user's machine; --dataset would look at this machine's folders instead"),
])
def test_an_input_that_is_not_what_it_claims(tmp_path: Path, name: str, args: list[str], stdin: bytes | None,
                                             message: str) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    result = _invoke(*[arg.format(tmp=tmp_path) for arg in args], "--offline", input=stdin)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"diagnose: {message.format(tmp=tmp_path)}"), result.output
    assert len(result.output.strip().splitlines()) == 1
