"""``diagnose --log``: files, folders, standard input, and one clear line for an input that cannot be read."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from nnunet_doctor.cli import main

from .conftest import HEALTHY_LOGS


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(main, [*args, "--offline", "--format", "json"], input=input)


def test_standard_input_is_diagnosed_with_line_numbers() -> None:
    result = run("--log", "-", input=b"ok\nRuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["causes"][0]["cause"] == "train.gpu_oom"
    [evidence] = [e for e in report["causes"][0]["evidence"] if e["kind"] == "log"][:1]
    assert (evidence["file"], evidence["line"]) == ("<stdin>", 2)


def test_the_report_says_which_scanning_engine_read_the_log(tmp_path: Path) -> None:
    log = tmp_path / "a.log.gz"
    log.write_bytes(gzip.compress(b"hello\n"))
    report = json.loads(run("--log", str(log)).output)
    [probe] = [p for p in report["probes"] if p["name"] == "log"]
    assert probe["status"] == "ran" and "1 input(s), 1 lines, scanning engine " in probe["detail"]


def test_binary_data_in_a_log_is_a_finding(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_bytes(b"text\n\x00\x01\x02garbage\nmore text\n")
    report = json.loads(run("--log", str(log)).output)
    assert any(f["message"].endswith("mixed.log:2: binary data (NUL bytes), not text; skipped")
               for f in report["findings"])


def test_a_fold_folder_is_a_log(tmp_path: Path) -> None:
    result = run("--log", str(HEALTHY_LOGS / "fold_0"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["summary"]["found"] is False


def test_unreadable_inputs_are_one_line_naming_them_and_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "results"
    empty.mkdir()
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00not gzip")
    for args, message in (
            (["--log", str(tmp_path / "nope.log")], f"diagnose: {tmp_path / 'nope.log'}: no such file or folder"),
            (["--log", str(empty)], f"diagnose: {empty}: folder has no training_log_*.txt or *.log file to read"),
            (["--log", str(broken)], f"diagnose: {broken}: cannot read log"),
            (["--log", "-", "--log", "-"], "diagnose: -: standard input can be read only once")):
        result = CliRunner().invoke(main, [*args, "--offline"], input=b"")
        assert result.exit_code == 2, (args, result.output)
        assert result.output.strip().startswith(message) and len(result.output.strip().splitlines()) == 1
