"""The environment probe: nnU-Net's variables in the shell that runs diagnose, and the folders they name.

Only the variables of :data:`ALLOWED_VARIABLES` are read: the values of any other variable are never
collected. Nothing is written anywhere; folders are only listed and checked with ``os.access``.

Sample: in a bash shell with ``nnUNet_raw=/data/nnUNet_raw/Dataset003_Liver``, ``nnUNet_n_proc_DA=abc`` and
nothing else set, it establishes ``env.unset_path_variables = ["nnUNet_preprocessed", "nnUNet_results"]``,
one ``env.paths`` record for nnUNet_raw with ``looks_like_dataset = true`` (it names a dataset folder, not
the parent of the dataset folders), an ``env.invalid_variables`` record for nnUNet_n_proc_DA (nnU-Net's
``int()`` fails at import) and ``env.shell = "bash"`` with ``env.persist_file = "~/.bashrc"``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping

from msgspec import Struct

from .base import FactSink, ProbeContext

PATH_VARIABLES = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")
V1_VARIABLES = ("nnUNet_raw_data_base", "RESULTS_FOLDER")
SETTING_VARIABLES = ("nnUNet_n_proc_DA", "nnUNet_def_n_proc", "nnUNet_compile", "nnUNet_extTrainer", "nnUNet_npp",
                     "nnUNet_nps", "nnUNet_wandb_enabled", "CUDA_VISIBLE_DEVICES", "PYTORCH_CUDA_ALLOC_CONF")
#: the only variables whose values diagnose reads (and may put into a report or a bundle)
ALLOWED_VARIABLES = PATH_VARIABLES + V1_VARIABLES + SETTING_VARIABLES

_MIB = 1024 * 1024
#: nnunetv2/utilities/default_n_proc_DA.py: 12 on every host outside DKFZ's own clusters
_DEFAULT_DA_WORKERS = 12
_DATASET_FOLDER = re.compile(r"^Dataset\d{3}_")
_TASK_FOLDER = re.compile(r"^Task\d{2,3}_")
_DATASET_MARKERS = ("imagesTr", "labelsTr", "dataset.json", "dataset_fingerprint.json", "nnUNetPlans.json",
                    "fold_0", "fold_all", "splits_final.json")
#: how nnU-Net parses each setting, and what a wrong value does (sources: nnunet_v2_facts.md section 1.2)
_SETTINGS: Mapping[str, tuple[str, bool]] = {
    "nnUNet_n_proc_DA": ("an integer (int() in nnunetv2/utilities/default_n_proc_DA.py, at import)", True),
    "nnUNet_def_n_proc": ("an integer (int() in nnunetv2/configuration.py, at import)", True),
    "nnUNet_npp": ("an integer (otherwise nnUNetv2_predict silently uses 3)", False),
    "nnUNet_nps": ("an integer (otherwise nnUNetv2_predict silently uses 3)", False),
    "nnUNet_wandb_enabled": ("0, False, false, 1, True or true (anything else raises in the trainer)", False),
}
_WANDB_VALUES = ("0", "False", "false", "1", "True", "true")
_COMPILE_TRUE = ("true", "1", "t")


class EnvironmentProbe:
    name: ClassVar[str] = "environment"
    needs: ClassVar[str] = "machine"
    description: ClassVar[str] = "reads nnU-Net's environment variables in this shell and checks the folders they name"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        environ = context.environ
        for variable in ALLOWED_VARIABLES:
            if variable in environ:
                sink.add(f"env.{variable}", environ[variable], detail=f"${variable}")
        sink.add("env.unset_path_variables", [v for v in PATH_VARIABLES if v not in environ])
        sink.add("env.paths", [_path_record(v, environ[v]) for v in PATH_VARIABLES if v in environ])
        sink.add("env.invalid_variables", _invalid_settings(environ))
        workers = _da_workers(environ)
        if workers is not None:
            sink.add("env.da_workers", workers, detail="min(nnUNet_n_proc_DA or 12, os.cpu_count())")
        compile_value = environ.get("nnUNet_compile")
        sink.add("env.compile_on", compile_value is None or compile_value.lower() in _COMPILE_TRUE,
                 detail="nnUNetTrainer._do_i_compile")
        if "nnUNet_extTrainer" in environ:
            sink.add("env.ext_trainer_folders", [
                {"path": part, "found": Path(part).is_dir()}
                for part in environ["nnUNet_extTrainer"].split(os.pathsep) if part.strip()])
        _shell_facts(environ, sink)
        if context.dataset:
            lookup = dataset_lookup(context.dataset, environ)
            if lookup is not None:
                sink.add("env.dataset_lookup", lookup, detail="dataset_name_id_conversion.find_candidate_datasets")


def _path_record(variable: str, value: str) -> dict[str, Any]:
    path = Path(value)
    record: dict[str, Any] = {"variable": variable, "value": value, "empty": value == "",
                              "absolute": value != "" and path.is_absolute()}
    if value == "":
        return record
    exists = path.exists()
    record.update(found=exists, is_dir=path.is_dir())
    anchor = path if exists else _nearest_existing(path)
    record["writable"] = anchor is not None and os.access(anchor, os.W_OK | os.X_OK)
    if anchor is not None:
        usage = shutil.disk_usage(anchor)
        record.update(free_mib=round(usage.free / _MIB, 1), total_mib=round(usage.total / _MIB, 1))
    if record["is_dir"]:
        record["readable"] = os.access(path, os.R_OK | os.X_OK)
        children = _child_folders(path)
        if children is not None:
            record["dataset_folders"] = sum(1 for name in children if _DATASET_FOLDER.match(name))
            record["task_folders"] = sum(1 for name in children if _TASK_FOLDER.match(name))
    parent = _dataset_parent(path)
    record["looks_like_dataset"] = parent is not None
    if parent is not None:
        record["dataset_parent"] = str(parent)
    return record


def _nearest_existing(path: Path) -> Path | None:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return None


def _child_folders(path: Path) -> list[str] | None:
    try:
        with os.scandir(path) as entries:
            return [entry.name for entry in entries if entry.is_dir()]
    except OSError:
        return None


def _dataset_parent(path: Path) -> Path | None:
    """The folder holding the dataset folder when ``path`` is a dataset folder or lies inside one, else None."""
    for index, part in enumerate(path.parts):
        if _DATASET_FOLDER.match(part) or _TASK_FOLDER.match(part):
            return Path(*path.parts[:index]) if index else Path(".")
    if path.is_dir() and any((path / marker).exists() for marker in _DATASET_MARKERS):
        return path.parent
    return None


def _invalid_settings(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    invalid = []
    for name, (expected, crashes) in _SETTINGS.items():
        if name not in environ:
            continue
        value = environ[name]
        valid = value in _WANDB_VALUES if name == "nnUNet_wandb_enabled" else _parses_as_int(value, empty_ok=not crashes)
        if not valid:
            invalid.append({"name": name, "value": value, "expected": expected, "crashes_at_import": crashes})
    return invalid


def _parses_as_int(value: str, empty_ok: bool) -> bool:
    if value == "" and empty_ok:  # nnUNet_npp/nps: `os.environ.get(env) or 3`
        return True
    try:
        int(value)
    except ValueError:
        return False
    return True


def _da_workers(environ: Mapping[str, str]) -> int | None:
    if "nnUNet_n_proc_DA" in environ:
        try:
            wanted = int(environ["nnUNet_n_proc_DA"])
        except ValueError:
            return None
    else:
        wanted = _DEFAULT_DA_WORKERS
    cores = os.cpu_count()
    return min(wanted, cores) if cores else wanted


# -- the shell and its start-up files -------------------------------------------------------------------

class _Shell(Struct, frozen=True):
    name: str
    persist_file: str  # relative to the home folder
    startup_files: tuple[str, ...]  # relative to the home folder; glob patterns allowed


_SHELLS: Mapping[str, _Shell] = {
    "bash": _Shell("bash", ".bashrc", (".bashrc", ".bash_profile", ".bash_login", ".profile")),
    "zsh": _Shell("zsh", ".zshrc", (".zshenv", ".zprofile", ".zshrc", ".zlogin")),
    "fish": _Shell("fish", ".config/fish/config.fish",
                   (".config/fish/config.fish", ".config/fish/conf.d/*.fish", ".config/fish/fish_variables")),
    "sh": _Shell("sh", ".profile", (".profile",)),
    "powershell": _Shell("powershell", "", ()),
    "cmd": _Shell("cmd", "", ()),
}
_SHELL_ALIASES = {"bash": "bash", "zsh": "zsh", "fish": "fish", "sh": "sh", "dash": "sh", "ksh": "sh",
                  "pwsh": "powershell", "powershell": "powershell", "cmd": "cmd"}
#: files every login shell of the machine reads, and the Python environment's own activation hooks
_SYSTEM_FILES = ("/etc/environment", "/etc/profile", "/etc/profile.d/*.sh", "/etc/bash.bashrc", "/etc/zsh/zshenv")
_ENV_FILES = ("bin/activate", "etc/conda/activate.d/*.sh", "conda-meta/state")


def detect_shell(environ: Mapping[str, str]) -> str | None:
    """The shell that started diagnose: the parent process when it is a shell, else ``$SHELL``."""
    if os.name == "nt":
        return "cmd" if "PROMPT" in environ else "powershell"
    try:
        parent = Path(f"/proc/{os.getppid()}/comm").read_text(encoding="utf-8").strip().lstrip("-")
    except OSError:
        parent = ""
    for candidate in (parent, os.path.basename(environ.get("SHELL", ""))):
        if candidate in _SHELL_ALIASES:
            return _SHELL_ALIASES[candidate]
    return None


def _shell_facts(environ: Mapping[str, str], sink: FactSink) -> None:
    shell_name = detect_shell(environ)
    if shell_name is None:
        sink.unknown("env.shell", "neither the parent process nor $SHELL names a known shell")
        return
    sink.add("env.shell", shell_name)
    shell = _SHELLS[shell_name]
    home = Path(environ.get("HOME") or Path.home())
    if shell.persist_file:
        sink.add("env.persist_file", f"~/{shell.persist_file}")
    if os.name == "nt":
        persisted = _windows_persisted()
        where = "the Windows user and system environment"
    else:
        files = _expand([str(home / name) for name in shell.startup_files] + list(_SYSTEM_FILES)
                        + [str(Path(sys.prefix) / name) for name in _ENV_FILES])
        persisted = _assigned_in(files, ALLOWED_VARIABLES)
        where = f"{len(files)} start-up files"
    if persisted is None:
        sink.unknown("env.persisted_variables", f"could not read {where}")
        return
    sink.add("env.persisted_variables", sorted(persisted), detail=f"searched {where}")
    sink.add("env.shell_only_variables", [v for v in PATH_VARIABLES if v in environ and v not in persisted])


def _expand(patterns: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for pattern in patterns:
        if "*" in pattern:
            parent = Path(pattern).parent
            files += sorted(parent.glob(Path(pattern).name)) if parent.is_dir() else []
        elif Path(pattern).is_file():
            files.append(Path(pattern))
    return files


def _assigned_in(files: list[Path], names: Iterable[str]) -> set[str]:
    """Variables assigned in these files: ``export X=``, ``X=``, ``set -gx X``, ``setenv X``, ``"X":`` (conda)."""
    found: set[str] = set()
    patterns = {name: re.compile(
        rf'^\s*(?:export\s+|declare\s+-x\s+|typeset\s+-x\s+)?{name}=|^\s*(?:set|setenv)\b.*\s{name}(?:\s|$)'
        rf'|^SETUVAR\s+(?:--export\s+)?{name}:|"{name}"\s*:', re.MULTILINE) for name in names}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.name == "state":  # conda env config vars: {"env_vars": {...}}
            try:
                text = "\n".join(f'"{key}":' for key in json.loads(text).get("env_vars", {}))
            except (ValueError, AttributeError):
                continue
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        found |= {name for name, pattern in patterns.items() if pattern.search(text)}
    return found


def _windows_persisted() -> set[str] | None:  # pragma: no cover - Windows only
    try:
        import winreg
    except ImportError:
        return None
    found: set[str] = set()
    keys = ((winreg.HKEY_CURRENT_USER, "Environment"),  # type: ignore[attr-defined]
            (winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment"))  # type: ignore[attr-defined]
    for root, sub_key in keys:
        try:
            with winreg.OpenKey(root, sub_key) as key:  # type: ignore[attr-defined]
                index = 0
                while True:
                    try:
                        name = winreg.EnumValue(key, index)[0]  # type: ignore[attr-defined]
                    except OSError:
                        break
                    if name in ALLOWED_VARIABLES:
                        found.add(name)
                    index += 1
        except OSError:
            continue
    return found


# -- the dataset lookup nnU-Net does for -d ---------------------------------------------------------------

_DATASET_ID = re.compile(r"^(?:Dataset)?0*(\d{1,3})(?:_.*)?$")


def dataset_lookup(requested: str, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """Look for ``requested`` (``3``, ``Dataset003`` or ``Dataset003_Liver``) as nnU-Net does; None for a path.

    nnU-Net (utilities/dataset_name_id_conversion.py) lists the sub-folders of nnUNet_preprocessed,
    nnUNet_raw and nnUNet_results (those that are set and exist) whose name starts with ``"Dataset%03d" % id``.
    """
    if os.sep in requested or "/" in requested or Path(requested).is_dir():
        return None
    match = _DATASET_ID.match(requested)
    if match is None:
        return None
    dataset_id = int(match.group(1))
    prefix = "Dataset%03.0d" % dataset_id
    task = re.compile(rf"^Task0*{dataset_id}_")
    names: set[str] = set()
    tasks: set[str] = set()
    searched = []
    for variable in ("nnUNet_preprocessed", "nnUNet_raw", "nnUNet_results"):
        root = environ.get(variable)
        if root is None or not os.path.isdir(root):
            continue
        searched.append(variable)
        children = _child_folders(Path(root)) or []
        names |= {name for name in children if name.startswith(prefix)}
        tasks |= {name for name in children if task.match(name)}
    return {"requested": requested, "id": dataset_id, "names": sorted(names), "searched": searched,
            "tasks": sorted(tasks)}
