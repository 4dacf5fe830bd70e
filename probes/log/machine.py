"""The machine as a log shows it: versions, install locations, operating system, scheduler, GPUs, CUDA memory.

A pasted log says a lot about a machine nobody can look at. Traceback paths name the Python version and
where each package is installed::

    File "/home/u/.local/lib/python3.10/site-packages/torch/nn/modules/module.py", line 1501, in _call_impl
    File "/home/u/anaconda3/envs/nnunet/lib/python3.10/site-packages/nnunetv2-2.1.1-py3.10.egg/nnunetv2/run/run_training.py"

(a user-site ``torch`` next to a conda environment's nnU-Net: a shadowing install; nnunetv2 2.1.1; Python
3.10; Linux). pip (``pip show``, ``pip list``, ``pip freeze``) and ``torch.utils.collect_env`` output give versions, ``C:\\`` paths and ``WinError`` give
Windows, ``slurmstepd``/``TERM_MEMLIMIT`` a scheduler, GPU names and CUDA capabilities appear in torch's
warnings, and PyTorch's out-of-memory message gives the memory figures (old and new wording):

>>> parse_cuda_oom("CUDA out of memory. Tried to allocate 1.17 GiB (GPU 0; 11.91 GiB total capacity; "
...                "10.92 GiB already allocated; 18.88 MiB free; 11.04 GiB reserved in total by PyTorch)")["total_mib"]
12195.84
>>> parse_cuda_oom("Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 23.65 GiB of which 3.06 MiB is free. "
...                "Process 2517 has 15.20 GiB memory in use. Including non-PyTorch memory, this process has "
...                "8.40 GiB memory in use.")["other_processes_mib"]
15564.8
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.patterns import regex
from nnunet_doctor.engine.sources import LOG

from ..base import FactSink
from .scanner import Line, Sighting

#: distinct packages or GPUs kept; bounds memory on endless logs
MAX_RECORDS = 500
_UNITS = {"B": 1 / 2 ** 20, "KIB": 1 / 1024, "KB": 1 / 1024, "MIB": 1.0, "MB": 1.0, "GIB": 1024.0, "GB": 1024.0,
          "TIB": 2.0 ** 20, "TB": 2.0 ** 20}
#: a size; it starts where a number starts (the look-behind keeps a long run of digits from being retried at
#: every position: linear time on hostile lines)
_SIZE = r"(?<![\d.])(\d+(?:\.\d+)?) ?([KMGT]i?B|B)\b"
_OOM_FIELDS = (
    ("tried_mib", rf"Tried to allocate {_SIZE}"),
    ("total_mib", rf"{_SIZE} total capacity|total capacity of {_SIZE}"),
    ("free_mib", rf"{_SIZE} free\b|of which {_SIZE} is free"),
    ("allocated_mib", rf"{_SIZE} already allocated|memory {_SIZE} is allocated by PyTorch"),
    ("reserved_mib", rf"{_SIZE} reserved in total by PyTorch|{_SIZE} is reserved by PyTorch but unallocated"),
    ("process_mib", rf"this process has {_SIZE} memory in use"),
)
_OTHER_PROCESS = rf"Process (\d+) has {_SIZE} memory in use"
_GPU_INDEX = r"\(GPU (\d+);|GPU (\d+) has a total capacity"

#: paths start after a delimiter (the leftmost match would anyway): linear time on a long line without one
_PACKAGE = (r"(?<![^\s\"'(<>])(?P<root>(?:[A-Za-z]:)?[^\s\"'(<>]*?[/\\](?:site|dist)-packages)[/\\]"
            r"(?P<entry>[A-Za-z_][\w.+-]*)")
_EGG = r"^(?P<name>[A-Za-z_]\w*)-(?P<version>\d+(?:\.\d+)+\w*)(?:-py\d\.\d+)?(?:\.egg|\.dist-info)?$"
_SOURCE = (r"(?<![^\s\"'(<>])(?P<root>(?:[A-Za-z]:)?[^\s\"'(<>]*?)[/\\](?P<package>nnunetv2|nnunet)[/\\]"
           r"(?:training|inference|preprocessing|experiment_planning|network_architecture|run|utilities"
           r"|dataset_conversion|evaluation|postprocessing|imageio|ensembling|model_sharing|paths\.py)\b")
_PYTHON_IN_PATH = r"[/\\][Ll]ib[/\\]python(\d\.\d+)[/\\]|[/\\]Python(\d)(\d+)[/\\]"
_PYTHON_PRINTED = r"\bPython(?: version:)? (\d\.\d+(?:\.\d+)?)\b"
_VERSIONS = (r"\b(?P<name>nnunetv2|nnunet|torch|PyTorch)(?:==|-|\s+\(|\s+|\s+version:\s+)"
             r"(?P<version>\d+\.\d+(?:\.\d+)?(?:[.+]\w+)*)")
#: ``pip show nnunetv2`` prints the name and, on the next line, the version
_PIP_SHOW = r"^Name: (?P<name>nnunetv2|nnunet|torch)\s*$"
_PIP_SHOW_VERSION = r"^Version: (?P<version>\d+(?:\.\d+)+\S*)"
_SCHEDULERS = (("slurmstepd", "slurm"), ("srun:", "slurm"), ("SLURM_", "slurm"), ("sbatch", "slurm"),
               ("TERM_MEMLIMIT", "lsf"), ("LSF", "lsf"), ("bsub", "lsf"), ("=>> PBS", "pbs"), ("PBS:", "pbs"),
               ("qsub", "pbs"))
_CONTAINERS = (("docker", "docker"), ("Docker", "docker"), ("--ipc=host", "docker"), ("--shm-size", "docker"),
               ("singularity", "singularity"), ("Singularity", "singularity"), ("apptainer", "apptainer"),
               ("Apptainer", "apptainer"), ("kubectl", "kubernetes"))
_WINDOWS = r"(?:^|[\s\"'(=])[A-Za-z]:\\|\[WinError \d+\]|\\Scripts\\|\\AppData\\"
_MACOS = r"/Users/[^/\s]+/|/opt/homebrew/|\bdarwin\b|/Library/Frameworks/Python"
_LINUX = r"(?:^|[\s\"'(])/(?:home|usr|opt|root|mnt|data|scratch|lustre|gpfs|work|media)/"
#: bounded repetitions: a line of nothing but "NVIDIA NVIDIA ..." stays linear (real names are far shorter)
_GPU_NAME = (r"\b(?P<name>(?:NVIDIA|Tesla|Quadro|GeForce|TITAN)\b[\w -]{0,60}?[\w-]{1,30}?)"
             r"(?=\s{2,}|\s+(?:with|which|is|has|On|Off|GPU)\b|[,.(|:)]|$)")
_CAPABILITY = r"(?:CUDA|cuda|compute) capability (?:sm_(\d+)(\d)\b|(\d+\.\d+))"
#: the anchors without one of which a line holds no version (``_VERSIONS``), no GPU name and no capability
_VERSION_WORDS = frozenset({"nnunet", "torch", "PyTorch"})
_GPU_WORDS = frozenset({"NVIDIA", "Tesla", "Quadro", "GeForce", "TITAN", "capability"})
_USER_SITE = r"[/\\]\.local[/\\]lib[/\\]python|[/\\]AppData[/\\]Roaming[/\\]Python[/\\]"
_ENVIRONMENT = (r"[/\\](?:envs[/\\][^/\\]+|anaconda\d?|miniconda\d?|miniforge\d?|mambaforge|\.?venv[^/\\]*"
                r"|\.?virtualenvs[/\\][^/\\]+|conda)[/\\]")


def parse_size_mib(number: str, unit: str) -> float:
    return round(float(number) * _UNITS[unit.upper()], 2)


def parse_cuda_oom(text: str) -> dict[str, Any]:
    """The figures of PyTorch's CUDA out-of-memory message, in MiB (absent figures are left out)."""
    fields: dict[str, Any] = {}
    for name, pattern in _OOM_FIELDS:
        match = regex(pattern).search(text)
        if match:
            number, unit = [g for g in match.groups() if g is not None][:2]
            fields[name] = parse_size_mib(number, unit)
    others = [(int(pid), parse_size_mib(number, unit)) for pid, number, unit in regex(_OTHER_PROCESS).findall(text)]
    if others:
        this = fields.get("process_mib")
        total = sum(size for _, size in others)
        if this is not None:  # nvml lists this process too
            total -= min((size for _, size in others if abs(size - this) < 1), default=0.0)
        fields["other_processes_mib"] = round(total, 2)
    gpu = regex(_GPU_INDEX).search(text)
    if gpu:
        fields["gpu"] = int(next(g for g in gpu.groups() if g is not None))
    return fields


