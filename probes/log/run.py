"""What was run: the nnU-Net command lines in a log, the stages nnU-Net reached, and which nnU-Net it was.

A pasted log often starts with the command (``$ nnUNetv2_train 3 3d_fullres 0 -tr nnUNetTrainer_250epochs``);
tracebacks name the console script (``File "/home/u/venv/bin/nnUNetv2_plan_and_preprocess", line 8``).
Each command becomes a record of ``log.commands`` with the values a rule may need (dataset, configuration,
fold, trainer, plans, device). nnU-Net's progress lines tell the stages reached (``Fingerprint extraction...``,
``Experiment planning...``, ``Epoch 0``, ``Predicting case_001:``...).

>>> parse_command("nnUNetv2_train 3 3d_fullres 0 -tr nnUNetTrainer_250epochs -device cpu --npz")["trainer"]
'nnUNetTrainer_250epochs'
>>> parse_command("nnUNet_train 3d_fullres nnUNetTrainerV2 Task004_Hippocampus 1")["dataset"]
'Task004_Hippocampus'
"""
from __future__ import annotations

import re
import shlex
from typing import Any, Iterable

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.patterns import regex
from nnunet_doctor.engine.sources import LOG

from ..base import FactSink
from .scanner import Line, Sighting

V2_PROGRAMS = (
    "nnUNetv2_plan_and_preprocess", "nnUNetv2_extract_fingerprint", "nnUNetv2_plan_experiment", "nnUNetv2_preprocess",
    "nnUNetv2_train", "nnUNetv2_predict_from_modelfolder", "nnUNetv2_predict", "nnUNetv2_ensemble",
    "nnUNetv2_determine_postprocessing", "nnUNetv2_apply_postprocessing", "nnUNetv2_find_best_configuration",
    "nnUNetv2_accumulate_crossval_results", "nnUNetv2_evaluate_folder", "nnUNetv2_evaluate_simple",
    "nnUNetv2_export_model_to_zip", "nnUNetv2_install_pretrained_model_from_zip",
    "nnUNetv2_download_pretrained_model_by_url", "nnUNetv2_convert_MSD_dataset", "nnUNetv2_convert_old_nnUNet_dataset",
    "nnUNetv2_move_plans_between_datasets", "nnUNetv2_plot_overlay_pngs")
V1_PROGRAMS = (
    "nnUNet_plan_and_preprocess", "nnUNet_train", "nnUNet_train_DP", "nnUNet_train_DDP", "nnUNet_predict",
    "nnUNet_ensemble", "nnUNet_find_best_configuration", "nnUNet_determine_postprocessing",
    "nnUNet_convert_decathlon_task", "nnUNet_download_pretrained_model", "nnUNet_print_available_pretrained_models",
    "nnUNet_export_model_to_zip", "nnUNet_install_pretrained_model_from_zip", "nnUNet_change_trainer_class",
    "nnUNet_evaluate_folder", "nnUNet_print_pretrained_model_info")
_PROGRAM = (r"(?:^|[\s$#>/\\])(?P<program>%s)(?:\.exe)?(?=\s|$|\"|\')" % "|".join(
    sorted(V2_PROGRAMS + V1_PROGRAMS, key=len, reverse=True)))
#: positional arguments of the commands whose values rules use
_POSITIONAL = {
    "nnUNetv2_train": ("dataset", "configuration", "fold"),
    "nnUNet_train": ("configuration", "trainer", "dataset", "fold"),
    "nnUNet_train_DP": ("configuration", "trainer", "dataset", "fold"),
    "nnUNet_train_DDP": ("configuration", "trainer", "dataset", "fold"),
    "nnUNetv2_find_best_configuration": ("dataset",),
}
_OPTIONS = {"-d": "dataset", "-t": "dataset", "-c": "configuration", "-m": "configuration", "-f": "fold",
            "-tr": "trainer", "-p": "plans", "-pl": "planner", "-device": "device", "-i": "input", "-o": "output",
            "-chk": "checkpoint"}
#: distinct command lines kept; bounds memory on endless logs
MAX_COMMANDS = 200
_DATASET_NAME = r"\bDataset(\d{3})_[\w.-]+"
_STAGES = (
    ("Fingerprint extraction...", "fingerprint"), ("verify_dataset_integrity Done", "verification"),
    ("Experiment planning...", "planning"), ("Preprocessing dataset", "preprocessing"),
    ("Desired fold for training", "training"), ("Epoch 0", "training"), ("epoch:  0", "training"),
    ("Training done.", "validation"), ("Validation complete", "validation"),
    ("cases in the source folder", "inference"), ("Predicting ", "inference"),
    ("Segmentation export complete", "inference"), ("***All results:***", "find_best_configuration"),
)


