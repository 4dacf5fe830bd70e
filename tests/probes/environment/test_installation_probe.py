"""The installation probe on this environment, on console scripts of other environments, and on a second nnunetv2.

Requirements the installed packages do not meet, a shadowing install and user-added trainer files cannot be
made in this virtual environment without changing it; those tests build a small stand-in distribution
(real ``.dist-info`` metadata and package files) in ``tmp_path`` and run the probe in a subprocess with it on
``PYTHONPATH``, the way a second installation is found in real life.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

from nnunet_doctor.probes.installation import InstallationProbe, console_scripts, shebang_interpreter

VENV_BIN = Path(sys.executable).parent
PROBE = """
import json, os
from nnunet_doctor.bundle import fact_entry
from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.probes.base import FactSink, ProbeContext
from nnunet_doctor.probes.installation import InstallationProbe
pack = load_rule_pack()
sink = FactSink(pack.vocabulary, "installation")
InstallationProbe().collect(ProbeContext(vocabulary=pack.vocabulary, environ=dict(os.environ)), sink)
print(json.dumps({"facts": {f.name: fact_entry(f).get("value") for f in sink.facts}, "notes": sink.notes,
                  "problems": sink.problems}))
"""


def _probe_in_subprocess(cwd: Path, **environ: str) -> dict:
    completed = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env={**os.environ, **environ},
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout)
    assert outcome["problems"] == []
    return outcome


def _fields(records: list) -> list[dict]:
    return [record["fields"] for record in records]


def test_this_environment(run_probe) -> None:
    run = run_probe(InstallationProbe, {"PATH": str(VENV_BIN)})
    assert run["nnunet.version"] == importlib.metadata.version("nnunetv2") and run["nnunet.generation"] == "v2"
    assert run["torch.version"] == importlib.metadata.version("torch")
    assert run["python.executable"] == sys.executable and run["python.in_venv"] is True
    packages = {p["name"]: p for p in run["install.packages"]}
    torch = packages["torch"]
    assert torch["requirement"] == "!=2.9.*,>=2.1.2" and torch["satisfied"] is True  # nnunetv2 2.8.1's own metadata
    assert all(p["satisfied"] for p in packages.values() if "requirement" in p), "this venv is consistent"
    assert packages["nnunet"]["installed"] is False and packages["nnunetv2"]["installed"] is True
    [install] = run["install.nnunet_installs"]
    assert install["kind"] == "distribution" and install["imported"] is True and install["version"] == "2.8.1"
    scripts = {s["name"]: s for s in run["install.console_scripts"]}
    assert scripts["nnUNetv2_train"]["same_interpreter"] is True
    assert run["install.custom_trainers"] == []


def test_console_scripts_of_another_environment(tmp_path: Path) -> None:
    """A stand-in nnUNetv2_train of another environment first on PATH, once with pip's long-path shebang."""
    bin_dir = tmp_path / "other env" / "bin"
    bin_dir.mkdir(parents=True)
    train = bin_dir / "nnUNetv2_train"
    train.write_text("#!/usr/bin/python3\nimport sys\n")
    predict = bin_dir / "nnUNetv2_predict"
    predict.write_text(f"#!/bin/sh\n'''exec' '{bin_dir}/python' \"$0\" \"$@\"\n' '''\nimport sys\n")
    for script in (train, predict):
        script.chmod(0o755)
    records = {r["name"]: r for r in console_scripts(os.pathsep.join([str(bin_dir), str(VENV_BIN)]))}
    assert records["nnUNetv2_train"]["interpreter"] == "/usr/bin/python3"
    assert records["nnUNetv2_predict"]["interpreter"] == f"{bin_dir}/python"
    assert records["nnUNetv2_train"]["same_interpreter"] is False
    assert records["nnUNetv2_predict"]["same_interpreter"] is False
    assert records["nnUNetv2_plan_and_preprocess"]["same_interpreter"] is True  # found further on PATH, in this venv
    assert shebang_interpreter(VENV_BIN / "nnUNetv2_train") is not None


def _stand_in_nnunet(site: Path, requires: list[str], files: dict[str, str], recorded: list[str]) -> None:
    """A stand-in nnunetv2 distribution: package files plus a dist-info whose RECORD lists ``recorded``."""
    for relative, text in files.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text)
    dist_info = site / "nnunetv2-2.8.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: nnunetv2\nVersion: 2.8.1\n"
                                        + "".join(f"Requires-Dist: {r}\n" for r in requires))
    (dist_info / "RECORD").write_text("".join(f"{name},,\n" for name in recorded + ["nnunetv2-2.8.1.dist-info/METADATA"]))


def test_unmet_requirements_a_second_install_and_user_trainers(tmp_path: Path) -> None:
    site = tmp_path / "site"
    trainer_dir = "nnunetv2/training/nnUNetTrainer"
    shipped = {"nnunetv2/__init__.py": "", "nnunetv2/training/__init__.py": "", f"{trainer_dir}/__init__.py": "",
               f"{trainer_dir}/nnUNetTrainer.py": "class nnUNetTrainer:\n    pass\n"}
    added = {f"{trainer_dir}/variants/my_trainer.py": "class MyTrainer(nnUNetTrainer):\n    pass\n",
             f"{trainer_dir}/broken_trainer.py": "class Broken(nnUNetTrainer)\n    pass\n"}
    from importlib.metadata import version

    excluded = "!=" + ".".join(version("torch").split(".")[:2]) + ".*,>=2.1.2"  # the installed torch, excluded
    _stand_in_nnunet(site, [f"torch{excluded}", "numpy<1", 'numpy<2; extra == "intel-macos"'], {**shipped, **added},
                     list(shipped))
    ext = tmp_path / "ext"
    ext.mkdir()
    (ext / "ext_trainer.py").write_text("class ExtTrainer:\n    pass\n")
    facts = _probe_in_subprocess(tmp_path, PYTHONPATH=str(site), nnUNet_extTrainer=str(ext))["facts"]
    packages = {p["name"]: p for p in _fields(facts["install.packages"])}
    assert (packages["torch"]["requirement"], packages["torch"]["satisfied"]) == (excluded, False)
    assert (packages["numpy"]["requirement"], packages["numpy"]["satisfied"]) == ("<1", False)  # the extra is ignored
    installs = _fields(facts["install.nnunet_installs"])
    assert [(i["location"], i["imported"]) for i in installs][0] == (str(site), True)
    assert len(installs) == 2  # the stand-in on PYTHONPATH shadows this venv's nnunetv2
    trainers = {(t["class_name"], t["where"], t["syntax_ok"]) for t in _fields(facts["install.custom_trainers"])}
    assert trainers == {("MyTrainer", "package", True), ("Broken", "package", False), ("ExtTrainer", "nnUNet_extTrainer", True)}


def test_a_clone_in_the_current_folder_shadows_the_installed_nnunetv2(tmp_path: Path) -> None:
    """`python -c`/`-m` put the current folder first on sys.path: a nnUNet checkout there wins."""
    (tmp_path / "nnunetv2").mkdir()
    (tmp_path / "nnunetv2" / "__init__.py").write_text("")
    outcome = _probe_in_subprocess(tmp_path)
    installs = _fields(outcome["facts"]["install.nnunet_installs"])
    assert {(i["kind"], i["imported"]) for i in installs} == {("source folder", True), ("distribution", False)}
    # the imported copy is not the distribution whose RECORD lists the shipped files: user trainers cannot be told apart
    assert [note.split(":")[0] for _, note in outcome["notes"]] == ["custom trainers inside nnunetv2 not checked"]
