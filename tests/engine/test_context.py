"""A short paste lowers certainties: found, never high, in the order the rules gave."""
from __future__ import annotations

import json

from click.testing import CliRunner
from hypothesis import given, strategies as st

from nnunet_doctor.cli import main
from nnunet_doctor.engine.certainty import HIGH, MEDIUM
from nnunet_doctor.engine.context import SHORT_PASTE_LINES, PasteContext

SHORT = PasteContext(lines=1, frames=0, commands=0, versions=0)
OOM = "RuntimeError: CUDA out of memory. Tried to allocate 1.17 GiB (GPU 0; 11.91 GiB total capacity)\n"


def test_a_paste_is_short_only_without_frames_commands_and_versions() -> None:
    assert SHORT.short and PasteContext(SHORT_PASTE_LINES, 0, 0, 0).short
    assert not PasteContext(SHORT_PASTE_LINES + 1, 0, 0, 0).short
    assert not PasteContext(2, frames=3, commands=0, versions=0).short
    assert not PasteContext(2, frames=0, commands=1, versions=0).short
    assert not PasteContext(2, frames=0, commands=0, versions=1).short
    assert not PasteContext(0, 0, 0, 0).short  # no log at all: nothing to lower


@given(st.floats(0, 1), st.floats(0, 1))
def test_lowering_keeps_the_order_and_the_found_band(a: float, b: float) -> None:
    low_a, low_b = SHORT.lower(a), SHORT.lower(b)
    if a < b:
        assert low_a <= low_b
    assert low_a < HIGH
    assert (low_a > MEDIUM) == (a > MEDIUM)
    if a <= MEDIUM:
        assert low_a == a


def test_a_one_line_oom_is_found_at_medium_and_says_why(tmp_path) -> None:
    log = tmp_path / "one.log"
    log.write_text(OOM, encoding="utf-8")
    result = CliRunner().invoke(main, ["--log", str(log), "--offline", "--format", "json"])
    top = json.loads(result.output)["causes"][0]
    assert (top["cause"], top["band"]) == ("train.gpu_oom", "medium")
    assert top["lowered"].startswith("certainty lowered: the paste is short (1 line")
    text = CliRunner().invoke(main, ["--log", str(log), "--offline", "--width", "200"]).output
    assert "certainty lowered: the paste is short" in text


def test_the_same_message_under_its_command_keeps_its_certainty(tmp_path) -> None:
    log = tmp_path / "full.log"
    log.write_text("$ nnUNetv2_train 1 3d_fullres 0\n" + OOM, encoding="utf-8")
    top = json.loads(CliRunner().invoke(main, ["--log", str(log), "--offline", "--format", "json"]).output)["causes"][0]
    assert top["cause"] == "train.gpu_oom" and top["lowered"] is None and top["band"] == "high"
