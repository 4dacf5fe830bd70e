"""A log-only diagnosis never imports torch, SimpleITK, nibabel or nnunetv2's modules."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "paths_unset.log"

SCRIPT = f"""
import json, sys
from click.testing import CliRunner
from nnunet_doctor.cli import main
result = CliRunner().invoke(main, ["--log", {str(EXAMPLE)!r}, "--offline", "--format", "json"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "SimpleITK", "nibabel", "nnunetv2", "numpy"))
print(json.dumps({{"exit": result.exit_code, "heavy": heavy}}))
"""


def test_log_only_diagnosis_imports_nothing_heavy() -> None:
    completed = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome == {"exit": 1, "heavy": []}
