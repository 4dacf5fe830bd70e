"""Reading pasted logs into clean, numbered lines.

Any encoding (invalid UTF-8 is replaced), CRLF line ends, ANSI colour codes and carriage-return progress
bars (tqdm redraws one line many times: the last state is kept) are normalised; line numbers are those of
the input, so evidence can be quoted.

>>> list(normalise_lines("a\\r\\nb 10%\\rb 100%\\n\\x1b[31mRuntimeError: x\\x1b[0m\\n"))
[(1, 'a'), (2, 'b 100%'), (3, 'RuntimeError: x')]
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from nnunet_doctor.engine.errors import InputError

from ..base import LogSource

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def clean_line(raw: str) -> str:
    if "\x1b" in raw:
        raw = _ANSI.sub("", raw)
    if "\r" in raw:
        segments = [segment for segment in raw.split("\r") if segment.strip()]
        raw = segments[-1] if segments else ""
    return raw.rstrip()


def normalise_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if number > 1 or raw:
            yield number, clean_line(raw)


def read_text(source: LogSource) -> str:
    if source.text is not None:
        return source.text
    assert source.path is not None
    try:
        data = source.path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{source.name}: is a folder, not a log file") from None
    except OSError as exc:
        raise InputError(f"{source.name}: cannot read log: {exc.strerror or exc}") from None
    return data.decode("utf-8", errors="replace")


def source_for(path: str) -> LogSource:
    return LogSource(path, Path(path))
