"""A log-only diagnosis imports only what it needs: never torch, SimpleITK, nibabel or nnunetv2's modules; with a
compiled rule pack, no YAML or condition parser; and no Jinja for a JSON report of an error no rule explains (the
start-up goal of bench/log_diagnose.py: within twice the import of the libraries themselves)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "paths_unset.log"
WATCHED = ("torch", "SimpleITK", "nibabel", "nnunetv2", "numpy", "jinja2", "yaml", "lark")

SCRIPT = """
import json, sys
from click.testing import CliRunner
from nnunet_doctor.cli import main
runs = []
for log in sys.argv[1:]:
    result = CliRunner().invoke(main, ["--log", log, "--offline", "--format", "json"])
    runs.append({"exit": result.exit_code, "imported": sorted({m.split(".")[0] for m in sys.modules} & set(WATCHED))})
print(json.dumps(runs))
"""


def _imports(*logs: Path, cache: Path) -> list[dict[str, object]]:
    """Diagnose each log in turn in one fresh process: its exit code and the watched packages imported so far."""
    completed = subprocess.run([sys.executable, "-c", f"WATCHED = {WATCHED!r}\n" + SCRIPT, *map(str, logs)],
                               capture_output=True, text=True, timeout=120, env={**os.environ, "NNUNET_DOCTOR_CACHE": str(cache)})
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_log_only_diagnosis_imports_nothing_heavy(tmp_path: Path) -> None:
    first = _imports(EXAMPLE, cache=tmp_path)[0]  # builds the rule pack: YAML and lark, never the heavy ones
    assert first["exit"] == 1 and not {"torch", "SimpleITK", "nibabel", "nnunetv2", "numpy"} & set(first["imported"])
    assert _imports(EXAMPLE, cache=tmp_path) == [{"exit": 1, "imported": ["jinja2"]}]  # the fix of the rule that fired


def test_an_unexplained_error_imports_no_template_engine(tmp_path: Path) -> None:
    paste = tmp_path / "paste.log"
    paste.write_text("AssertionError: image and seg do not have the same shape: (1, 512, 512), (1, 256, 256)\n",
                     encoding="utf-8")
    _imports(paste, cache=tmp_path / "cache")
    explained_after = _imports(paste, EXAMPLE, cache=tmp_path / "cache")
    assert explained_after == [{"exit": 4, "imported": []}, {"exit": 1, "imported": ["jinja2"]}]
