"""What the tool produces: the report formats, and writing them (reports, bundles, docs) never onto an input,
never half-written.

>>> output_format(None, Path("report.md")), output_format("txt", None)
('markdown', 'terminal')

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> log = folder / "train.log"; _ = log.write_text("Epoch 1")
>>> write_output("report", log, inputs=[str(log)])
Traceback (most recent call last):
...
nnunet_doctor.engine.errors.InputError: ...train.log: is one of the inputs; refusing to overwrite it (choose another -o)
>>> write_output("report", folder / "report.txt", inputs=[str(log)]); (folder / "report.txt").read_text()
'report'
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable

from nnunet_doctor.engine.errors import InputError

#: the formats a report is laid out in (one template each: reports_templates/<format>.j2)
FORMATS = ("terminal", "markdown", "html", "json")
#: what --format also accepts, and the format an output file's extension picks
FORMAT_ALIASES = {"md": "markdown", "txt": "terminal", "text": "terminal", "htm": "html"}
EXTENSION_FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".json": "json",
                     ".txt": "terminal"}


def output_format(fmt: str | None, output: Path | None) -> str:
    """--format if given (an alias resolved), else the output file's extension, else the terminal."""
    if fmt is not None:
        return FORMAT_ALIASES.get(fmt, fmt)
    if output is not None:
        return EXTENSION_FORMATS.get(output.suffix.lower(), "terminal")
    return "terminal"


def _same_file(output: Path, given: str) -> bool:
    if given in ("", "-"):
        return False
    candidate = Path(given)
    try:
        if candidate.is_dir():  # a fold folder: any file inside it is an input too
            return output.resolve().is_relative_to(candidate.resolve())
        return output.exists() and os.path.samefile(output, candidate)
    except OSError:
        return False


def write_output(text: str | bytes, output: Path, inputs: Iterable[str] = (), what: str = "report") -> None:
    """Write ``text`` to ``output`` atomically (a temporary file beside it, then a rename): a reader never sees a
    half-written file, and an interrupted write leaves the old file as it was. Refuses any path that is one of
    ``inputs`` (or lies in an input folder).

    An output that is not a regular file is written into, never replaced: a character device such as
    ``/dev/null`` or a terminal, or a named pipe that a process reads (``-o >(gzip > r.gz)``). A symbolic link is
    followed (the file it names gets the text; the link stays). A folder, a block device or a socket is refused.
    """
    for given in inputs:
        if _same_file(output, given):
            raise InputError(f"{output}: is one of the inputs; refusing to overwrite it (choose another -o)")
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        status = os.stat(output)
    except OSError:
        status = None
    if status is not None and not stat.S_ISREG(status.st_mode):
        _write_into(data, output, status.st_mode, what)
        return
    if output.is_symlink():
        output = Path(os.path.realpath(output))
    folder = output.parent if str(output.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"{output}: cannot write {what}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        if status is not None:
            os.chmod(temporary, status.st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, output)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"{output}: cannot write {what}: {exc.strerror or exc}") from None


def _write_into(data: bytes, output: Path, mode: int, what: str) -> None:
    """Write into an output that is not a regular file (a character device, a named pipe), leaving it in place."""
    if stat.S_ISDIR(mode):
        raise InputError(f"{output}: is a folder; give a file name for the {what}")
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        raise InputError(f"{output}: a block device or socket; refusing to write the {what} there")
    try:
        # a pipe nobody reads would block for ever: open it without waiting, then write with waiting
        descriptor = os.open(output, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        reason = "a named pipe that no process reads" if exc.errno == errno.ENXIO else exc.strerror or exc
        raise InputError(f"{output}: cannot write {what}: {reason}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.set_blocking(descriptor, True)
            handle.write(data)
    except OSError as exc:
        raise InputError(f"{output}: cannot write {what}: {exc.strerror or exc}") from None
