"""The inputs named on the command line, refused when they are not what they claim to be (exit 2, one line).

Before anything runs: a ``--results`` or ``--dataset`` path that does not exist or is not an nnU-Net model or
dataset folder, and ``--bundle`` together with ``--dataset``/``--results`` (those would check the support
machine's folders and mix them with the user's facts). After the logs were read: a log with no line of text
(empty), or only binary data, is said to be so instead of "no known problem found".

>>> check_folders(dataset=None, results=Path("/nonexistent/results"), bundle=None)
Traceback (most recent call last):
...
nnunet_doctor.engine.errors.InputError: /nonexistent/results: no such folder (--results)
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from nnunet_doctor.engine.errors import InputError
from nnunet_doctor.engine.sources import LOG

from .pipeline import DiagnosisResult

_DATASET_MARKERS = ("dataset.json", "imagesTr", "labelsTr", "dataset_fingerprint.json")


def _is_path(value: str) -> bool:
    return "/" in value or os.sep in value or value.startswith(".") or Path(value).is_dir()


def check_folders(dataset: str | None, results: Path | None, bundle: Path | None) -> None:
    if bundle is not None and (dataset or results):
        given = " and ".join(option for option, value in (("--dataset", dataset), ("--results", results)) if value)
        raise InputError(f"--bundle replays the user's machine; {given} would look at this machine's folders instead. "
                         f"Ask the user to run `diagnose collect {given} ...` and send that bundle")
    if results is not None:
        from nnunet_doctor.probes.dataset.results import model_folders

        if not results.exists():
            raise InputError(f"{results}: no such folder (--results)")
        if not results.is_dir():
            raise InputError(f"{results}: not a folder (--results wants a trained-model folder)")
        if not model_folders(results):
            raise InputError(f"{results}: not an nnU-Net model folder (--results wants nnUNet_results/DatasetXXX_Name, "
                             "a <Trainer>__<Plans>__<Configuration> folder or one of its fold_X folders)")
    if dataset is not None and _is_path(dataset):
        path = Path(dataset)
        if not path.exists():
            raise InputError(f"{dataset}: no such folder (--dataset takes an id such as 3, a name such as "
                             "Dataset003_Liver, or the path of a dataset folder)")
        if not path.is_dir():
            raise InputError(f"{dataset}: not a folder (--dataset wants a dataset folder)")
        if not any((path / marker).exists() for marker in _DATASET_MARKERS) and not path.name.startswith("Dataset"):
            raise InputError(f"{dataset}: not an nnU-Net dataset folder (no dataset.json, imagesTr or labelsTr in it)")


def check_logs_read(result: DiagnosisResult) -> None:
    """A log that gave nothing to read is an input error, not a clean bill of health."""
    facts = result.diagnosis.facts
    if not (result.request.logs or result.request.log_texts) or result.request.bundle is not None:
        return
    lines = facts.get("log.line_count")
    files = facts.get("log.files")
    names = ", ".join(files.value) if files is not None and files.known and files.value else "the log"
    if lines is not None and lines.known and lines.value == 0:
        raise InputError(f"{names}: the log is empty (no line of text was read)")
    binary = sum(_binary_lines(f.message) for f in result.diagnosis.findings if f.source == LOG)
    if binary and lines is not None and lines.known and binary >= lines.value:
        raise InputError(f"{names}: binary data (NUL bytes), not a text log; paste the console output or give "
                         "the fold's training_log_*.txt")


_BINARY_RUN = re.compile(r":(\d+)(?:-(\d+))?: binary data \(NUL bytes\)")


def _binary_lines(message: str) -> int:
    """How many lines a log probe's note calls binary ("<name>:12-40: binary data (NUL bytes), ...")."""
    match = _BINARY_RUN.search(message)
    if match is None:
        return 0
    low = int(match.group(1))
    return int(match.group(2) or low) - low + 1
