"""Shell 'command not found' messages of every shell and language of the table, classified against the CLI index."""
from __future__ import annotations

import json

import pytest

from nnunet_doctor.probes.log.scanner import Line
from nnunet_doctor.probes.log.shell import TABLE, ShellReader, classify
from nnunet_doctor.testing import diagnose_text

ENTRIES = json.loads(TABLE.read_text(encoding="utf-8"))


def read(text: str) -> dict:
    reader = ShellReader()
    reader.on_line(Line(1, text, "t.log", frozenset()))
    assert len(reader.records) == 1, text
    return reader.records[0]


def _message(template: str, command: str) -> str:
    """The message a shell prints, built from the table's template (bash prefixes its name)."""
    filled = template.replace("%d", "1").replace("%s", command, 1).replace("%s", "/home/u/old-venv/bin/python3")
    return f"bash: {filled}" if template.startswith("%s") else filled


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e['shell']}-{e['language']}-{e['template'][:24]}")
def test_every_shell_and_locale(entry: dict) -> None:
    command = "/home/u/venv/bin/nnUNetv2_train" if entry["template"].count("%s") == 2 else "nnUNetv2_train"
    record = read(_message(entry["template"], command))
    assert (record["command"], record["language"]) == (command, entry["language"])
    assert record["kind"] == ("interpreter" if command.startswith("/") else "nnunet")


def test_the_table_holds_the_common_languages_and_shells() -> None:
    languages = {e["language"] for e in ENTRIES}
    assert {"de", "fr", "es", "zh", "ja", "ru", "pt", "it"} <= languages
    assert {"bash", "zsh", "sh", "fish", "cmd", "powershell"} <= {e["shell"] for e in ENTRIES}


def test_classification() -> None:
    assert classify("nnUNet_train")["counterpart"] == "nnUNetv2_train"
    assert classify("nnUNetv2_plan_and_process") == {"kind": "typo", "nearest": "nnUNetv2_plan_and_preprocess"}
    assert classify("nnFormer_train")["kind"] == "fork"
    assert classify("python3")["kind"] == "python"
    assert classify("nvidia-smi")["kind"] == "other"


def test_chinese_fork_message_from_a_real_issue() -> None:
    diagnosis = diagnose_text("nnFormer_plan_and_preprocess：未找到命令")
    assert diagnosis.causes[0].cause == "install.nnunet_not_installed"


def test_v1_command_in_a_v2_log_is_a_mixup() -> None:
    log = "$ nnUNetv2_plan_and_preprocess -d 4\nsh: 1: nnUNet_train: not found"
    assert "install.v1_v2_mixup" in [c.cause for c in diagnose_text(log).causes]


def test_other_programs_stay_quiet() -> None:
    assert diagnose_text("bash: nvidia-smi: Kommando nicht gefunden.").causes == []
