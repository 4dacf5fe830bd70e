"""Reading the small files a probe looks at (dataset.json, plans, splits, a case cache): regular files only, of
bounded size and nesting, so that a named pipe, a device or a 10 GB file named ``plans.json`` neither hangs a
probe nor fills memory. Errors are ``ValueError`` (what the callers already catch for malformed JSON).

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "plans.json").write_text('{"configurations": {}}')
>>> load_json(folder / "plans.json")
{'configurations': {}}
>>> _ = (folder / "deep.json").write_text("[" * 100000 + "]" * 100000)
>>> load_json(folder / "deep.json")
Traceback (most recent call last):
...
nnunet_doctor.probes.files.UnreadableFile: JSON nested too deeply
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

#: the largest JSON file a probe reads (nnU-Net's plans and dataset.json are kilobytes; splits of thousands of
#: cases a few megabytes)
MAX_JSON_BYTES = 64 << 20


class UnreadableFile(ValueError):
    """A small file that is not a regular file, too large, or nested too deeply."""


def read_small_text(path: Path, limit: int = MAX_JSON_BYTES) -> str:
    """The text of a regular file of at most ``limit`` bytes (UTF-8; UnicodeDecodeError otherwise)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise UnreadableFile("not a regular file (a named pipe, a device or a socket)")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnreadableFile(f"larger than {limit >> 20} MiB")
    return data.decode("utf-8")


def load_json(path: Path, limit: int = MAX_JSON_BYTES) -> Any:
    """The JSON document in ``path`` (see :func:`read_small_text`); UnreadableFile when it nests too deeply."""
    text = read_small_text(path, limit)
    try:
        return json.loads(text)
    except RecursionError:
        raise UnreadableFile("JSON nested too deeply") from None
