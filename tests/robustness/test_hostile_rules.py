"""Hostile site rule files: each is refused with file:line:col (exit 2) within its bound, never a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LAUGHS = "\n".join([
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *[f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]" for prev, name in zip("abcdef", "bcdefg")],
    "rules: *g"])
CASES = {
    "billion_laughs": (LAUGHS, "the document expands to more than"),
    "mapping_cause": ("rules:\n  - id: site.x.y\n    title: t\n    cause: {x: 1}\n    severity: error\n"
                      "    certainty: 0.5\n    when: 'true'\n    fix: x\n", "'cause' must be a cause id"),
    "endless_condition": ("rules:\n  - id: train.gpu_oom.chain\n    title: t\n    severity: error\n    certainty: 0.5\n"
                          "    fix: x\n    when: \"" + " and ".join(["log.os == 'linux'"] * 5000) + "\"\n",
                          "longer than 4000 characters"),
    "deep_yaml": ("rules: " + "[" * 20000 + "]" * 20000 + "\n", "nesting depth"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_rule_file_is_refused_with_its_place(tmp_path: Path, name: str) -> None:
    text, message = CASES[name]
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "rules", "check", "--rules", str(folder)],
                          capture_output=True, text=True, timeout=120, env={"NNUNET_DOCTOR_CACHE": "off",
                                                                           "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert f"{folder / name}.yaml:" in done.stderr and message in done.stderr
