"""The log probe: every log named with ``--log``, read once, turned into facts that keep their line numbers.

Input: the console output a user pasted, nnU-Net's ``training_log_*.txt``, a results ``fold_X`` folder::

    Traceback (most recent call last):
      File "/home/u/venv/lib/python3.11/site-packages/nnunetv2/run/run_training.py", line 53, in get_trainer_from_args
    RuntimeError: nnUNet_preprocessed is not defined. nnU-Net cannot be used for preprocessing or training.

Each input is scanned once (:mod:`.scanner`) by all readers at the same time: the rule pack's signatures
(``match.<id>``, :mod:`.matches`), exceptions (``log.exceptions``, ``log.root_exception``,
``log.last_exception``, :mod:`.exceptions`), the training log (``training.*``, :mod:`.training`), commands and
stages (``log.commands``, ``log.stages``, :mod:`.run`), import/attribute/call errors explained against the
API index of every release (``api.drift``, :mod:`.api_drift`) and what the log shows of the machine (versions,
install paths, OS, scheduler, GPUs, CUDA memory; :mod:`.machine`). Only torch-free standard-library code
runs here.
"""
from __future__ import annotations

import re
from typing import ClassVar

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.sources import LOG

from ..base import FactSink, ProbeContext
from .api_drift import ApiErrorReader
from .catalog import CatalogReader
from .cli import USAGE_LINES, CliReader
from .exceptions import ExceptionReader
from .layout import LayoutReader
from .machine import MachineReader
from .matches import SignatureReader
from .reader import debug_files, open_inputs
from .run import RunReader
from .scanner import Line, Scanner, Sighting
from .shell import ShellReader
from .step import step_of
from .training import TrainingReader, read_debug_json

#: lines a reader may look at after a candidate (the dict after "Configuration name:", an OOM message's tail)
READER_CONTEXT_LINES = 2
_V1_NAMES = re.compile(r"\bTask\d{3}_\w+|nnUNetTrainerV2\w*|\bnnUNet_raw_data_base\b|\bRESULTS_FOLDER\b")
_V2_NAMES = re.compile(r"\bDataset\d{3}_\w+|\bnnUNetv2_\w+|\bnnunetv2\b")


class _NameReader:
    """nnU-Net v1 and v2 names (Task004_/Dataset004_ folders, trainer and variable names) in any line."""

    def __init__(self) -> None:
        self.seen: dict[str, Sighting] = {}

    def anchors(self) -> list[tuple[str, bool]]:
        return [(word, False) for word in ("Task", "nnUNetTrainerV2", "nnUNet_raw_data_base", "RESULTS_FOLDER",
                                           "Dataset", "nnUNetv2", "nnunetv2")]

    def on_line(self, line: Line) -> None:
        for generation, pattern in (("v1", _V1_NAMES), ("v2", _V2_NAMES)):
            if generation not in self.seen and pattern.search(line.text):
                self.seen[generation] = Sighting(generation, line.number, line.file)

    def end_input(self, name: str, lines: int) -> None:
        pass


class LogProbe:
    name: ClassVar[str] = "log"
    needs: ClassVar[str] = "log"
    description: ClassVar[str] = "reads pasted console output and nnU-Net training logs"
    #: the scanner's fast lanes and retired anchors (off: every candidate line read line by line, for tests)
    shortcuts: ClassVar[bool] = True

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        signatures = SignatureReader(context.signatures)
        exceptions, training, run, machine, names = (ExceptionReader(), TrainingReader(), RunReader(),
                                                     MachineReader(), _NameReader())
        cli, shell, layout, api = CliReader(), ShellReader(), LayoutReader(), ApiErrorReader()
        catalog = CatalogReader(context.signatures)
        scanner = Scanner([signatures, exceptions, training, run, machine, names, cli, shell, layout, api, catalog],
                          context_lines=max(context.signatures.max_window, READER_CONTEXT_LINES, USAGE_LINES),
                          shortcuts=self.shortcuts)
        files: list[str] = []
        total = 0
        for source in context.logs:
            for log in open_inputs(source):
                if log.path is not None:
                    training.note_path(log.path.resolve())
                files.append(log.name)
                total += scanner.scan(log)
            for path in debug_files(source):
                debug = read_debug_json(path)
                if debug is not None:
                    training.read_debug(debug, path)
                    machine.read_debug(debug, path)
        sink.detail = f"{len(files)} input(s), {total} lines, scanning engine {scanner.engine}"
        for note in scanner.notes:
            sink.note(note.message, note.severity)
        sink.add("log.files", files)
        sink.add("log.line_count", total)
        sink.add("log.scan_engine", scanner.engine)
        catalog.facts(sink, signatures.matches, machine.versions, machine.pythons, list(machine.packages.values()))
        for name, records in signatures.matches.items():
            sink.add(name, records)
        sink.add("log.exceptions", exceptions.exceptions)
        root, last = exceptions.root(), exceptions.last
        if root is not None and last is not None:
            sink.add("log.root_exception", dict(root.fields), root.provenance)
            sink.add("log.last_exception", dict(last.fields), last.provenance)
        training.facts(sink, [(e.fields["file"], e.fields["line"]) for e in exceptions.exceptions])
        run.facts(sink)
        generations = _generations(machine, run, names)
        sink.add("log.generations", sorted({g.value for g in generations}))
        machine.facts(sink, generations[0] if generations else None)
        _command_line_facts(sink, cli, shell, layout, machine, run, exceptions)
        api.facts(sink, exceptions.exceptions)


def _command_line_facts(sink: FactSink, cli: CliReader, shell: ShellReader, layout: LayoutReader,
                        machine: MachineReader, run: RunReader, exceptions: ExceptionReader) -> None:
    """cli.errors, shell.not_found, layout.paths and log.step (probes/vocabulary/cli.yaml)."""
    versions = {name: sighting.value for name, sighting in machine.versions.items()}
    for name, records, detail in (("cli.errors", cli.records(versions, [dict(c.fields) for c in run.commands]),
                                    "argparse error"), ("shell.not_found", shell.records, "shell message"),
                                   ("layout.paths", layout.records, "path explained by the layout model")):
        sink.add(name, [Record(r, Provenance(LOG, r["file"], (r["line"], r["line"]), detail)) for r in records])
    step = step_of([dict(e.fields) for e in exceptions.exceptions], [dict(c.fields) for c in run.commands], run.stages)
    if step is not None:
        name, told, file, line = step
        sink.add("log.step", name, file=file, lines=(line, line), detail=f"from the {told}")


def _generations(machine: MachineReader, run: RunReader, names: _NameReader) -> list[Sighting]:
    """nnU-Net generations seen, the most telling first: code in tracebacks, then commands, then names."""
    found = machine.code_generations()
    for record in run.commands:
        value = record.fields["generation"]
        if value not in {g.value for g in found}:
            found.append(Sighting(value, record.fields["line"], record.fields["file"]))
    for value, evidence in names.seen.items():
        if value not in {g.value for g in found}:
            found.append(evidence)
    return found
