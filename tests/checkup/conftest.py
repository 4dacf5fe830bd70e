"""A real nnU-Net workspace, trained once per test session: a generated dataset planned and preprocessed, a 2-epoch
CPU training with a trainer found through nnUNet_extTrainer, and a prediction, all with the nnunetv2 installed
beside this interpreter (what the README's set-up command installs).

Also: a second virtual environment that sees every package of this one but a torchvision built for another torch
(a real wheel, installed with pip), for the checks that must fail there.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

BIN = Path(sys.executable).parent
_LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "make_real_logs.py"

TRAINER_NAME = "nnUNetTrainer_2epochs_tiny"


@pytest.fixture(scope="session")
def generator():
    """The dataset generator of the real-log fixtures (make_dataset, make_test_images)."""
    return _generator()


def _generator():
    """The dataset generator of the real-log fixtures (tests/fixtures/logs/make_real_logs.py)."""
    spec = importlib.util.spec_from_file_location("make_real_logs", _LOGS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    trainer: str = TRAINER_NAME

    @property
    def model(self) -> Path:
        return self.root / "nnUNet_results" / "Dataset001_Tiny" / f"{TRAINER_NAME}__nnUNetPlans__3d_fullres"

    def run(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        started = time.perf_counter()
        completed = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=self.root, env=self.env, capture_output=True,
                                   text=True, timeout=600)
        self.seconds[name] = time.perf_counter() - started
        self.outputs[name] = completed.stdout + completed.stderr
        assert completed.returncode == 0, f"{' '.join(args)} failed:\n{self.outputs[name][-3000:]}"
        return completed


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("nnunet")
    generator = _generator()
    for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results", "trainers", "imagesTs"):
        (root / name).mkdir()
    generator.make_dataset(root / "nnUNet_raw", 1, "Tiny", cases=6)
    generator.make_test_images(root / "imagesTs", range(2))
    (root / "trainers" / "tiny_trainer.py").write_text(generator.tiny_trainer(TRAINER_NAME, 2, 2))  # 2 epochs
    env = {key: value for key, value in os.environ.items() if not key.startswith("nnUNet")}
    env.update({name: str(root / name) for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")},
               nnUNet_extTrainer=str(root / "trainers"), nnUNet_n_proc_DA="1", nnUNet_def_n_proc="1",
               nnUNet_compile="false",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1")
    workspace = Workspace(root, env)
    workspace.run("plan", "nnUNetv2_plan_and_preprocess", "-d", "1", "-c", "3d_fullres", "-np", "1", "-npfp", "1")
    workspace.run("train", "nnUNetv2_train", "1", "3d_fullres", "0", "-tr", TRAINER_NAME, "-device", "cpu")
    workspace.run("predict", "nnUNetv2_predict", "-i", str(root / "imagesTs"), "-o", str(root / "predicted"), "-d", "1",
                  "-c", "3d_fullres", "-f", "0", "-tr", TRAINER_NAME, "-device", "cpu", "-npp", "1", "-nps", "1",
                  "--disable_progress_bar")
    return workspace


def _site_packages(prefix: Path) -> Path:
    return prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


@pytest.fixture(scope="session")
def mismatched_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv that sees this one's packages (a .pth file) except torchvision: a release built for another torch."""
    import torchvision  # noqa: F401  (the version installed here decides which one does not match)
    from importlib.metadata import version

    installed = version("torchvision").split("+")[0]
    other = "0.28.0" if installed != "0.28.0" else "0.29.1"  # built for torch 2.13.0 / 2.14.x
    prefix = tmp_path_factory.mktemp("venv-mismatch")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    site = _site_packages(prefix)
    # processed as a site folder (its own .pth files too: the editable nnunet-doctor), after this venv's own
    (site / "outer.pth").write_text(f"import site; site.addsitedir({str(_site_packages(Path(sys.prefix)))!r})\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(site),
                    f"torchvision=={other}"], check=True, timeout=600)
    yield prefix / "bin" / "python"


#: what `pip install nnunet-doctor` (no extra) installs
LIGHT_DISTRIBUTIONS = ("nnunet-doctor", "PyYAML", "lark", "RapidFuzz", "Jinja2", "MarkupSafe", "click", "google-re2", "msgspec")


@pytest.fixture(scope="session")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the light install only: the installed files of nnunet-doctor and its required distributions,
    linked from this environment (no numpy, nibabel, SimpleITK, torch or nnunetv2)."""
    from importlib import metadata

    prefix = tmp_path_factory.mktemp("venv-light")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    site = _site_packages(prefix)
    installed = [str(_site_packages(Path(sys.prefix)))]  # not a source tree's egg-info on sys.path
    for name in LIGHT_DISTRIBUTIONS:
        distribution = next(iter(metadata.distributions(name=name, path=installed)))
        for top in sorted({Path(str(file)).parts[0] for file in distribution.files or []} - {"..", "__pycache__"}):
            source = Path(str(distribution.locate_file(top)))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return prefix / "bin" / "python"