def parse_command(text: str) -> dict[str, Any] | None:
    """The nnU-Net command in one line (after a shell prompt, or a console script path), as fields."""
    match = regex(_PROGRAM).search(text)
    if match is None:
        return None
    program = match.group("program")
    rest = text[match.end():].strip()
    try:
        words = shlex.split(rest, posix=True)
    except ValueError:
        words = rest.split()
    fields: dict[str, Any] = {"program": program, "generation": "v2" if program.startswith("nnUNetv2") else "v1",
                              "args": rest[:500]}
    positional: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in _OPTIONS and index + 1 < len(words):
            key = _OPTIONS[word]
            values = []
            while index + 1 < len(words) and not words[index + 1].startswith("-"):
                values.append(words[index + 1])
                index += 1
            fields.setdefault(key, " ".join(values))
        elif not word.startswith("-"):
            positional.append(word)
        index += 1
    for name, value in zip(_POSITIONAL.get(program, ()), positional):
        fields.setdefault(name, value)
    return fields


class RunReader:
    def __init__(self) -> None:
        self.commands: list[Record] = []
        self.stages: list[tuple[str, int, str]] = []
        self.dataset_name: Sighting | None = None  # the first DatasetXXX_Name in the log

    def anchors(self) -> Iterable[tuple[str, bool]]:
        return [("nnUNet", False), ("Dataset", False)] + [(marker, False) for marker, _ in _STAGES]

    def on_line(self, line: Line) -> None:
        if "nnUNet" in line.hits:
            self._command(line)
        if "Dataset" in line.hits and self.dataset_name is None:
            found = regex(_DATASET_NAME).search(line.text)
            if found:
                self.dataset_name = Sighting(found.group(0), line.number, line.file)
        for marker, stage in _STAGES:
            if marker in line.hits and marker in line.text and stage not in (s for s, _, _ in self.stages):
                self.stages.append((stage, line.number, line.file))

    def _command(self, line: Line) -> None:
        text = line.text
        frame = re.search(r'File "[^"]*[/\\](?:bin|Scripts)[/\\](nnUNet\w+)(?:\.exe)?[^"]*", line \d+', text)
        if frame:
            text = frame.group(1)
        elif not re.match(r"^\s*(?:\(\S+\)\s*)?(?:(?:PS\s+)?[^\s$#>]*[$#>]\s*)?(?:\S*[/\\])?nnUNet", text):
            return  # the name inside a sentence or a path, not a command that was run
        fields = parse_command(text)
        if fields is None:
            return
        # a console script named in a traceback frame is the run already seen, not another run; two prompt lines
        # with the same command are two runs (e.g. a prediction repeated to compare results)
        if len(self.commands) >= MAX_COMMANDS or frame and any(c.fields["program"] == fields["program"] for c in self.commands):
            return
        fields.update({"line": line.number, "file": line.file, "text": line.text.strip()[:500]})
        self.commands.append(Record(fields, Provenance(LOG, line.file, (line.number, line.number), "command")))

    def spent(self) -> list[str]:
        """The markers of stages already seen, the command word once the commands are full, "Dataset" once seen."""
        seen = {stage for stage, _, _ in self.stages}
        done = [marker for marker, stage in _STAGES if stage in seen]
        if len(self.commands) >= MAX_COMMANDS:
            done.append("nnUNet")
        if self.dataset_name is not None:
            done.append("Dataset")
        return done

    def end_input(self, name: str, lines: int) -> None:
        pass

    def _dataset_id(self) -> Sighting | None:
        """The dataset the run worked on: given on the command line, else the first DatasetXXX_Name printed."""
        for record in self.commands:
            given = str(record.fields.get("dataset") or "").split(" ")[0]
            named = regex(_DATASET_NAME).match(given)
            number = given if given.isdigit() and len(given) <= 9 else (given[7:10] if named else "")
            if number:
                return Sighting(int(number), record.fields["line"], record.fields["file"])
        if self.dataset_name is not None:
            return self.dataset_name._replace(value=int(self.dataset_name.value[7:10]))
        return None

    def facts(self, sink: FactSink) -> None:
        sink.add("log.commands", self.commands)
        dataset = self._dataset_id()
        if dataset is not None:
            sink.add("log.dataset_id", dataset.value, file=dataset.file, lines=(dataset.line, dataset.line))
        sink.add("log.stages", [stage for stage, _, _ in self.stages])
        if self.stages:
            stage, number, file = self.stages[-1]
            sink.add("log.last_stage", stage, file=file, lines=(number, number))
