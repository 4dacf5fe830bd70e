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

import os
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
    ``inputs`` (or lies in an input folder)."""
    for given in inputs:
        if _same_file(output, given):
            raise InputError(f"{output}: is one of the inputs; refusing to overwrite it (choose another -o)")
    data = text.encode("utf-8") if isinstance(text, str) else text
    folder = output.parent if str(output.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"{output}: cannot write {what}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        if output.exists():
            os.chmod(temporary, output.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, output)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"{output}: cannot write {what}: {exc.strerror or exc}") from None
