"""`diagnose` with no arguments: the environment check of this machine and shell, like `flutter doctor`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from nnunet_doctor.cli import main

VENV_BIN = str(Path(sys.executable).parent)


def _check(env: dict[str, str], *args: str):
    clean = {key: None for key in os.environ if key.startswith("nnUNet_")}
    return CliRunner().invoke(main, list(args), env={**clean, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"],
                                                     **env}, catch_exceptions=False)


def test_a_shell_without_the_path_variables(tmp_path: Path) -> None:
    result = _check({"HOME": str(tmp_path), "SHELL": "/bin/bash"})
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("nnunet-doctor ") and lines[0].endswith("checking this machine and shell for nnU-Net v2")
    assert any(line.startswith("[✓] nnU-Net installation: nnunetv2 2.8.1") for line in lines)
    assert "[✗] nnU-Net paths and settings: nnUNet_raw is not set" in lines
    # no CUDA device here: nnU-Net works, on the CPU, and that will hurt
    assert any(line.startswith("[!] PyTorch and GPU: torch ") for line in lines)
    assert "    ! no CUDA device is usable: nnU-Net can only train on the CPU (-device cpu), tens of times slower" in lines \
        or "    ! this PyTorch is a CPU-only build: nnU-Net can only train on the CPU (-device cpu), tens of times slower" in lines
    assert any(line.startswith("[✓] System: ") for line in lines)
    assert "    ✗ nnU-Net path variables are not set in this shell" in lines
    assert '        export nnUNet_raw="/path/to/nnUNet_raw"' in lines
    assert lines[-2] == "1 problem, 0 warnings found."


def test_a_shell_set_up_right(tmp_path: Path) -> None:
    raw, pre, results = (tmp_path / name for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"))
    (raw / "Dataset001_Heart").mkdir(parents=True)
    pre.mkdir()
    results.mkdir()
    (tmp_path / ".bashrc").write_text("".join(f'export {p.name}="{p}"\n' for p in (raw, pre, results)))
    env = {"HOME": str(tmp_path), "SHELL": "/bin/bash", "nnUNet_raw": str(raw), "nnUNet_preprocessed": str(pre),
           "nnUNet_results": str(results)}
    before = {folder: sorted(folder.rglob("*")) for folder in (raw, pre, results)}
    result = _check(env, "-v")
    assert f"[✓] nnU-Net paths and settings: nnUNet_raw = {raw} (1 dataset, " in result.output
    assert f"    • Python {sys.version.split()[0]} at {sys.executable}" in result.output
    assert f"    ✓ nnUNet_results {results}: a file written, read back and deleted" in result.output
    assert f"    ✓ nnUNet_raw {raw}: listed" in result.output
    assert "    ✓ nnU-Net's trainer lookup (every trainer module, nnUNet_extTrainer included) imports cleanly" in result.output
    assert "✗" not in result.output
    # the check wrote a temporary file at the top of each folder nnU-Net writes to, and removed it
    assert {folder: sorted(folder.rglob("*")) for folder in (raw, pre, results)} == before


def test_every_format_and_a_bundle_replay_give_the_same_checklist(tmp_path: Path) -> None:
    terminal = _check({"HOME": str(tmp_path)}).output
    bundle = tmp_path / "bundle.json"
    assert _check({"HOME": str(tmp_path)}, "collect", "-o", str(bundle)).exit_code == 0
    report = json.loads(_check({}, "--bundle", str(bundle), "--format", "json").output)
    assert report["causes"][0]["cause"] == "env.paths_unset"
    assert {p["name"] for p in report["probes"] if p["status"] == "ran"} == {"environment", "installation", "system", "gpu",
                                                                             "functional"}
    assert report["machine"]["bundle"] is True
    marks = [(area["mark"], area["title"]) for area in report["machine"]["areas"]]
    assert marks[1] == ("✗", "nnU-Net paths and settings")
    replayed = _check({}, "--bundle", str(bundle)).output
    markdown = _check({}, "--bundle", str(bundle), "--format", "markdown").output
    html = _check({}, "--bundle", str(bundle), "--format", "html").output
    assert "The machine's checklist (the user's machine, from the bundle):" in replayed
    for mark, title in marks:
        assert any(line.startswith(f"[{mark}] {title}") for line in terminal.splitlines())
        assert any(line.startswith(f"[{mark}] {title}") for line in replayed.splitlines())
        assert f"- [{mark}] **{title}**" in markdown
        assert f'[{mark}]</span> <b>{title}</b>' in html


def test_the_check_itself_imports_nothing_heavy() -> None:
    """torch is imported by the GPU probe's subprocess only, never by diagnose itself."""
    script = ("import json, sys; from click.testing import CliRunner; from nnunet_doctor.cli import main; "
              "result = CliRunner().invoke(main, []); "
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('torch', 'SimpleITK', 'nibabel', 'nnunetv2', 'numpy'))))")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def test_a_check_that_times_out_is_unknown_not_passed(tmp_path: Path) -> None:
    result = _check({"HOME": str(tmp_path), "NNUNET_DOCTOR_GPU_TIMEOUT": "0.3", "NNUNET_DOCTOR_CHECK_TIMEOUT": "0.3"})
    lines = result.output.splitlines()
    assert any(line.startswith("[?] nnU-Net installation: ") for line in lines), lines
    assert any(line.startswith("[?] PyTorch and GPU") for line in lines), lines
    assert any("the functional checks timed out after 0.3 s while " in line for line in lines), lines
