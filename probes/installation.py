"""The installation probe: how nnU-Net and its libraries are installed in the interpreter that runs diagnose.

Everything is read from package metadata and files (``importlib.metadata``, ``RECORD``, shebang lines):
nothing is imported, so the probe takes milliseconds even with torch installed, and cannot crash on a
broken CUDA set-up.

Sample: in a virtual environment with nnunetv2 2.8.1 and torch 2.9.0 it establishes ``nnunet.version =
"2.8.1"``, ``nnunet.generation = "v2"``, ``torch.version = "2.9.0"`` and an ``install.packages`` record
``{name: torch, installed: true, version: 2.9.0, requirement: "!=2.9.*,>=2.1.2", satisfied: false}``
(nnunetv2 2.8.1 declares ``torch!=2.9.*,>=2.1.2`` in its metadata).
"""
from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import site
import sys
from pathlib import Path
from typing import Any, ClassVar, Iterable
from urllib.parse import unquote, urlparse

from nnunet_doctor.engine.versions import VersionError, VersionRange

from .base import FactSink, ProbeContext

#: looked up whether or not nnunetv2 requires them (nnunet is nnU-Net v1, wandb is optional; torchvision for the
#: report's versions block: timm imports it during nnU-Net's trainer lookup)
PACKAGES = ("nnunetv2", "torch", "numpy", "SimpleITK", "nibabel", "blosc2", "acvl-utils", "batchgenerators",
            "batchgeneratorsv2", "dynamic-network-architectures", "timm", "triton", "nnunet", "wandb", "torchvision")
CONSOLE_SCRIPTS = ("nnUNetv2_train", "nnUNetv2_plan_and_preprocess", "nnUNetv2_predict")
_TRAINER_FOLDER = ("training", "nnUNetTrainer")
_MAX_TRAINER_FILES = 500
_REQUIREMENT = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?(?P<spec>[^;()]*)\)?\s*"
                          r"(?:;\s*(?P<marker>.*))?$")
_CLASS = re.compile(r"^class\s+(\w+)\s*[(:]", re.MULTILINE)
_EXEC_SHEBANG = re.compile(r"^'''exec' (?:'(?P<quoted>[^']+)'|(?P<bare>\S+))")


def canonical(name: str) -> str:
    """PEP 503 name: ``acvl_utils`` and ``acvl-utils`` are the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


class InstallationProbe:
    name: ClassVar[str] = "installation"
    needs: ClassVar[str] = "machine"
    description: ClassVar[str] = "reads package versions and nnU-Net's installation from metadata, without importing"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        sink.add("python.version", platform.python_version())
        sink.add("python.executable", sys.executable)
        sink.add("python.in_venv", sys.prefix != sys.base_prefix or (Path(sys.prefix) / "conda-meta").is_dir())
        packages = package_records()
        sink.add("install.packages", packages, detail="importlib.metadata")
        by_name = {record["name"]: record for record in packages}
        for generation, package in (("v2", "nnunetv2"), ("v1", "nnunet")):
            if by_name[package]["installed"]:
                sink.add("nnunet.version", by_name[package]["version"], detail=f"{package} metadata")
                sink.add("nnunet.generation", generation, detail=f"{package} is installed")
                break
        if by_name["torch"]["installed"]:
            sink.add("torch.version", by_name["torch"]["version"], detail="torch metadata")
        sink.add("install.nnunet_installs", nnunet_installs())
        sink.add("install.console_scripts", console_scripts(context.environ.get("PATH", os.defpath)))
        trainers, reason = custom_trainers(context.environ.get("nnUNet_extTrainer"))
        sink.add("install.custom_trainers", trainers)
        if reason:
            sink.note(f"custom trainers inside nnunetv2 not checked: {reason}")


# -- versions against nnunetv2's requirements ------------------------------------------------------------

def _distribution(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _requirements(dist: metadata.Distribution | None) -> dict[str, str]:
    """canonical name -> version specifier, for nnunetv2's requirements that apply here (no extras)."""
    out: dict[str, str] = {}
    for line in (dist.requires or []) if dist else []:
        match = _REQUIREMENT.match(line)
        if match is None:
            continue
        marker = (match.group("marker") or "").strip()
        if marker and ("extra" in marker or not _marker_applies(marker)):
            continue
        out[canonical(match.group("name"))] = match.group("spec").replace(" ", "")
    return out


def _marker_applies(marker: str) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # without packaging, a conditional requirement is left out rather than guessed
        return False
    return bool(Marker(marker).evaluate())


def package_records() -> list[dict[str, Any]]:
    nnunet = _distribution("nnunetv2")
    required = _requirements(nnunet)
    names = list(PACKAGES) + sorted(set(required) - {canonical(p) for p in PACKAGES})
    records = []
    for name in names:
        dist = _distribution(name)
        record: dict[str, Any] = {"name": name, "installed": dist is not None}
        requirement = required.get(canonical(name))
        if requirement is not None:
            record["requirement"] = requirement
        if dist is not None:
            record["version"] = dist.version
            record["location"] = str(dist.locate_file(""))
            if requirement is not None:
                try:
                    record["satisfied"] = VersionRange(requirement).contains(dist.version) if requirement else True
                except VersionError:
                    pass  # an unusual specifier or version: leave it unknown
        elif requirement is not None:
            record["satisfied"] = False
        records.append(record)
    return records


