"""Missing or misplaced paths in a log, explained by the layout model (:mod:`nnunet_doctor.rules.layout`).

Input: nnU-Net's and Python's messages about a path that is not there::

    FileNotFoundError: [Errno 2] No such file or directory: '/data/nnUNet_results/Dataset001_Tiny/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_1/checkpoint_final.pth'

Each path becomes a record of ``layout.paths``: the artifact it names, the step that writes it and the command
that runs that step, and a problem: the path itself is wrong (``joined_twice``, ``wrong_level``, ``relative``), the
folder is one the user's release does not create (``parent_missing``), or else the step did not run (``not_run``;
rules tell ``not_finished`` from the stages the log reached).

>>> reader = LayoutReader()
>>> from .scanner import Line
>>> reader.on_line(Line(4, "FileNotFoundError: [Errno 2] No such file or directory: './nnUNet_raw/Dataset009_Spleen/labelsTr/./nnUNet_raw/Dataset009_Spleen/labelsTr/s_1.nii.gz'", "a.log", frozenset()))
>>> reader.records[0]["problem"], reader.records[0]["folder_given"]
('joined_twice', './nnUNet_raw')
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from nnunet_doctor.rules.layout import fold_of, match_path, path_problem

from .scanner import Line

MAX_RECORDS = 50
_PATH = re.compile(r"""No such file or directory:? ['"]?(?P<a>[^'"\n]+)|['"](?P<b>[^'"\n]*[/\\][^'"\n]+)['"]""")


class LayoutReader:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._seen: set[str] = set()

    def anchors(self) -> Iterable[tuple[str, bool]]:
        return [("No such file or directory", False), ("FileNotFoundError", False), ("does not exist", False)]

    def on_line(self, line: Line) -> None:
        if len(self.records) >= MAX_RECORDS or line.text.lstrip().startswith("File \""):
            return
        for found in _PATH.finditer(line.text):
            path = (found.group("a") or found.group("b") or "").strip()
            if not path or path in self._seen:
                continue
            artifact, problem = match_path(path), path_problem(path)
            if artifact is None and problem is None:
                continue
            self._seen.add(path)
            fields: dict[str, Any] = {"path": path[:500], "line": line.number, "file": line.file,
                                      "text": line.text[:500], "fold": fold_of(path)}
            if artifact is not None:
                fields.update(artifact=artifact.name, root=artifact.root, step=artifact.step, command=artifact.command)
            if problem is not None:
                fields["problem"], fields["folder_given"] = problem
            elif artifact is not None and artifact.parent_created_since:
                fields["problem"] = "parent_missing"
                fields["since"] = artifact.parent_created_since
            else:
                fields["problem"] = "not_run"
            self.records.append(fields)

    def end_input(self, name: str, lines: int) -> None:
        pass
