"""The images a prediction log says were predicted: the ``-i`` folder of each ``nnUNetv2_predict`` command the log
probe found (``log.commands``), listed as cases the way nnU-Net lists them (``CASE_XXXX<file_ending>``).

Only folders that exist on this machine are read (a pasted log from elsewhere names folders that are not here);
a relative ``-i`` is looked up from the current folder, where a user runs the doctor after nnU-Net.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> for name in ("la_003_0000.nii.gz", "la_003_0001.nii.gz", "la_007_0000.nii.gz", "notes.txt"):
...     _ = (folder / name).write_bytes(b"")
>>> [(case.id, case.images) for case in input_cases(folder, ".nii.gz")]
[('la_003', ['la_003_0000.nii.gz', 'la_003_0001.nii.gz']), ('la_007', ['la_007_0000.nii.gz'])]
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

from .layout import CaseFiles

_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")
_MAX_CASES = 500  # an input folder is profiled like imagesTs; a huge one only in part


def predicted_folders(established: Iterable[Any]) -> list[Path]:
    """The existing ``-i`` folders of the prediction commands among the facts established so far."""
    folders: list[Path] = []
    for fact in established:
        if getattr(fact, "name", None) != "log.commands" or not isinstance(fact.value, list):
            continue
        for record in fact.value:
            fields = getattr(record, "fields", {})
            if str(fields.get("program", "")).startswith("nnUNetv2_predict") and fields.get("input"):
                folder = Path(os.path.expanduser(str(fields["input"])))
                if folder.is_dir() and folder.resolve() not in [f.resolve() for f in folders]:
                    folders.append(folder)
    return folders


def input_cases(folder: Path, file_ending: str) -> list[CaseFiles]:
    """Cases of an input folder: files ending in ``file_ending`` grouped by the name before ``_XXXX``."""
    cases: dict[str, list[str]] = {}
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if entry.is_file() and entry.name.endswith(file_ending))
    except OSError:
        return []
    for name in names:
        match = _CHANNEL.match(name[: -len(file_ending)])
        if match:
            cases.setdefault(match["case"], []).append(name)
    return [CaseFiles(case, images) for case, images in list(cases.items())[:_MAX_CASES]]