# -- nnunetv2 installations visible to this interpreter ---------------------------------------------------

def _search_folders() -> list[tuple[Path, str]]:
    folders = [(Path(entry or os.getcwd()), "sys.path") for entry in sys.path]
    user_site = site.getusersitepackages()
    if user_site:
        folders.append((Path(user_site), "user site"))
    folders.append((Path.cwd(), "current folder"))
    return folders


def _editable_target(dist_info: Path) -> Path | None:
    try:
        data = json.loads((dist_info / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not data.get("dir_info", {}).get("editable"):
        return None
    url = urlparse(data.get("url", ""))
    return Path(unquote(url.path)) / "nnunetv2" if url.scheme == "file" else None


def _version_of(dist_info: Path) -> str:
    try:
        for line in (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


def nnunet_installs() -> list[dict[str, Any]]:
    spec = importlib.util.find_spec("nnunetv2")
    imported = _key(Path(spec.origin).parent) if spec and spec.origin else (
        _key(Path(next(iter(spec.submodule_search_locations)))) if spec and spec.submodule_search_locations else None)
    records: dict[str, dict[str, Any]] = {}
    for folder, origin in _search_folders():
        if not folder.is_dir():
            continue
        for dist_info in sorted(folder.glob("nnunetv2-*.dist-info")) + sorted(folder.glob("nnunetv2-*.egg-info")):
            target = _editable_target(dist_info)
            package = target if target is not None else folder / "nnunetv2"
            key = _key(package) if package.exists() else _key(dist_info)
            records.setdefault(key, {"location": str(package.parent if package.exists() else folder),
                                     "version": _version_of(dist_info),
                                     "kind": "editable" if target is not None else "distribution", "origin": origin,
                                     "imported": key == imported})
        package = folder / "nnunetv2"
        if (package / "__init__.py").is_file():
            key = _key(package)
            records.setdefault(key, {"location": str(folder), "version": "", "kind": "source folder",
                                     "origin": origin, "imported": key == imported})
    return list(records.values())


# -- console scripts on PATH -----------------------------------------------------------------------------

def shebang_interpreter(script: Path) -> str | None:
    """The interpreter a console script runs: its ``#!`` line, or pip's ``'''exec'`` line under ``#!/bin/sh``."""
    try:
        with script.open("rb") as handle:
            head = handle.read(1024).decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if not head or not head[0].startswith("#!"):
        return None
    command = head[0][2:].strip()
    if command in ("/bin/sh", "/bin/bash") and len(head) > 1:
        match = _EXEC_SHEBANG.match(head[1])
        return (match.group("quoted") or match.group("bare")) if match else None
    if command.startswith("/usr/bin/env "):
        found = shutil.which(command.split()[-1])
        return found
    return command.split()[0] if command else None


def _environment_root(interpreter: str) -> str:
    path = Path(os.path.abspath(interpreter))
    return os.path.normcase(str(path.parent.parent if path.parent.name in ("bin", "Scripts") else path.parent))


def console_scripts(search_path: str) -> list[dict[str, Any]]:
    here = os.path.normcase(os.path.abspath(sys.prefix))
    records = []
    for name in CONSOLE_SCRIPTS:
        found = shutil.which(name, path=search_path)
        if found is None:
            continue
        record: dict[str, Any] = {"name": name, "path": found}
        interpreter = shebang_interpreter(Path(found))
        if interpreter is not None:
            record["interpreter"] = interpreter
            record["same_interpreter"] = _environment_root(interpreter) == here
        records.append(record)
    return records


# -- custom trainers -------------------------------------------------------------------------------------

def _trainer_record(file: Path, where: str) -> list[dict[str, Any]]:
    try:
        source = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    try:
        compile(source, str(file), "exec", dont_inherit=True)
        syntax_ok = True
    except (SyntaxError, ValueError):
        syntax_ok = False
    names = _CLASS.findall(source) or [file.stem]
    return [{"class_name": name, "file": str(file), "where": where, "syntax_ok": syntax_ok} for name in names]


def _python_files(folder: Path) -> Iterable[Path]:
    for index, file in enumerate(sorted(folder.rglob("*.py"))):
        if index >= _MAX_TRAINER_FILES:
            return
        yield file


def custom_trainers(ext_trainer: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """(records, None), or ([], why it cannot be told) when the package's own file list is not available."""
    records: list[dict[str, Any]] = []
    for part in (ext_trainer or "").split(os.pathsep):
        if part.strip() and Path(part).is_dir():
            for file in _python_files(Path(part)):
                records += _trainer_record(file, "nnUNet_extTrainer")
    dist = _distribution("nnunetv2")
    spec = importlib.util.find_spec("nnunetv2")
    if dist is None or spec is None or not spec.submodule_search_locations:
        return records, None
    package = Path(next(iter(spec.submodule_search_locations)))
    installed = {_key(Path(str(dist.locate_file(file)))) for file in dist.files or [] if str(file).endswith(".py")}
    folder = package.joinpath(*_TRAINER_FOLDER)
    if not any(key.startswith(_key(folder)) for key in installed):
        return records, ("nnunetv2 is installed from a source folder (editable): its own file list does not say "
                         "which trainer files the user added")
    for file in _python_files(folder):
        if _key(file) not in installed:
            records += _trainer_record(file, "package")
    return records, None
