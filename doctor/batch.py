"""``diagnose batch``: many logs or bundles in, one JSON line per input out, in one process.

For a support desk's queue (an export of tickets, a folder of attachments): the rule pack is loaded once and
every input is diagnosed with it, offline, as ``diagnose --log FILE --offline --format json`` (or ``--bundle``)
would. Each output line is ``{"input": ..., "seconds": ..., "report": {...}}`` with the versioned JSON report
(docs/report-format.md), or ``{"input": ..., "seconds": ..., "error": ...}`` for an input that cannot be read;
one bad input never stops the batch.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Iterable, Iterator

from msgspec import Struct

from nnunet_doctor.engine.errors import DoctorError
from nnunet_doctor.engine.pack import RulePack

from .intake import request_for_path
from .pipeline import run_diagnosis
from .report import build_report


class BatchTally(Struct):
    diagnosed: int = 0
    failed: int = 0
    seconds: float = 0.0


def expand_inputs(paths: Iterable[Path]) -> Iterator[Path]:
    """Each path as inputs: a file is one; a fold or results folder (it holds training logs) is one; any other
    folder stands for the inputs inside it, in name order."""
    from nnunet_doctor.probes.log.reader import TRAINING_LOG_GLOB

    for path in paths:
        if path.is_dir() and not any(path.glob(TRAINING_LOG_GLOB)):
            yield from expand_inputs(sorted(path.iterdir()))
        else:
            yield path


def diagnose_input(path: Path, pack: RulePack, top: int | None = None) -> dict[str, object]:
    """The output line of one input (its report, or why it could not be read)."""
    started = time.perf_counter()
    line: dict[str, object] = {"input": str(path)}
    try:
        report = build_report(run_diagnosis(request_for_path(path), pack), top)
    except DoctorError as exc:
        line["error"] = str(exc)
    except Exception as exc:  # a bug on one input must not lose the others
        line["error"] = f"internal error (please report it): {exc!r}"
    else:
        line["report"] = report
    line["seconds"] = round(time.perf_counter() - started, 4)
    return line


def run_batch(paths: Iterable[Path], pack: RulePack, out: IO[str], top: int | None = None) -> BatchTally:
    """Diagnose every input with ``pack``; one JSON line each on ``out``, written as soon as it is ready."""
    tally = BatchTally()
    started = time.perf_counter()
    for path in expand_inputs(paths):
        line = diagnose_input(path, pack, top)
        if "error" in line:
            tally.failed += 1
        else:
            tally.diagnosed += 1
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
    tally.seconds = time.perf_counter() - started
    return tally
