"""The log probe: signatures, exceptions and nnU-Net's own log lines, as facts with their line numbers.

Input: the console output a user pasted, or nnU-Net's ``training_log_*.txt``::

    Traceback (most recent call last):
      File ".../nnunetv2/run/run_training.py", line 53, in get_trainer_from_args
    RuntimeError: nnUNet_preprocessed is not defined. nnU-Net cannot be used for preprocessing or training.

gives ``log.exceptions`` (one record per exception, with its line), ``log.root_exception``,
``log.last_exception`` and one ``match.<signature>`` collection per signature of the rule pack.
"""
from __future__ import annotations

import re
from typing import ClassVar

from nnunet_doctor.engine.facts import Provenance, Record

from ..base import FactSink, ProbeContext
from .reader import normalise_lines, read_text

_EXCEPTION = re.compile(
    r"^\s*(?P<type>(?:[A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*(?:Error|Exception|Exit|Interrupt|Failed))"
    r"(?::\s?(?P<message>.*))?$")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')


class LogProbe:
    name: ClassVar[str] = "log"
    needs: ClassVar[str] = "log"
    description: ClassVar[str] = "reads pasted console output and nnU-Net training logs"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        names: list[str] = []
        total = 0
        matches: dict[str, list[Record]] = {signature.fact_name: [] for signature in context.signatures}
        exceptions: list[Record] = []
        for source in context.logs:
            text = read_text(source)
            numbered = list(normalise_lines(text))
            names.append(source.name)
            total += len(numbered)
            lines = [line for _, line in numbered]
            for name, records in context.signatures.scan(lines, 1, source.name).items():
                matches[name].extend(records)
            exceptions += _exceptions(lines, source.name)
        sink.add("log.files", names)
        sink.add("log.line_count", total)
        for name, records in matches.items():
            sink.add(name, records)
        sink.add("log.exceptions", exceptions)
        if exceptions:
            for fact, record in (("log.root_exception", exceptions[0]), ("log.last_exception", exceptions[-1])):
                fields = {key: record.fields[key] for key in ("type", "message", "line", "file", "text")}
                sink.add(fact, fields, record.provenance)


def _exceptions(lines: list[str], file: str) -> list[Record]:
    found: list[Record] = []
    frames = 0
    last_frame = ""
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            frames, last_frame = 0, ""
            continue
        frame = _FRAME.match(line)
        if frame:
            frames += 1
            last_frame = frame.group("file")
            continue
        match = _EXCEPTION.match(line)
        if match and not line.startswith((" ", "\t")) or (match and frames):
            number = index + 1
            found.append(Record({
                "type": match.group("type"), "message": (match.group("message") or "").strip(), "line": number,
                "file": file, "frames": frames, "last_frame": last_frame, "text": line.strip()[:2000],
            }, Provenance("log", file, (number, number), "exception")))
            frames, last_frame = 0, ""
    return found