class MachineReader:
    def __init__(self) -> None:
        self.packages: dict[tuple[str, str], Record] = {}
        self.versions: dict[str, Sighting] = {}
        self.pythons: dict[str, Sighting] = {}
        self.systems: dict[str, Sighting] = {}
        self.schedulers: dict[str, Sighting] = {}
        self.containers: dict[str, Sighting] = {}
        self.gpus: list[Record] = []
        self.cuda_oom: Record | None = None

    def anchors(self) -> Iterable[tuple[str, bool]]:
        words = ("site-packages", "dist-packages", 'File "', "nnunetv2", "nnunet", "torch", "PyTorch", "Python",
                 "Tried to allocate", "out of memory", "capability", "NVIDIA", "Tesla", "Quadro", "GeForce", "TITAN",
                 "WinError", ":\\", "/Users/", "Name: ", *(marker for marker, _ in _SCHEDULERS + _CONTAINERS))
        return [(word, False) for word in words]

    def on_line(self, line: Line) -> None:
        text, hits = line.text, line.hits
        self._paths(line)
        if not hits.isdisjoint(_VERSION_WORDS):  # each pattern below needs one of its anchors in the line
            for match in regex(_VERSIONS).finditer(text):
                name = "torch" if match.group("name") == "PyTorch" else match.group("name").lower()
                self.versions.setdefault(name, Sighting(match.group("version"), line.number, line.file))
        shown = regex(_PIP_SHOW).match(text) if "Name: " in hits else None
        if shown:
            version = next((regex(_PIP_SHOW_VERSION).match(following) for following in line.following(1)), None)
            if version:
                self.versions.setdefault(shown.group("name"), Sighting(version.group("version"), line.number + 1, line.file))
        printed = regex(_PYTHON_PRINTED).search(text) if "Python" in hits else None
        if printed:
            self.pythons.setdefault(printed.group(1), Sighting(printed.group(1), line.number, line.file))
        for pattern, system in ((_WINDOWS, "windows"), (_MACOS, "macos"), (_LINUX, "linux")):
            if system not in self.systems and regex(pattern).search(text):
                self.systems[system] = Sighting(system, line.number, line.file)
        for table, found in ((_SCHEDULERS, self.schedulers), (_CONTAINERS, self.containers)):
            for marker, name in table:
                if marker in line.hits:
                    found.setdefault(name, Sighting(name, line.number, line.file))
        if "Tried to allocate" in line.hits and self.cuda_oom is None:
            following = line.following(2)
            fields = parse_cuda_oom(" ".join([text, *following]))
            fields.update({"line": line.number, "file": line.file, "text": text[:2000]})
            self.cuda_oom = Record(fields, Provenance(LOG, line.file, (line.number, line.number + len(following)),
                                                      "CUDA out-of-memory message"))
        if not hits.isdisjoint(_GPU_WORDS):
            self._gpus(line)

    def read_debug(self, debug: dict[str, str], path: Path) -> None:
        """The torch version the trainer recorded in ``debug.json``."""
        if debug.get("torch_version"):
            self.versions.setdefault("torch", Sighting(debug["torch_version"], 0, str(path)))

    def _paths(self, line: Line) -> None:
        text = line.text
        for match in regex(_PACKAGE).finditer(text):
            root, entry = match.group("root"), match.group("entry")
            egg = regex(_EGG).match(entry)
            if egg:
                inner = re.search(re.escape(entry) + r"[/\\](\w+)[/\\]", text)
                name, version = (inner.group(1) if inner else egg.group("name")), egg.group("version")
            else:
                name, version = entry.split(".")[0], None
            self._package(name, root, _kind(root), version, line)
        if "site-packages" not in text and "dist-packages" not in text:
            for match in regex(_SOURCE).finditer(text):
                self._package(match.group("package"), match.group("root"), "source", None, line)
        python = regex(_PYTHON_IN_PATH).search(text)
        if python:
            version = python.group(1) or f"{python.group(2)}.{python.group(3)}"
            self.pythons.setdefault(version, Sighting(version, line.number, line.file))

    def _package(self, name: str, root: str, kind: str, version: str | None, line: Line) -> None:
        key = (name, root)
        if key in self.packages or len(self.packages) >= MAX_RECORDS:
            return
        python = regex(_PYTHON_IN_PATH).search(root + "/")
        fields = {"name": name, "root": root, "kind": kind, "version": version,
                  "python": (python.group(1) or f"{python.group(2)}.{python.group(3)}") if python else None,
                  "line": line.number, "file": line.file}
        self.packages[key] = Record(fields, Provenance(LOG, line.file, (line.number, line.number), "install path"))
        if version and name in ("nnunetv2", "nnunet", "torch"):
            self.versions.setdefault(name, Sighting(version, line.number, line.file))

    def _gpus(self, line: Line) -> None:
        names = [m.group("name").strip() for m in regex(_GPU_NAME).finditer(line.text)]
        capability = regex(_CAPABILITY).search(line.text)
        value = None
        if capability:
            value = f"{capability.group(1)}.{capability.group(2)}" if capability.group(1) else capability.group(3)
        for name in names or ([None] if value else []):
            if len(self.gpus) >= MAX_RECORDS or any(g.fields["name"] == name and g.fields["capability"] == value for g in self.gpus):
                continue
            self.gpus.append(Record({"name": name, "capability": value, "line": line.number, "file": line.file},
                                    Provenance(LOG, line.file, (line.number, line.number), "GPU")))

    def end_input(self, name: str, lines: int) -> None:
        pass

    def facts(self, sink: FactSink, generation: Sighting | None) -> None:
        packages = list(self.packages.values())
        if packages:
            sink.add("log.packages", packages)
            kinds = {record.fields["kind"] for record in packages}
            roots: dict[str, set[str]] = {record.fields["name"]: set() for record in packages}
            for record in packages:
                roots[record.fields["name"]].add(record.fields["root"])
            shadowing = ("user" in kinds and bool(kinds & {"environment", "system"})) or any(
                len(found) > 1 for name, found in roots.items() if name in ("nnunetv2", "nnunet", "torch", "numpy"))
            sink.add("log.shadowing_install", shadowing)
        for name, fact in (("nnunetv2", "nnunet.version"), ("torch", "torch.version")):
            evidence = self.versions.get(name) or (self.versions.get("nnunet") if name == "nnunetv2" else None)
            if evidence:
                lines = (evidence.line, evidence.line) if evidence.line else None
                sink.add(fact, evidence.value.split("+", 1)[0], file=evidence.file, lines=lines)
                if name == "torch" and "+" in evidence.value:
                    sink.add("log.torch_build", evidence.value.split("+", 1)[1], file=evidence.file, lines=lines)
        if self.pythons:
            best = max(self.pythons.values(), key=lambda e: len(e.value))
            sink.add("python.version", best.value, file=best.file, lines=(best.line, best.line))
        if generation is not None:
            sink.add("nnunet.generation", generation.value, file=generation.file,
                     lines=(generation.line, generation.line) if generation.line else None)
        system = self.systems.get("windows") or self.systems.get("macos") or self.systems.get("linux")
        for fact, evidence in (("log.os", system), ("log.scheduler", next(iter(self.schedulers.values()), None)),
                               ("log.container", next(iter(self.containers.values()), None))):
            if evidence is not None:
                sink.add(fact, evidence.value, file=evidence.file, lines=(evidence.line, evidence.line))
        if self.gpus:
            sink.add("log.gpus", self.gpus)
        if self.cuda_oom is not None:
            sink.add("log.cuda_oom", self.cuda_oom.fields, self.cuda_oom.provenance)

    def code_generations(self) -> list[Sighting]:
        """nnU-Net generations whose code appears in the tracebacks (v1: package ``nnunet``, v2: ``nnunetv2``)."""
        found: dict[str, Sighting] = {}
        for record in self.packages.values():
            name = record.fields["name"]
            if name in ("nnunet", "nnunetv2"):
                value = "v2" if name == "nnunetv2" else "v1"
                found.setdefault(value, Sighting(value, record.fields["line"], record.fields["file"]))
        return list(found.values())


def _kind(root: str) -> str:
    if regex(_USER_SITE).search(root):
        return "user"
    if regex(_ENVIRONMENT).search(root):
        return "environment"
    return "system"
