"""Exceptions in a log: tracebacks grouped with their frames, chains, worker re-raises, the root and the last.

nnU-Net's own error is often not the real one: a data-loading worker dies with the real exception, and the
main process then raises ``RuntimeError: One or more background workers are no longer alive`` (training),
``Some background worker is 6 feet under`` (planning), ``Background workers died`` or ``Segmentation export
worker died`` (inference). Such wrapper errors, and errors that only point at text printed above them, are
marked ``generic``; the *root* exception is the first one that is not::

    Exception in background worker 0:
     blosc2_schunk_open_offset('case_002.b2nd', 0) returned NULL
    Traceback (most recent call last):
      File ".../batchgenerators/dataloading/nondet_multi_threaded_augmenter.py", line 53, in producer
    RuntimeError: blosc2_schunk_open_offset('case_002.b2nd', 0) returned NULL
    ...
    RuntimeError: One or more background workers are no longer alive. Exiting. Please check the print statements above for the actual error message

gives two exceptions; the first (``worker: true``) is the root, the second (``generic: true``) the last.
Chained exceptions ("During handling of the above exception...", "The above exception was the direct cause
...") keep the kind of link and the line of the exception they follow. A traceback cut off before its
exception line (a truncated paste) is kept with ``complete: false``.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, NamedTuple

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.sources import LOG

from .scanner import Line

MAX_TEXT = 2000
#: exceptions kept in ``log.exceptions`` (the last one is always known); bounds memory on endless logs
MAX_EXCEPTIONS = 2000
_TYPE_ENDINGS = ("Error", "Exception", "Exit", "Interrupt", "Failed")
_OTHER_TYPES = ("BrokenProcessPool", "StopIteration", "Unsupported", "TimeoutExpired")
_EXCEPTION = re.compile(
    r"^(?P<indent>\s*)(?P<type>(?:[A-Za-z_]\w*\.)*(?:[A-Za-z_]\w*(?:%s)|Exception|%s))(?::\s?(?P<message>.*))?$"
    % ("|".join(_TYPE_ENDINGS), "|".join(_OTHER_TYPES)))
_FRAMES = re.compile(
    r'File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>[\w<>.]+))?'
    r"|File (?P<cell><[^>]+>), line (?P<cell_line>\d+)"
    r"|File (?P<ipath>[~/\w.:\\-][^\s,]*\.py):(?P<iline>\d+)(?:, in (?P<ifunction>\w+))?")
_HEADER = "Traceback (most recent call last)"
_CONTEXT = "During handling of the above exception"
_CAUSE = "The above exception was the direct cause"
_WORKER = re.compile(r"Exception in background worker (?P<worker>\d+)|(?P<remote>RemoteTraceback)"
                     r"|Process (?P<process>\d+) terminated with the following error|^Process [\w-]+:$")
#: messages of errors that only say that a worker died, or point at text printed above them
GENERIC_MESSAGES = (
    "One or more background workers are no longer alive",
    "Some background workers are no longer alive",
    "Background workers died",
    "Some background worker is 6 feet under",
    "Segmentation export worker died",
    "Please check text output above",
    "see print statements above",
    "terminated with signal",
    "process in the process pool was terminated abruptly",
    "abort_event was set",  # batchgenerators' MultiThreadedAugmenter (nnU-Net v1)
)
#: exception types that are a consequence of a dead process, never its cause (and a bare EOFError: a closed pipe)
GENERIC_TYPES = ("BrokenPipeError", "ConnectionResetError", "BrokenProcessPool", "ProcessExitedException")


class _Frame(NamedTuple):
    path: str
    line: int
    function: str


class _Traceback(NamedTuple):
    start: int
    frames: list[_Frame]


class ExceptionReader:
    def __init__(self) -> None:
        self.exceptions: list[Record] = []
        self.last: Record | None = None
        self._reset()

    def _reset(self) -> None:
        self._open: _Traceback | None = None
        self._chain = ""
        self._worker = False

    def anchors(self) -> Iterable[tuple[str, bool]]:
        # "Exception in background worker N:" is found by "Exception" (not by "background worker", a phrase of
        # nnU-Net's every prediction: "sending off prediction to background worker for resampling and export")
        words = (*_TYPE_ENDINGS, *_OTHER_TYPES, _HEADER, _CONTEXT, _CAUSE, 'File "', "File <", ".py:",
                 "RemoteTraceback", "terminated with the following error", "Process ")
        return [(word, False) for word in words]

    def on_line(self, line: Line) -> None:
        text = line.text
        if _HEADER in text:
            self._close_incomplete(line)
            self._open = _Traceback(line.number, [])
            return
        frames = [_frame(match) for match in _FRAMES.finditer(text)]
        if frames:
            if self._open is None:
                self._open = _Traceback(line.number, [])
            self._open.frames.extend(frames)
            return
        if _CONTEXT in text or _CAUSE in text:
            self._close_incomplete(line)
            self._chain = "context" if _CONTEXT in text else "cause"
            return
        if _WORKER.search(text):
            self._close_incomplete(line)
            self._worker = True
            return
        match = _EXCEPTION.match(text)
        if match is None or (self._open is None and match.group("indent")):
            return
        self._add(match.group("type"), (match.group("message") or "").strip(), line.number, line.file, line.text)

    def _add(self, type_name: str, message: str, number: int, file: str, text: str, complete: bool = True) -> None:
        traceback = self._open
        frames = traceback.frames if traceback else []
        innermost = frames[-1] if frames else None
        previous = self.last if self._chain else None
        fields: dict[str, Any] = {
            "type": type_name, "message": message[:MAX_TEXT], "line": number, "file": file,
            "text": text.strip()[:MAX_TEXT], "frames": len(frames),
            "last_frame": innermost.path if innermost else None,
            "last_frame_line": innermost.line if innermost else None,
            "last_frame_function": innermost.function if innermost else None,
            "frame_files": [frame.path for frame in frames],
            "traceback_line": traceback.start if traceback else None,
            "generic": is_generic(type_name, message), "worker": self._worker, "complete": complete,
            "chain": self._chain or None, "chained_from": previous.fields["line"] if previous else None,
        }
        first = traceback.start if traceback else number
        self.last = Record(fields, Provenance(LOG, file, (first, number), "exception"))
        if len(self.exceptions) < MAX_EXCEPTIONS:
            self.exceptions.append(self.last)
        self._reset()

    def _close_incomplete(self, line: Line) -> None:
        """A traceback whose exception line never came (the paste was cut) is kept as incomplete."""
        self._end_open(line.number - 1, line.file)

    def end_input(self, name: str, lines: int) -> None:
        self._end_open(lines, name)
        self._reset()

    def _end_open(self, number: int, file: str) -> None:
        if self._open is not None and self._open.frames:
            last = self._open.frames[-1]
            self._add("", "", number, file, f'File "{last.path}", line {last.line}', complete=False)

    def root(self) -> Record | None:
        """The first complete exception that is not generic (else the first complete one, else the first)."""
        for wanted in (lambda e: e.fields["complete"] and not e.fields["generic"], lambda e: e.fields["complete"],
                       lambda e: True):
            found = next((record for record in self.exceptions if wanted(record)), None)
            if found is not None:
                return found
        return None


def is_generic(type_name: str, message: str) -> bool:
    """Does this exception only say that a worker died, or point at text above it?

    >>> is_generic("RuntimeError", "Background workers died. Look for the error message further up!")
    True
    >>> is_generic("RuntimeError", "Could not find a dataset with the ID 4.")
    False
    >>> is_generic("EOFError", ""), is_generic("EOFError", "Ran out of input")  # a dead pipe; a truncated file
    (True, False)
    """
    short = type_name.rsplit(".", 1)[-1]
    return (short in GENERIC_TYPES or (short == "EOFError" and not message)
            or any(text in message for text in GENERIC_MESSAGES))


def _frame(match: re.Match[str]) -> _Frame:
    path = match.group("path") or match.group("cell") or match.group("ipath")
    number = match.group("line") or match.group("cell_line") or match.group("iline")
    function = match.group("function") or match.group("ifunction") or ""
    return _Frame(path, int(number), function)
