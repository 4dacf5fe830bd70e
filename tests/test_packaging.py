"""The wheel is the product: it must carry every module, rule file, vocabulary and template."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROLE_FOLDERS = {"doctor": "nnunet_doctor", "engine": "nnunet_doctor/engine", "probes": "nnunet_doctor/probes",
                "rules": "nnunet_doctor/rules", "reports_templates": "nnunet_doctor/reports_templates"}
DATA_SUFFIXES = {".py", ".yaml", ".j2", ".json", ".lark"}


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    [wheel] = out.glob("nnunet_doctor-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_every_source_and_data_file_is_in_the_wheel(wheel_names: set[str]) -> None:
    missing = []
    for folder, installed in ROLE_FOLDERS.items():
        for path in (REPO / folder).rglob("*"):
            shipped = path.suffix in DATA_SUFFIXES or (folder == "rules" and path.is_file())
            if shipped and "__pycache__" not in path.parts:
                name = f"{installed}/{path.relative_to(REPO / folder).as_posix()}"
                if name not in wheel_names:
                    missing.append(name)
    assert missing == [], "add the package or data pattern to pyproject.toml"


def test_no_generic_top_level_package_is_installed(wheel_names: set[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"nnunet_doctor"}


def test_the_console_script_is_declared(wheel_names: set[str]) -> None:
    assert "nnunet_doctor-0.1.0.dist-info/entry_points.txt" in wheel_names
